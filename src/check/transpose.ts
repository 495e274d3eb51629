// GPU-vs-reference checks for the axis 1 ↔ 2 transpose: all-ones, primes, size-1 middle axes, an attention-like
// (B, T, NH, HS) shape and one larger case. Pure data movement, so the result must be exact (bound 0).
import type { Gpu } from '../gpu/gpu.ts';
import { transposeBackward, transposeForward } from '../kernels/transpose.ts';
import { transposeBackwardRef, transposeForwardRef } from '../reference/transpose.ts';
import { checkOutput, poison, toF32, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { TransposeDims } from '../ops/dims.ts';

const EXACT = 0;

const SIZES: TransposeDims[] = [
  { d0: 1, d1: 1, d2: 1, d3: 1 },
  { d0: 2, d1: 3, d2: 5, d3: 7 },
  { d0: 1, d1: 13, d2: 1, d3: 3 },
  { d0: 3, d1: 1, d2: 11, d3: 5 },
  { d0: 5, d1: 7, d2: 3, d3: 1 },
  { d0: 2, d1: 17, d2: 12, d3: 64 }, // (B, T, NH, HS)
  { d0: 3, d1: 131, d2: 12, d3: 67 },
];

function check(direction: 'forward' | 'backward', dims: TransposeDims): KernelCheck {
  const { d0, d1, d2, d3 } = dims;
  const n = d0 * d1 * d2 * d3;
  const [run, ref, output] =
    direction === 'forward'
      ? [transposeForward, transposeForwardRef, 'out']
      : [transposeBackward, transposeBackwardRef, 'dx'];
  return {
    kernel: `transpose ${direction}`,
    size: `d0=${d0} d1=${d1} d2=${d2} d3=${d3}`,
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'transpose', async () => {
        const input = rng.uniform(n); // forward x (d0, d1, d2, d3), backward dout (d0, d2, d1, d3)
        const result = gpu.alloc(output, n * 4); // forward out (d0, d2, d1, d3), backward dx (d0, d1, d2, d3)
        poison(gpu, result);
        run(gpu, result, gpu.upload('input', input), dims);
        const got = await gpu.read(result, 'f32', n);
        const want = new Float64Array(n);
        ref(want, toF64(input), dims);
        return [checkOutput(output, got, toF32(want), EXACT)];
      }),
  };
}

export const transposeChecks: KernelCheck[] = SIZES.flatMap((dims) => [
  check('forward', dims),
  check('backward', dims),
]);
