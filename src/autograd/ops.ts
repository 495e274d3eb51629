// The table of differentiable ops: forward allocates its output in the current scope and dispatches the kernel;
// backward returns one gradient per input (null where not needed). Typed so a missing backward does not compile.
import { ShapeError } from '../util/errors.ts';
import { matmulForward, matmulBackward } from '../kernels/matmul.ts';
import { addForward, addBackward, mulForward, mulBackward, scaleForward, scaleBackward } from '../kernels/elementwise.ts';
import { sumForward, sumBackward } from '../kernels/sum.ts';
import { softmaxForward, softmaxBackward } from '../kernels/softmax.ts';
import { layernormForward, layernormBackward } from '../kernels/layernorm.ts';
import { geluForward, geluBackward } from '../kernels/gelu.ts';
import { embeddingForward, embeddingBackward } from '../kernels/embedding.ts';
import { crossEntropyForward, crossEntropyBackward } from '../kernels/cross-entropy.ts';
import { lmHeadLossForward, lmHeadLossBackward } from '../kernels/lm-head-loss.ts';
import { dropoutForward, dropoutBackward } from '../kernels/dropout.ts';
import { transposeForward, transposeBackward } from '../kernels/transpose.ts';
import { sliceForward, sliceBackward } from '../kernels/slice.ts';
import { rmsnormForward, rmsnormBackward } from '../kernels/rmsnorm.ts';
import { ropeForward, ropeBackward } from '../kernels/rope.ts';
import type { Llama3RopeScaling } from '../ops/rope-frequencies.ts';
import { swigluForward, swigluBackward } from '../kernels/swiglu.ts';
import { causalAttentionForward } from '../kernels/causal-attention.ts';
import { causalAttentionBackward } from '../kernels/causal-attention-backward.ts';
import { Tensor, numel, shapeString } from './tensor.ts';
import type { TapeNode } from './tape.ts';

export interface OpAttrs {
  matmul: { transA: boolean; transB: boolean };
  add: Record<string, never>;
  mul: Record<string, never>;
  scale: { alpha: number };
  sum: { axis: number | null; mean: boolean };
  reshape: { shape: number[] };
  transpose: Record<string, never>;
  slice: { start: number; width: number };
  softmax: { scale: number; causal: boolean };
  layernorm: { eps: number };
  gelu: Record<string, never>;
  embedding: Record<string, never>;
  crossEntropy: Record<string, never>;
  lmHeadLoss: { chunk?: number };
  dropout: { p: number; seed: number; offset: number };
  rmsnorm: { eps: number };
  rope: { theta: number; positionOffset: number; scaling?: Llama3RopeScaling };
  swiglu: Record<string, never>;
  causalAttention: { scale: number; p: number; seed: number; offset: number; past: number };
}
export type OpName = keyof OpAttrs;

interface OpDef<K extends OpName> {
  forward(inputs: Tensor[], attrs: OpAttrs[K]): { out: Tensor; saved?: Tensor[] };
  backward(gradOut: Tensor, node: TapeNode<K>, needs: boolean[]): (Tensor | null)[];
}

const empty = (like: Tensor, shape: readonly number[], name: string) => Tensor.empty(like.gpu, shape, `${like.label}.${name}`);
const gradOf = (t: Tensor) => Tensor.empty(t.gpu, t.shape, `${t.label}.grad`);
const last = (t: Tensor) => t.shape[t.shape.length - 1];

function expectShape(op: string, what: string, got: readonly number[], want: readonly number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new ShapeError(`${op}: ${what} shape, expected ${shapeString(want)}, got ${shapeString(got)}`);
  }
}

function expectF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new ShapeError(`${op}: ${t.label} dtype, expected f32, got ${t.dtype}`);
}

