// GPU-vs-reference checks for SwiGLU: 1, primes, sizes around the workgroup size (256), gates out to ±30 where σ
// saturates (e^−30 ≈ 1e-13), a moderately large n, and each frozen input (null dgate or dup). Bound relL2 ≤ 1e-5
// on every output: each element is a handful of f32 roundings, and σ and 1 − σ are formed without cancellation. But
// silu'(g) = σ(g) + g·σ(g)·(1 − σ(g)) has a zero near g = −1.28 where its two terms cancel, so dgate is measured against
// Σ|terms| (compare.ts): at n = 1 a plain relative bound failed ~1 seed in 800 there (ratio 7.8).
import type { Gpu } from '../gpu/gpu.ts';
import { swigluBackward, swigluForward } from '../kernels/swiglu.ts';
import { swigluBackwardRef, swigluForwardRef } from '../reference/swiglu.ts';
import { checkOutput, poison, toF64, type KernelCheck, type OutputResult, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';

const BOUND = 1e-5;

interface Case {
  n: number;
  /** Gates are uniform in [−spread, spread]; up in ±2. */
  spread: number;
  /** Which gradients the backward computes (both by default). */
  grads?: 'both' | 'dgate' | 'dup';
}

const CASES: Case[] = [
  { n: 1, spread: 3 },
  { n: 7, spread: 3, grads: 'dgate' },
  { n: 255, spread: 3, grads: 'dup' },
  { n: 257, spread: 8 },
  { n: 4099, spread: 30 },
  { n: 100_003, spread: 6 },
];

function describe({ n, spread, grads }: Case): string {
  return `n=${n} gate∈±${spread}${grads && grads !== 'both' ? ` grads=${grads}` : ''}`;
}

function forwardCheck(c: Case): KernelCheck {
  const { n } = c;
  return {
    kernel: 'swiglu forward',
    size: describe({ n, spread: c.spread }),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'swiglu', async () => {
        const gate = rng.uniform(n, -c.spread, c.spread); // (n)
        const up = rng.uniform(n, -2, 2); // (n)
        const out = gpu.alloc('out', n * 4); // (n)
        poison(gpu, out);
        swigluForward(gpu, out, gpu.upload('gate', gate), gpu.upload('up', up), { n });
        const want = new Float64Array(n);
        swigluForwardRef(want, toF64(gate), toF64(up), { n });
        return [checkOutput('out', await gpu.read(out, 'f32', n), want, BOUND)];
      }),
  };
}

/** Σ|terms| of dgate = dout·up·(σ(g) + g·σ(g)·(1 − σ(g))): each term by its absolute value. */
function dgateTerms(dout: Float32Array, gate: Float32Array, up: Float32Array): Float64Array {
  return Float64Array.from(gate, (g, i) => {
    const s = 1 / (1 + Math.exp(-g));
    return Math.abs(dout[i] * up[i]) * (s + Math.abs(g) * s * (1 - s));
  });
}

function backwardCheck(c: Case): KernelCheck {
  const { n, grads = 'both' } = c;
  return {
    kernel: 'swiglu backward',
    size: describe(c),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'swiglu', async () => {
        const gate = rng.uniform(n, -c.spread, c.spread); // (n)
        const up = rng.uniform(n, -2, 2); // (n)
        const dout = rng.uniform(n); // (n)
        const dgate = grads === 'dup' ? null : gpu.alloc('dgate', n * 4); // (n)
        const dup = grads === 'dgate' ? null : gpu.alloc('dup', n * 4); // (n)
        for (const b of [dgate, dup]) if (b) poison(gpu, b);
        const bufs = [gpu.upload('dout', dout), gpu.upload('gate', gate), gpu.upload('up', up)] as const;
        swigluBackward(gpu, dgate, dup, ...bufs, { n });
        const want = { dgate: new Float64Array(n), dup: new Float64Array(n) };
        swigluBackwardRef(want.dgate, want.dup, toF64(dout), toF64(gate), toF64(up), { n });
        const results: OutputResult[] = [];
        if (dgate) {
          const got = await gpu.read(dgate, 'f32', n);
          results.push(checkOutput('dgate', got, want.dgate, BOUND, dgateTerms(dout, gate, up)));
        }
        if (dup) results.push(checkOutput('dup', await gpu.read(dup, 'f32', n), want.dup, BOUND));
        return results;
      }),
  };
}

export const swigluChecks: KernelCheck[] = CASES.flatMap((c) => [forwardCheck(c), backwardCheck(c)]);
