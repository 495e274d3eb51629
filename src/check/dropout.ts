// GPU-vs-reference checks for dropout: 1, primes, non-multiples of the 256-wide workgroup, p = 0 (identity), an
// offset whose counters wrap past 2^32, and one larger case. The mask must match the reference bit for bit (bound 0).
// Kept values are x · f32(1/(1-p)) rounded to f32: two roundings of ≤ 2^-24 each against the float64 x / (1 - p),
// so relL2 ≤ 1e-6 (measured ~6e-8).
import type { Gpu } from '../gpu/gpu.ts';
import { dropoutBackward, dropoutForward } from '../kernels/dropout.ts';
import { dropoutBackwardRef, dropoutForwardRef } from '../reference/dropout.ts';
import { checkOutput, poison, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { DropoutDims } from '../ops/dims.ts';

const VALUE_BOUND = 1e-6;
const EXACT = 0;

// (n, p, offset); offset null draws a random u32, seed is always random.
const SIZES: [number, number, number | null][] = [
  [1, 0.1, null],
  [7, 0.5, null],
  [257, 0, null],
  [1031, 0.1, 2 ** 32 - 500], // counters wrap to 0 halfway through
  [4099, 0.9, null],
  [100_003, 0.1, null],
];

function randomU32(rng: Rng): number {
  return Math.floor(rng.next() * 2 ** 32);
}

/** Random values in [-1, 1) with no zeros, so a zero output means a dropped element. */
function nonZero(rng: Rng, n: number): Float32Array {
  return rng.uniform(n).map((v) => (v === 0 ? 1 : v));
}

/** 1 where v is nonzero (kept), else 0. */
function maskOf(v: ArrayLike<number>): Float64Array {
  return Float64Array.from(v, (e) => (e !== 0 ? 1 : 0));
}

function check(
  direction: 'forward' | 'backward',
  [n, p, fixedOffset]: [number, number, number | null],
): KernelCheck {
  const [run, ref, output] =
    direction === 'forward'
      ? [dropoutForward, dropoutForwardRef, 'out']
      : [dropoutBackward, dropoutBackwardRef, 'dx'];
  return {
    kernel: `dropout ${direction}`,
    size: `n=${n} p=${p}${fixedOffset === null ? '' : ` offset=2^32-${2 ** 32 - fixedOffset}`}`,
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'dropout', async () => {
        const dims: DropoutDims = { n, p, seed: randomU32(rng), offset: fixedOffset ?? randomU32(rng) };
        const input = nonZero(rng, n); // x or dout, (n)
        const result = gpu.alloc(output, n * 4); // out or dx, (n)
        poison(gpu, result);
        run(gpu, result, gpu.upload('input', input), dims);
        const got = await gpu.read(result, 'f32', n);
        const want = new Float64Array(n);
        ref(want, toF64(input), dims);
        return [
          checkOutput(output, got, want, VALUE_BOUND),
          checkOutput('mask', maskOf(got), maskOf(want), EXACT),
        ];
      }),
  };
}

export const dropoutChecks: KernelCheck[] = SIZES.flatMap((size) => [
  check('forward', size),
  check('backward', size),
]);
