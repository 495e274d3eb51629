// GPU-vs-reference checks for the batched matmul, for every variant: 1×1×1, primes and sizes off every tile
// (16, 64, 8) and off multiples of 4 along k, every transpose pair, bias, accumulate, shared operands (batch stride 0,
// whose gradients sum over the batch), gapped batch strides, and grids past 65535 workgroups in one dimension.
// Every output is a sum of K (or, for shared gradients, batch·K) f32 products: bound relL2 ≤ 1e-5 for K ≤ 1024.
import {
  matmulBackward,
  matmulForward,
  MATMUL_VARIANTS,
  matmulVariantAvailable,
  type MatmulVariant,
} from '../kernels/matmul.ts';
import { matmulBackwardRef, matmulForwardRef } from '../reference/matmul.ts';
import { checkOutput, poison, toF64, type KernelCheck, type OutputResult, scoped } from './kernel-check.ts';
import type { MatmulDims } from '../ops/dims.ts';

const BOUND = 1e-5;

interface Case extends MatmulDims {
  bias?: boolean;
  /** Backward only: which gradients to ask for (default all). */
  grads?: ('dA' | 'dB' | 'dBias')[];
}

const TRANSPOSES = [
  { transA: false, transB: false },
  { transA: true, transB: false },
  { transA: false, transB: true },
  { transA: true, transB: true },
];

const FORWARD: Case[] = [
  { batch: 1, M: 1, N: 1, K: 1 },
  ...TRANSPOSES.map((t) => ({ batch: 1, M: 7, N: 13, K: 5, bias: true, ...t })),
  ...TRANSPOSES.map((t) => ({ batch: 1, M: 127, N: 129, K: 65, ...t })),
  { batch: 1, M: 257, N: 31, K: 300, bias: true },
  { batch: 1, M: 65, N: 67, K: 64, transB: true, accumulate: true },
  { batch: 3, M: 17, N: 19, K: 23, bias: true },
  { batch: 3, M: 17, N: 19, K: 23, transA: true, batchStrideB: 0, accumulate: true },
  { batch: 3, M: 9, N: 70, K: 6, transB: true, batchStrideA: 0, bias: true },
  { batch: 2, M: 5, N: 11, K: 3, transA: true, transB: true, batchStrideA: 0, batchStrideB: 0 },
  // Gapped strides, as a KV cache holding T ≤ maxT rows per head: B is (batch, maxT=20, K) with N=13 rows used.
  { batch: 3, M: 6, N: 13, K: 8, transB: true, batchStrideA: 6 * 8 + 5, batchStrideB: 20 * 8 },
];

// More than 65535 workgroups along z (batch) and, for the 16×16 naive tiles, along y (M) and x (N): several
// dispatches offset by tile(). Not run for the workgroup variant, whose 256-invocation groups take minutes on
// SwiftShader here; its tile() offsets are the same shared WGSL.
const LARGE_GRIDS: Case[] = [
  { batch: 65_537, M: 1, N: 2, K: 3, bias: true },
  { batch: 1, M: 16 * 65_535 + 3, N: 1, K: 2, transA: true },
  { batch: 1, M: 1, N: 16 * 65_535 + 5, K: 2, transB: true },
];

const BACKWARD: Case[] = [
  { batch: 1, M: 1, N: 1, K: 1, bias: true },
  ...TRANSPOSES.map((t) => ({ batch: 1, M: 7, N: 13, K: 5, bias: true, ...t })),
  ...TRANSPOSES.map((t) => ({ batch: 2, M: 33, N: 65, K: 17, ...t })),
  { batch: 1, M: 257, N: 31, K: 300, bias: true },
  // Shared B (weights): dB sums over the batch, stacked into one matmul when A stacks, else per batch then summed.
  ...TRANSPOSES.map((t) => ({ batch: 3, M: 17, N: 19, K: 23, batchStrideB: 0, bias: true, ...t })),
  ...TRANSPOSES.map((t) => ({ batch: 3, M: 9, N: 10, K: 6, batchStrideA: 0, ...t })),
  { batch: 4, M: 5, N: 7, K: 3, transB: true, batchStrideA: 0, batchStrideB: 0 },
  { batch: 3, M: 6, N: 13, K: 8, transB: true, batchStrideA: 6 * 8 + 5, batchStrideB: 20 * 8 },
  { batch: 2, M: 11, N: 5, K: 7, grads: ['dA'] },
  { batch: 2, M: 11, N: 5, K: 7, batchStrideB: 0, bias: true, grads: ['dB', 'dBias'] },
];

function describe(c: Case): string {
  const flags = [
    c.transA && 'transA',
    c.transB && 'transB',
    c.batchStrideA !== undefined && `strideA=${c.batchStrideA}`,
    c.batchStrideB !== undefined && `strideB=${c.batchStrideB}`,
    c.bias && 'bias',
    c.accumulate && 'accumulate',
    c.grads && `only ${c.grads.join(',')}`,
  ].filter(Boolean);
  return [`batch=${c.batch} M=${c.M} N=${c.N} K=${c.K}`, ...flags].join(' ');
}

