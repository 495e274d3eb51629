// GPU-vs-reference checks for RMSNorm: C = 1, primes, C around the workgroup size (64, stories260K's hidden size),
// 769, N beyond one dweight chunk (64 rows) so the chunk sum runs, a frozen weight (null dweight) and Llama 2's
// eps = 1e-6. Rows get scales from 0.01 to 10, so eps matters in some. Bound relL2 ≤ 1e-5 on every output: the sums
// are fixed-order f32 over at most a few hundred terms, Σ x² has no cancellation, and dx's g − xhat·mean(g·xhat)
// removes only g's component along xhat, about 1/√C of it. At C = 1 it removes all but a factor eps/(x² + eps),
// so f32 loses log10((x² + eps)/eps) digits: those cases keep |x| ≤ 0.01, where that factor is ≥ 1/11. dweight is a
// sum over rows of mixed sign, measured against Σ|terms| (compare.ts): at N = 5, C = 1 a plain relative bound failed
// in CI on cancellation alone (relL2 2.6e-5 with an absolute error of 2e-8).
import type { Gpu } from '../gpu/gpu.ts';
import { rmsnormBackward, rmsnormForward } from '../kernels/rmsnorm.ts';
import { rmsnormBackwardRef, rmsnormForwardRef } from '../reference/rmsnorm.ts';
import { checkOutput, poison, toF32, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { RmsnormDims } from '../ops/dims.ts';

const BOUND = 1e-5;

interface Case {
  N: number;
  C: number;
  eps?: number;
  /** False leaves dweight null (frozen weight); default true. */
  dweight?: boolean;
  /** Row scales are 10^u with u uniform in this range; default [−2, 1]. */
  scales?: [number, number];
}

const CASES: Case[] = [
  { N: 1, C: 1, scales: [-3, -2] },
  { N: 5, C: 1, scales: [-3, -2] },
  { N: 3, C: 7 },
  { N: 7, C: 64 },
  { N: 2, C: 65, eps: 1e-6 },
  { N: 13, C: 769 },
  { N: 67, C: 31 },
  { N: 11, C: 13, dweight: false },
  { N: 300, C: 65 },
  { N: 257, C: 768, eps: 1e-6 },
];

function describe({ N, C, eps, dweight = true }: Case): string {
  return `N=${N} C=${C}${eps === undefined ? '' : ` eps=${eps}`}${dweight ? '' : ' frozen weight'}`;
}

/** x (N, C): uniform in ±1 times a per-row scale 10^u, so some rows are near the eps floor. */
function randomX(rng: Rng, { N, C, scales = [-2, 1] }: Case): Float32Array {
  const x = rng.uniform(N * C);
  for (let n = 0; n < N; n++) {
    const scale = 10 ** rng.uniform(1, ...scales)[0];
    for (let c = 0; c < C; c++) x[n * C + c] *= scale;
  }
  return x;
}

// The kernel adds the f32 eps, so the reference does too.
function dimsOf({ N, C, eps = 1e-5 }: Case): RmsnormDims {
  return { N, C, eps: Math.fround(eps) };
}

function forwardCheck(k: Case): KernelCheck {
  const { N, C } = k;
  return {
    kernel: 'rmsnorm forward',
    size: describe(k),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'rmsnorm', async () => {
        const x = randomX(rng, k); // (N, C)
        const weight = rng.uniform(C, -1.5, 1.5); // (C)
        const out = gpu.alloc('out', N * C * 4); // (N, C)
        const rstd = gpu.alloc('rstd', N * 4); // (N)
        for (const b of [out, rstd]) poison(gpu, b);
        rmsnormForward(gpu, out, rstd, gpu.upload('x', x), gpu.upload('weight', weight), dimsOf(k));
        const want = { out: new Float64Array(N * C), rstd: new Float64Array(N) };
        rmsnormForwardRef(want.out, want.rstd, toF64(x), toF64(weight), dimsOf(k));
        return [
          checkOutput('out', await gpu.read(out, 'f32', N * C), want.out, BOUND),
          checkOutput('rstd', await gpu.read(rstd, 'f32', N), want.rstd, BOUND),
        ];
      }),
  };
}

function backwardCheck(k: Case): KernelCheck {
  const { N, C, dweight: withWeight = true } = k;
  return {
    kernel: 'rmsnorm backward',
    size: describe(k),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'rmsnorm', async () => {
        const x = randomX(rng, k); // (N, C)
        const weight = rng.uniform(C, -1.5, 1.5); // (C)
        const dout = rng.uniform(N * C); // (N, C)
        // rstd as the forward saves it: the f64 value rounded to f32.
        const rstd64 = new Float64Array(N);
        rmsnormForwardRef(new Float64Array(N * C), rstd64, toF64(x), toF64(weight), dimsOf(k));
        const rstd = toF32(rstd64); // (N)

        const dx = gpu.alloc('dx', N * C * 4); // (N, C)
        const dweight = withWeight ? gpu.alloc('dweight', C * 4) : null; // (C)
        for (const b of [dx, dweight]) if (b) poison(gpu, b);
        const up = (name: string, a: Float32Array) => gpu.upload(name, a);
        const bufs = [up('dout', dout), up('x', x), up('weight', weight), up('rstd', rstd)] as const;
        rmsnormBackward(gpu, dx, dweight, ...bufs, dimsOf(k));

        const want = { dx: new Float64Array(N * C), dweight: new Float64Array(C) };
        const [d64, x64, w64, r64] = [dout, x, weight, rstd].map(toF64);
        rmsnormBackwardRef(want.dx, want.dweight, d64, x64, w64, r64, dimsOf(k));
        // Σ|terms| of dweight: the same reference on |dout| and |x|.
        const terms = new Float64Array(C);
        rmsnormBackwardRef(
          new Float64Array(N * C),
          terms,
          d64.map(Math.abs),
          x64.map(Math.abs),
          w64,
          r64,
          dimsOf(k),
        );
        const results = [checkOutput('dx', await gpu.read(dx, 'f32', N * C), want.dx, BOUND)];
        if (dweight) {
          results.push(checkOutput('dweight', await gpu.read(dweight, 'f32', C), want.dweight, BOUND, terms));
        }
        return results;
      }),
  };
}

export const rmsnormChecks: KernelCheck[] = CASES.flatMap((k) => [forwardCheck(k), backwardCheck(k)]);