/** matmul dims from a (..., M, K) or (..., K, M) and b (K, N) shared, or (..., K, N) batched. */
function matmulDims(a: Tensor, b: Tensor, { transA, transB }: OpAttrs['matmul']) {
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new ShapeError(`matmul: operands, expected at least 2-D, got ${shapeString(a.shape)} and ${shapeString(b.shape)}`);
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
  const dims = { batch, M, N, K, transA, transB, batchStrideA: M * K, batchStrideB: bShared ? 0 : K * N, dtypeB };
  return { dims, outShape: [...batchShape, M, N] };
}

function broadcastDims(op: string, a: Tensor, b: Tensor) {
  expectF32(op, a, b);
  const n = a.size;
  const bn = b.size;
  const trailing = a.shape.slice(a.shape.length - b.shape.length);
  if (bn !== n && (b.shape.length > a.shape.length || trailing.some((d, i) => d !== b.shape[i]))) {
    throw new ShapeError(`${op}: b broadcast, expected the same shape as a or a trailing part of ${shapeString(a.shape)}, got ${shapeString(b.shape)}`);
  }
  return { n, bn };
}

export const OPS: { [K in OpName]: OpDef<K> } = {
  matmul: {
    forward: ([a, b, bias], attrs) => {
      expectF32('matmul', a);
      if (b.dtype === 'i32') throw new ShapeError(`matmul: ${b.label} dtype, expected f32, f16 or bf16, got i32`);
      const { dims, outShape } = matmulDims(a, b, attrs);
      if (bias) expectShape('matmul', 'bias', bias.shape, [dims.N]);
      const out = empty(a, outShape, 'matmul');
      matmulForward(a.gpu, out.buffer, a.buffer, b.buffer, bias?.buffer ?? null, dims);
      return { out };
    },
    backward: (g, { inputs: [a, b, bias], attrs }, needs) => {
      const { dims } = matmulDims(a, b, attrs);
      const [da, db, dbias] = [needs[0] ? gradOf(a) : null, needs[1] ? gradOf(b) : null, bias && needs[2] ? gradOf(bias) : null];
      matmulBackward(a.gpu, da?.buffer ?? null, db?.buffer ?? null, dbias?.buffer ?? null, g.buffer, a.buffer, b.buffer, dims);
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
      mulBackward(a.gpu, da?.buffer ?? null, db?.buffer ?? null, g.buffer, a.buffer, b.buffer, { n: a.size, bn: b.size });
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
        throw new ShapeError(`reshape: element count, expected ${x.size} (from ${shapeString(x.shape)}), got ${numel(shape)} for ${shapeString(shape)}`);
      }
      return { out: new Tensor(x.gpu, x.buffer, shape, x.dtype, false, x.label, x.base ?? x) };
    },
    backward: (g, { inputs: [x] }) => [new Tensor(g.gpu, g.buffer, x.shape, 'f32', false, g.label, g.base ?? g)],
  },
  transpose: {
    forward: ([x]) => {
      if (x.shape.length !== 4) throw new ShapeError(`transpose: rank, expected 4-D (d0, d1, d2, d3), got ${shapeString(x.shape)}`);
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
        throw new ShapeError(`slice: columns, expected [start, start+width) within [0, ${cols}), got [${start}, ${start + width})`);
      }
      const out = Tensor.empty(x.gpu, [...x.shape.slice(0, -1), width], `${x.label}[${start}:${start + width}]`, x.dtype);
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
  layernorm: {
    forward: ([x, weight, bias], { eps }) => {
      expectF32('layernorm', x, weight, bias);
      const C = last(x);
      expectShape('layernorm', 'weight', weight.shape, [C]);
      expectShape('layernorm', 'bias', bias.shape, [C]);
      const N = x.size / C;
      const out = empty(x, x.shape, 'layernorm');
      const mean = empty(x, [N], 'mean');
      const rstd = empty(x, [N], 'rstd');
      layernormForward(x.gpu, out.buffer, mean.buffer, rstd.buffer, x.buffer, weight.buffer, bias.buffer, { N, C, eps });
      return { out, saved: [mean, rstd] };
    },
    backward: (g, { inputs: [x, weight, bias], attrs: { eps }, saved: [mean, rstd] }, needs) => {
      const C = last(x);
      const dx = gradOf(x); // always computed: the kernel derives dweight/dbias in the same pass
      const [dw, db] = [needs[1] ? gradOf(weight) : null, needs[2] ? gradOf(bias) : null];
      layernormBackward(x.gpu, dx.buffer, dw?.buffer ?? null, db?.buffer ?? null, g.buffer, x.buffer, weight.buffer, mean.buffer, rstd.buffer, { N: x.size / C, C, eps });
      return [needs[0] ? dx : null, dw, db];
    },
  },
  gelu: {
    forward: ([x]) => {
      expectF32('gelu', x);
      const out = empty(x, x.shape, 'gelu');
      geluForward(x.gpu, out.buffer, x.buffer, { n: x.size });
      return { out };
    },
    backward: (g, { inputs: [x] }) => {
      const dx = gradOf(x);
      geluBackward(x.gpu, dx.buffer, g.buffer, x.buffer, { n: x.size });
      return [dx];
    },
  },
  embedding: {
    forward: ([ids, weight]) => {
      if (ids.dtype !== 'i32') throw new ShapeError(`embedding: ids dtype, expected i32, got ${ids.dtype}`);
      if (weight.shape.length !== 2) throw new ShapeError(`embedding: weight, expected (V, C), got ${shapeString(weight.shape)}`);
      const [V, C] = weight.shape;
      const out = Tensor.empty(ids.gpu, [...ids.shape, C], `${weight.label}[ids]`);
      if (weight.dtype === 'i32') throw new ShapeError(`embedding: ${weight.label} dtype, expected f32, f16 or bf16, got i32`);
      embeddingForward(ids.gpu, out.buffer, ids.buffer, weight.buffer, { N: ids.size, C, V, dtype: weight.dtype });
      return { out };
    },
    backward: (g, { inputs: [ids, weight] }) => {
      if (weight.dtype !== 'f32') throw new ShapeError(`embedding: ${weight.label} gradient, expected an f32 weight, got ${weight.dtype} (16-bit weights are frozen)`);
      const [V, C] = weight.shape;
      const dw = gradOf(weight);
      embeddingBackward(ids.gpu, dw.buffer, g.buffer, ids.buffer, { N: ids.size, C, V });
      return [null, dw];
    },
  },
  crossEntropy: {
    forward: ([logits, targets]) => {
      expectF32('crossEntropy', logits);
      if (targets.dtype !== 'i32') throw new ShapeError(`crossEntropy: targets dtype, expected i32, got ${targets.dtype}`);
      const V = last(logits);
      const N = logits.size / V;
      expectShape('crossEntropy', 'targets', [targets.size], [N]);
      const loss = empty(logits, [], 'loss');
      const losses = empty(logits, [N], 'losses');
      const stats = empty(logits, [N, 2], 'row_stats'); // (max, rest) per row: backward need not recompute them
      crossEntropyForward(logits.gpu, loss.buffer, losses.buffer, logits.buffer, targets.buffer, { N, V }, stats.buffer);
      return { out: loss, saved: [losses, stats] };
    },
    backward: (g, { inputs: [logits, targets], saved: [, stats] }) => {
      const V = last(logits);
      const dlogits = gradOf(logits);
      const dims = { N: logits.size / V, V };
      crossEntropyBackward(logits.gpu, dlogits.buffer, g.buffer, logits.buffer, targets.buffer, dims, stats.buffer);
      return [dlogits, null];
    },
  },
  lmHeadLoss: {
    forward: ([hidden, weight, targets], { chunk }) => {
      const dims = lmHeadDims(hidden, weight, targets, chunk);
      const loss = empty(hidden, [], 'loss');
      const state = empty(hidden, [dims.N, 4], 'lm_head_state'); // per row (max, sum, argmax, target logit)
      const count = empty(hidden, [1], 'count');
      lmHeadLossForward(hidden.gpu, loss.buffer, state.buffer, count.buffer, hidden.buffer, weight.buffer, targets.buffer, dims);
      return { out: loss, saved: [state, count] };
    },
    backward: (g, { inputs: [hidden, weight, targets], attrs: { chunk }, saved: [state, count] }, needs) => {
      const [dh, dw] = [needs[0] ? gradOf(hidden) : null, needs[1] ? gradOf(weight) : null];
      const dims = lmHeadDims(hidden, weight, targets, chunk);
      lmHeadLossBackward(hidden.gpu, dh?.buffer ?? null, dw?.buffer ?? null, g.buffer, hidden.buffer, weight.buffer, targets.buffer, state.buffer, count.buffer, dims);
      return [dh, dw, null];
    },
  },
  dropout: {
    forward: ([x], attrs) => {
      const out = empty(x, x.shape, 'dropout');
      dropoutForward(x.gpu, out.buffer, x.buffer, { n: x.size, ...attrs });
      return { out };
    },
    backward: (g, { inputs: [x], attrs }) => {
      const dx = gradOf(x);
      dropoutBackward(x.gpu, dx.buffer, g.buffer, { n: x.size, ...attrs });
      return [dx];
    },
  },
  rmsnorm: {
    forward: ([x, weight], { eps }) => {
      expectF32('rmsnorm', x, weight);
      const C = last(x);
      expectShape('rmsnorm', 'weight', weight.shape, [C]);
      const N = x.size / C;
      const out = empty(x, x.shape, 'rmsnorm');
      const rstd = empty(x, [N], 'rstd');
      rmsnormForward(x.gpu, out.buffer, rstd.buffer, x.buffer, weight.buffer, { N, C, eps });
      return { out, saved: [rstd] };
    },
    backward: (g, { inputs: [x, weight], attrs: { eps }, saved: [rstd] }, needs) => {
      const C = last(x);
      const dx = gradOf(x); // always computed: the kernel derives dweight in the same call
      const dw = needs[1] ? gradOf(weight) : null;
      rmsnormBackward(x.gpu, dx.buffer, dw?.buffer ?? null, g.buffer, x.buffer, weight.buffer, rstd.buffer, { N: x.size / C, C, eps });
      return [needs[0] ? dx : null, dw];
    },
  },
  rope: {
    forward: ([x], attrs) => {
      expectF32('rope', x);
      const out = empty(x, x.shape, 'rope');
      ropeForward(x.gpu, out.buffer, x.buffer, ropeDims(x, attrs));
      return { out };
    },
    backward: (g, { inputs: [x], attrs }) => {
      const dx = gradOf(x);
      ropeBackward(x.gpu, dx.buffer, g.buffer, ropeDims(x, attrs));
      return [dx];
    },
  },
  swiglu: {
    forward: ([gate, up]) => {
      expectF32('swiglu', gate, up);
      expectShape('swiglu', 'up', up.shape, gate.shape);
      const out = empty(gate, gate.shape, 'swiglu');
      swigluForward(gate.gpu, out.buffer, gate.buffer, up.buffer, { n: gate.size });
      return { out };
    },
    backward: (g, { inputs: [gate, up] }, needs) => {
      const [dgate, dup] = [needs[0] ? gradOf(gate) : null, needs[1] ? gradOf(up) : null];
      swigluBackward(gate.gpu, dgate?.buffer ?? null, dup?.buffer ?? null, g.buffer, gate.buffer, up.buffer, { n: gate.size });
      return [dgate, dup];
    },
  },
  causalAttention: {
    forward: ([q, k, v], attrs) => {
      expectF32('causalAttention', q, k, v);
      const dims = attentionDims(q, k, v, attrs);
      const out = empty(q, [dims.B, dims.T, dims.NQ * dims.HS], 'attention'); // (B, T, NQ·HS)
      const lse = empty(q, [dims.B, dims.NQ, dims.T], 'lse'); // (B, NQ, T): all backward needs besides out
      causalAttentionForward(q.gpu, out.buffer, lse.buffer, q.buffer, k.buffer, v.buffer, dims);
      return { out, saved: [out, lse] };
    },
    backward: (g, { inputs: [q, k, v], attrs, saved: [out, lse] }) => {
      const [dq, dk, dv, dsum] = [gradOf(q), gradOf(k), gradOf(v), empty(q, lse.shape, 'dsum')];
      causalAttentionBackward(q.gpu, dq.buffer, dk.buffer, dv.buffer, dsum.buffer, g.buffer, out.buffer, lse.buffer,
        q.buffer, k.buffer, v.buffer, attentionDims(q, k, v, attrs));
      return [dq, dk, dv];
    },
  },
};

