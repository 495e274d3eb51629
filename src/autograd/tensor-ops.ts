// The op table's tensor algebra: matmul, elementwise add/mul/scale, sum, reshape, transpose, slice and softmax.
import { ShapeError } from '../util/errors.ts';
import { matmulForward, matmulBackward } from '../kernels/matmul.ts';
import {
  addForward,
  addBackward,
  mulForward,
  mulBackward,
  scaleForward,
  scaleBackward,
} from '../kernels/elementwise.ts';
import { sumForward, sumBackward } from '../kernels/sum.ts';
import { softmaxForward, softmaxBackward } from '../kernels/softmax.ts';
import { transposeForward, transposeBackward } from '../kernels/transpose.ts';
import { sliceForward, sliceBackward } from '../kernels/slice.ts';
import { Tensor, numel, shapeString } from './tensor.ts';
import { empty, gradOf, last, expectShape, expectF32 } from './op-checks.ts';
import type { OpAttrs, OpDef } from './ops.ts';

type Name = 'matmul' | 'add' | 'mul' | 'scale' | 'sum' | 'reshape' | 'transpose' | 'slice' | 'softmax';

export const TENSOR_OPS: { [K in Name]: OpDef<K> } = {
  matmul: {
    forward: ([a, b, bias], attrs) => {
      expectF32('matmul', a);
      if (b.dtype === 'i32')
        throw new ShapeError(`matmul: ${b.label} dtype, expected f32, f16 or bf16, got i32`);
      const { dims, outShape } = matmulDims(a, b, attrs);
      if (bias) expectShape('matmul', 'bias', bias.shape, [dims.N]);
      const out = empty(a, outShape, 'matmul');
      matmulForward(a.gpu, out.buffer, a.buffer, b.buffer, bias?.buffer ?? null, dims);
      return { out };
    },
    backward: (g, { inputs: [a, b, bias], attrs }, needs) => {
      const { dims } = matmulDims(a, b, attrs);
      const [da, db, dbias] = [
        needs[0] ? gradOf(a) : null,
        needs[1] ? gradOf(b) : null,
        bias && needs[2] ? gradOf(bias) : null,
      ];
      matmulBackward(
        a.gpu,
        da?.buffer ?? null,
        db?.buffer ?? null,
        dbias?.buffer ?? null,
        g.buffer,
        a.buffer,
        b.buffer,
        dims,
      );
      return [da, db, dbias];
    },
  },
  add: {
    forward: ([a, b]) => {
      const out = empty(a, a.shape, 'add');
      addForward(a.gpu, out.buffer, a.buffer, b.buffer, broadcastDims('add', a, b));
      return { out };
    },
    backward: (g, { inputs: [a, b] }, needs) => {
      const [da, db] = [needs[0] ? gradOf(a) : null, needs[1] ? gradOf(b) : null];
      addBackward(a.gpu, da?.buffer ?? null, db?.buffer ?? null, g.buffer, { n: a.size, bn: b.size });
      return [da, db];
    },
  },
  mul: {
    forward: ([a, b]) => {
      const out = empty(a, a.shape, 'mul');
      mulForward(a.gpu, out.buffer, a.buffer, b.buffer, broadcastDims('mul', a, b));
      return { out };
    },
    backward: (g, { inputs: [a, b] }, needs) => {
      const [da, db] = [needs[0] ? gradOf(a) : null, needs[1] ? gradOf(b) : null];
      mulBackward(a.gpu, da?.buffer ?? null, db?.buffer ?? null, g.buffer, a.buffer, b.buffer, {
        n: a.size,
        bn: b.size,
      });
      return [da, db];
    },
  },
  scale: {
    forward: ([a], { alpha }) => {
      expectF32('scale', a);
      const out = empty(a, a.shape, 'scale');
      scaleForward(a.gpu, out.buffer, a.buffer, { n: a.size, alpha });
      return { out };
    },
    backward: (g, { inputs: [a], attrs: { alpha } }) => {
      const da = gradOf(a);
      scaleBackward(a.gpu, da.buffer, g.buffer, { n: a.size, alpha });
      return [da];
    },
  },
  sum: {
    forward: ([x], { axis, mean }) => {
      expectF32('sum', x);
      const { dims, outShape } = sumDims(x, axis, mean);
      const out = empty(x, outShape, mean ? 'mean' : 'sum');
      sumForward(x.gpu, out.buffer, x.buffer, dims);
      return { out };
    },
    backward: (g, { inputs: [x], attrs: { axis, mean } }) => {
      const dx = gradOf(x);
      sumBackward(x.gpu, dx.buffer, g.buffer, sumDims(x, axis, mean).dims);
      return [dx];
    },
  },
  reshape: {
    forward: ([x], { shape }) => {
      if (numel(shape) !== x.size) {
        throw new ShapeError(
          `reshape: element count, expected ${x.size} (from ${shapeString(x.shape)}), got ${numel(shape)} for ${shapeString(shape)}`,
        );
      }
      return { out: new Tensor(x.gpu, x.buffer, shape, x.dtype, false, x.label, x.base ?? x) };
    },
    backward: (g, { inputs: [x] }) => [
      new Tensor(g.gpu, g.buffer, x.shape, 'f32', false, g.label, g.base ?? g),
    ],
  },
  transpose: {
    forward: ([x]) => {
      if (x.shape.length !== 4)
        throw new ShapeError(`transpose: rank, expected 4-D (d0, d1, d2, d3), got ${shapeString(x.shape)}`);
      const [d0, d1, d2, d3] = x.shape;
      const out = Tensor.empty(x.gpu, [d0, d2, d1, d3], `${x.label}.T12`, x.dtype);
      transposeForward(x.gpu, out.buffer, x.buffer, { d0, d1, d2, d3 });
      return { out };
    },
    backward: (g, { inputs: [x] }) => {
      const [d0, d1, d2, d3] = x.shape;
      const dx = gradOf(x);
      transposeBackward(x.gpu, dx.buffer, g.buffer, { d0, d1, d2, d3 });
      return [dx];
    },
  },
  slice: {
    forward: ([x], { start, width }) => {
      const cols = last(x);
      if (start < 0 || width < 1 || start + width > cols) {
        throw new ShapeError(
          `slice: columns, expected [start, start+width) within [0, ${cols}), got [${start}, ${start + width})`,
        );
      }
      const out = Tensor.empty(
        x.gpu,
        [...x.shape.slice(0, -1), width],
        `${x.label}[${start}:${start + width}]`,
        x.dtype,
      );
      sliceForward(x.gpu, out.buffer, x.buffer, { rows: x.size / cols, cols, start, width });
      return { out };
    },
    backward: (g, { inputs: [x], attrs: { start, width } }) => {
      const cols = last(x);
      const dx = gradOf(x);
      x.gpu.clear(dx.buffer, dx.size * 4);
      sliceBackward(x.gpu, dx.buffer, g.buffer, { rows: x.size / cols, cols, start, width });
      return [dx];
    },
  },
  softmax: {
    forward: ([x], { scale, causal }) => {
      expectF32('softmax', x);
      const cols = last(x);
      if (causal && (x.shape.length < 2 || x.shape[x.shape.length - 2] !== cols)) {
        throw new ShapeError(`softmax: causal scores, expected (..., T, T), got ${shapeString(x.shape)}`);
      }
      const out = empty(x, x.shape, 'softmax');
      softmaxForward(x.gpu, out.buffer, x.buffer, { rows: x.size / cols, cols, scale, causal });
      return { out, saved: [out] };
    },
    backward: (g, { inputs: [x], attrs: { scale, causal }, saved: [out] }) => {
      const cols = last(x);
      const dx = gradOf(x);
      softmaxBackward(x.gpu, dx.buffer, g.buffer, out.buffer, { rows: x.size / cols, cols, scale, causal });
      return [dx];
    },
  },
};

