// GPU-vs-reference checks for LayerNorm: C = 1 (out = bias), primes, C around the workgroup size (64), GPT-2's
// C = 768 and 769, N beyond one dweight/dbias chunk (64 rows) so the chunk sum runs, and frozen weight/bias (null
// gradients). Rows carry an offset so the mean is not ~0. Bound relL2 ≤ 1e-5 on every output: the sums are
// fixed-order f32 over at most a few hundred terms, and the two-pass variance and dx's g − mean(g) − xhat·mean(g·xhat)
// cancel no more than a mean-centering does. dweight and dbias are sums over rows of mixed sign, measured against
// Σ|terms| (compare.ts): at N = 5, C = 1 a plain relative bound failed 1 in ~500 seeds on cancellation alone.
import type { Gpu } from '../gpu/gpu.ts';
import { layernormBackward, layernormForward } from '../kernels/layernorm.ts';
import { layernormBackwardRef, layernormForwardRef } from '../reference/layernorm.ts';
import { checkOutput, poison, toF32, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { LayernormDims } from '../ops/dims.ts';

const BOUND = 1e-5;
const EPS = 1e-5;

interface Case {
  N: number;
  C: number;
  /** Which parameter gradients the backward computes (both by default). */
  grads?: 'both' | 'dweight' | 'none';
}

const CASES: Case[] = [
  { N: 1, C: 1 },
  { N: 5, C: 1 },
  { N: 3, C: 7 },
  { N: 5, C: 64 },
  { N: 2, C: 65 },
  { N: 13, C: 769 },
  { N: 67, C: 31, grads: 'dweight' },
  { N: 11, C: 13, grads: 'none' },
  { N: 300, C: 65 },
  { N: 257, C: 768 },
];

function describe({ N, C, grads }: Case): string {
  return `N=${N} C=${C}${grads && grads !== 'both' ? ` grads=${grads}` : ''}`;
}

/** x (N, C): row offsets in ±3 plus a spread of ±2, so mean and variance are both non-trivial. */
function randomX(rng: Rng, N: number, C: number): Float32Array {
  const x = rng.uniform(N * C, -2, 2);
  for (let n = 0; n < N; n++) {
    const offset = rng.uniform(1, -3, 3)[0];
    for (let c = 0; c < C; c++) x[n * C + c] += offset;
  }
  return x;
}

// The kernel adds the f32 eps, so the reference does too.
function dimsOf({ N, C }: Case): LayernormDims {
  return { N, C, eps: Math.fround(EPS) };
}

function forwardCheck(k: Case): KernelCheck {
  const { N, C } = k;
  return {
    kernel: 'layernorm forward',
    size: describe(k),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'layernorm', async () => {
        const x = randomX(rng, N, C); // (N, C)
        const weight = rng.uniform(C, -1.5, 1.5); // (C)
        const bias = rng.uniform(C); // (C)
        const out = gpu.alloc('out', N * C * 4); // (N, C)
        const mean = gpu.alloc('mean', N * 4); // (N)
        const rstd = gpu.alloc('rstd', N * 4); // (N)
        for (const b of [out, mean, rstd]) poison(gpu, b);
        const [xBuf, wBuf, bBuf] = [
          gpu.upload('x', x),
          gpu.upload('weight', weight),
          gpu.upload('bias', bias),
        ];
        layernormForward(gpu, out, mean, rstd, xBuf, wBuf, bBuf, { N, C, eps: EPS });
        const want = { out: new Float64Array(N * C), mean: new Float64Array(N), rstd: new Float64Array(N) };
        layernormForwardRef(want.out, want.mean, want.rstd, toF64(x), toF64(weight), toF64(bias), dimsOf(k));
        return [
          checkOutput('out', await gpu.read(out, 'f32', N * C), want.out, BOUND),
          checkOutput('mean', await gpu.read(mean, 'f32', N), want.mean, BOUND),
          checkOutput('rstd', await gpu.read(rstd, 'f32', N), want.rstd, BOUND),
        ];
      }),
  };
}

function backwardCheck(k: Case): KernelCheck {
  const { N, C, grads = 'both' } = k;
  return {
    kernel: 'layernorm backward',
    size: describe(k),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'layernorm', async () => {
        const x = randomX(rng, N, C); // (N, C)
        const weight = rng.uniform(C, -1.5, 1.5); // (C)
        const dout = rng.uniform(N * C); // (N, C)
        // mean and rstd as the forward saves them: the f64 values rounded to f32.
        const [out64, mean64, rstd64] = [new Float64Array(N * C), new Float64Array(N), new Float64Array(N)];
        layernormForwardRef(out64, mean64, rstd64, toF64(x), toF64(weight), new Float64Array(C), dimsOf(k));
        const mean = toF32(mean64); // (N)
        const rstd = toF32(rstd64); // (N)

        const dx = gpu.alloc('dx', N * C * 4); // (N, C)
        const dweight = grads === 'none' ? null : gpu.alloc('dweight', C * 4); // (C)
        const dbias = grads === 'both' ? gpu.alloc('dbias', C * 4) : null; // (C)
        for (const b of [dx, dweight, dbias]) if (b) poison(gpu, b);
        const up = (name: string, a: Float32Array) => gpu.upload(name, a);
        const [doutBuf, xBuf, wBuf] = [up('dout', dout), up('x', x), up('weight', weight)];
        const [meanBuf, rstdBuf] = [up('mean', mean), up('rstd', rstd)];
        const dims = { N, C, eps: EPS };
        layernormBackward(gpu, dx, dweight, dbias, doutBuf, xBuf, wBuf, meanBuf, rstdBuf, dims);

        const want = {
          dx: new Float64Array(N * C),
          dweight: new Float64Array(C),
          dbias: new Float64Array(C),
        };
        const [d64, x64, w64, m64, r64] = [dout, x, weight, mean, rstd].map(toF64);
        layernormBackwardRef(want.dx, want.dweight, want.dbias, d64, x64, w64, m64, r64, dimsOf(k));
        // Σ|terms|: the same reference on |dout| and |x − mean| with a zero mean.
        const terms = {
          dx: new Float64Array(N * C),
          dweight: new Float64Array(C),
          dbias: new Float64Array(C),
        };
        const centered = x64.map((v, i) => Math.abs(v - m64[Math.floor(i / C)]));
        const absD = d64.map(Math.abs);
        layernormBackwardRef(
          terms.dx,
          terms.dweight,
          terms.dbias,
          absD,
          centered,
          w64,
          new Float64Array(N),
          r64,
          dimsOf(k),
        );
        const results = [checkOutput('dx', await gpu.read(dx, 'f32', N * C), want.dx, BOUND)];
        if (dweight) {
          const got = await gpu.read(dweight, 'f32', C);
          results.push(checkOutput('dweight', got, want.dweight, BOUND, terms.dweight));
        }
        if (dbias) {
          results.push(checkOutput('dbias', await gpu.read(dbias, 'f32', C), want.dbias, BOUND, terms.dbias));
        }
        return results;
      }),
  };
}

export const layernormChecks: KernelCheck[] = CASES.flatMap((k) => [forwardCheck(k), backwardCheck(k)]);