/** q (B, NQ, T, HS), k and v (B, NKV, TK, HS) → the fused attention kernels' dims (TK ≥ past + T: a KV cache). */
function attentionDims(q: Tensor, k: Tensor, v: Tensor, attrs: OpAttrs['causalAttention']) {
  const [B, NQ, T, HS] = q.shape;
  const [, NKV, TK] = k.shape;
  if (q.shape.length !== 4) throw new ShapeError(`causalAttention: q, expected 4-D (B, NQ, T, HS), got ${shapeString(q.shape)}`);
  expectShape('causalAttention', 'k', k.shape, [B, NKV, TK, HS]);
  expectShape('causalAttention', 'v', v.shape, k.shape);
  return { B, NQ, NKV, T, HS, TK, ...attrs };
}

/** lmHeadLoss dims from hidden (..., C), weight (V, C) and i32 targets (one per row of hidden). */
function lmHeadDims(hidden: Tensor, weight: Tensor, targets: Tensor, chunk: number | undefined) {
  expectF32('lmHeadLoss', hidden);
  if (weight.dtype === 'i32') throw new ShapeError(`lmHeadLoss: ${weight.label} dtype, expected f32, f16 or bf16, got i32`);
  if (targets.dtype !== 'i32') throw new ShapeError(`lmHeadLoss: targets dtype, expected i32, got ${targets.dtype}`);
  const C = last(hidden);
  const N = hidden.size / C;
  expectShape('lmHeadLoss', 'weight', [weight.shape.length, last(weight)], [2, C]);
  expectShape('lmHeadLoss', 'targets', [targets.size], [N]);
  return { N, C, V: weight.shape[0], dtypeW: weight.dtype as 'f32' | 'f16' | 'bf16', ...(chunk !== undefined && { chunk }) };
}

/** rope dims from a (B, NH, T, HS) tensor. */
function ropeDims(x: Tensor, { theta, positionOffset, scaling }: OpAttrs['rope']) {
  if (x.shape.length !== 4) throw new ShapeError(`rope: rank, expected 4-D (B, NH, T, HS), got ${shapeString(x.shape)}`);
  const [B, NH, T, HS] = x.shape;
  return { B, NH, T, HS, theta, positionOffset, scaling };
}

function sumDims(x: Tensor, axis: number | null, mean: boolean) {
  if (axis === null) return { dims: { outer: 1, axis: x.size, inner: 1, scale: mean ? 1 / x.size : 1 }, outShape: [] };
  const rank = x.shape.length;
  const a = axis < 0 ? rank + axis : axis;
  if (a < 0 || a >= rank) throw new ShapeError(`sum: axis, expected in [-${rank}, ${rank}), got ${axis}`);
  const dims = { outer: numel(x.shape.slice(0, a)), axis: x.shape[a], inner: numel(x.shape.slice(a + 1)), scale: mean ? 1 / x.shape[a] : 1 };
  return { dims, outShape: [...x.shape.slice(0, a), ...x.shape.slice(a + 1)] };
}