/** matmul dims from a (..., M, K) or (..., K, M) and b (K, N) shared, or (..., K, N) batched. */
function matmulDims(a: Tensor, b: Tensor, { transA, transB }: OpAttrs['matmul']) {
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new ShapeError(
      `matmul: operands, expected at least 2-D, got ${shapeString(a.shape)} and ${shapeString(b.shape)}`,
    );
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [Kb, N] = transB ? [bc, br] : [br, bc];
  const batchShape = a.shape.slice(0, -2);
  const batch = numel(batchShape);
  const bShared = b.shape.length === 2;
  if (K !== Kb || (!bShared && numel(b.shape.slice(0, -2)) !== batch)) {
    throw new ShapeError(
      `matmul: inner dimensions, expected a ${shapeString(a.shape)}${transA ? 'ᵀ' : ''} to match b ${shapeString(b.shape)}${transB ? 'ᵀ' : ''}, got K=${K} vs ${Kb}`,
    );
  }
  const dtypeB = b.dtype === 'i32' ? 'f32' : b.dtype; // 16-bit: a frozen weight (ops refuse i32 before this)
  const dims = {
    batch,
    M,
    N,
    K,
    transA,
    transB,
    batchStrideA: M * K,
    batchStrideB: bShared ? 0 : K * N,
    dtypeB,
  };
  return { dims, outShape: [...batchShape, M, N] };
}

function broadcastDims(op: string, a: Tensor, b: Tensor) {
  expectF32(op, a, b);
  const n = a.size;
  const bn = b.size;
  const trailing = a.shape.slice(a.shape.length - b.shape.length);
  if (bn !== n && (b.shape.length > a.shape.length || trailing.some((d, i) => d !== b.shape[i]))) {
    throw new ShapeError(
      `${op}: b broadcast, expected the same shape as a or a trailing part of ${shapeString(a.shape)}, got ${shapeString(b.shape)}`,
    );
  }
  return { n, bn };
}

function sumDims(x: Tensor, axis: number | null, mean: boolean) {
  if (axis === null)
    return { dims: { outer: 1, axis: x.size, inner: 1, scale: mean ? 1 / x.size : 1 }, outShape: [] };
  const rank = x.shape.length;
  const a = axis < 0 ? rank + axis : axis;
  if (a < 0 || a >= rank) throw new ShapeError(`sum: axis, expected in [-${rank}, ${rank}), got ${axis}`);
  const dims = {
    outer: numel(x.shape.slice(0, a)),
    axis: x.shape[a],
    inner: numel(x.shape.slice(a + 1)),
    scale: mean ? 1 / x.shape[a] : 1,
  };
  return { dims, outShape: [...x.shape.slice(0, a), ...x.shape.slice(a + 1)] };
}