/** Elements spanned by a batched operand: batch matrices of `matrix` elements, `stride` apart (0: one shared). */
function span(batch: number, stride: number | undefined, matrix: number): number {
  return stride === 0 ? matrix : (batch - 1) * (stride ?? matrix) + matrix;
}

/** The matrices of a batched operand, without the gaps between them (which kernels never write). */
function matrices(
  x: ArrayLike<number>,
  batch: number,
  stride: number | undefined,
  matrix: number,
): Float64Array {
  if (stride === 0 || stride === undefined || stride === matrix) return toF64(x);
  const out = new Float64Array(batch * matrix);
  for (let b = 0; b < batch; b++) for (let i = 0; i < matrix; i++) out[b * matrix + i] = x[b * stride + i];
  return out;
}

function forwardCheck(variant: MatmulVariant, c: Case): KernelCheck {
  const { batch, M, N, K } = c;
  return {
    kernel: `matmul forward ${variant}`,
    size: describe(c),
    available: (gpu) => matmulVariantAvailable(gpu, variant),
    run: (gpu, rng) =>
      scoped(gpu, 'matmul', async () => {
        const a = rng.uniform(span(batch, c.batchStrideA, M * K));
        const b = rng.uniform(span(batch, c.batchStrideB, K * N));
        const bias = c.bias ? rng.uniform(N) : null; // (N)
        const init = rng.uniform(batch * M * N); // (batch, M, N), the old out when accumulating
        const out = gpu.alloc('out', init.byteLength);
        if (c.accumulate) gpu.write(out, init);
        else poison(gpu, out);
        const biasBuf = bias && gpu.upload('bias', bias);
        matmulForward(gpu, out, gpu.upload('a', a), gpu.upload('b', b), biasBuf, c, variant);
        const got = await gpu.read(out, 'f32', batch * M * N);
        const want = toF64(init);
        matmulForwardRef(want, toF64(a), toF64(b), bias && toF64(bias), c);
        return [checkOutput('out', got, want, BOUND)];
      }),
  };
}

function backwardCheck(variant: MatmulVariant, c: Case): KernelCheck {
  const { batch, M, N, K } = c;
  const grads = c.grads ?? ['dA', 'dB', 'dBias'];
  return {
    kernel: `matmul backward ${variant}`,
    available: (gpu) => matmulVariantAvailable(gpu, variant),
    size: describe(c),
    run: (gpu, rng) =>
      scoped(gpu, 'matmul', async () => {
        const a = rng.uniform(span(batch, c.batchStrideA, M * K));
        const b = rng.uniform(span(batch, c.batchStrideB, K * N));
        const dOut = rng.uniform(batch * M * N); // (batch, M, N)
        const grad = (name: 'dA' | 'dB' | 'dBias', length: number) => {
          if (!grads.includes(name) || (name === 'dBias' && !c.bias)) return null;
          const buf = gpu.alloc(name, length * 4);
          poison(gpu, buf);
          return buf;
        };
        const [dA, dB, dBias] = [grad('dA', a.length), grad('dB', b.length), grad('dBias', N)];
        matmulBackward(
          gpu,
          dA,
          dB,
          dBias,
          gpu.upload('dOut', dOut),
          gpu.upload('a', a),
          gpu.upload('b', b),
          c,
          variant,
        );
        const want = {
          dA: new Float64Array(a.length),
          dB: new Float64Array(b.length),
          dBias: new Float64Array(N),
        };
        matmulBackwardRef(want.dA, want.dB, want.dBias, toF64(dOut), toF64(a), toF64(b), c);
        const results: OutputResult[] = [];
        if (dA) {
          const got = await gpu.read(dA, 'f32', a.length);
          const [g, w] = [got, want.dA].map((x) => matrices(x, batch, c.batchStrideA, M * K));
          results.push(checkOutput('dA', g, w, BOUND));
        }
        if (dB) {
          const got = await gpu.read(dB, 'f32', b.length);
          const [g, w] = [got, want.dB].map((x) => matrices(x, batch, c.batchStrideB, K * N));
          results.push(checkOutput('dB', g, w, BOUND));
        }
        if (dBias) results.push(checkOutput('dBias', await gpu.read(dBias, 'f32', N), want.dBias, BOUND));
        return results;
      }),
  };
}

export const matmulChecks: KernelCheck[] = MATMUL_VARIANTS.flatMap((variant) => [
  ...FORWARD.map((c) => forwardCheck(variant, c)),
  ...(variant === 'workgroup' ? [] : LARGE_GRIDS.map((c) => forwardCheck(variant, c))),
  ...BACKWARD.map((c) => backwardCheck(variant, c)),
]);
