// GPU-vs-reference checks for the column slice: 1, primes, first/middle/last columns, a q,k,v-like split of a
// (rows, 3C) matrix and one larger case. Pure data movement: exact (bound 0). The backward starts from a dx filled with
// a known value and compares all of dx, so columns outside the slice must still hold that value.
import type { Gpu } from '../gpu/gpu.ts';
import { sliceBackward, sliceForward } from '../kernels/slice.ts';
import { sliceBackwardRef, sliceForwardRef } from '../reference/slice.ts';
import { checkOutput, poison, toF32, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { SliceDims } from '../ops/dims.ts';

const EXACT = 0;
const UNTOUCHED = -7.25; // dx outside the slice; dout values lie in [-1, 1), so a skipped write shows too

const SIZES: SliceDims[] = [
  { rows: 1, cols: 1, start: 0, width: 1 },
  { rows: 7, cols: 13, start: 5, width: 3 },
  { rows: 3, cols: 11, start: 0, width: 1 },
  { rows: 5, cols: 11, start: 10, width: 1 },
  { rows: 13, cols: 3 * 67, start: 67, width: 67 }, // k of a fused q,k,v
  { rows: 257, cols: 17, start: 0, width: 17 },
  { rows: 131, cols: 3 * 768, start: 2 * 768, width: 768 },
];

function describe({ rows, cols, start, width }: SliceDims): string {
  return `rows=${rows} cols=${cols} [${start}, ${start + width})`;
}

function forwardCheck(dims: SliceDims): KernelCheck {
  const { rows, cols, width } = dims;
  return {
    kernel: 'slice forward',
    size: describe(dims),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'slice', async () => {
        const x = rng.uniform(rows * cols); // (rows, cols)
        const out = gpu.alloc('out', rows * width * 4); // (rows, width)
        poison(gpu, out);
        sliceForward(gpu, out, gpu.upload('x', x), dims);
        const got = await gpu.read(out, 'f32', rows * width);
        const want = new Float64Array(rows * width);
        sliceForwardRef(want, toF64(x), dims);
        return [checkOutput('out', got, toF32(want), EXACT)];
      }),
  };
}

function backwardCheck(dims: SliceDims): KernelCheck {
  const { rows, cols, width } = dims;
  return {
    kernel: 'slice backward',
    size: describe(dims),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'slice', async () => {
        const dout = rng.uniform(rows * width); // (rows, width)
        const dx = gpu.upload('dx', new Float32Array(rows * cols).fill(UNTOUCHED)); // (rows, cols)
        sliceBackward(gpu, dx, gpu.upload('dout', dout), dims);
        const got = await gpu.read(dx, 'f32', rows * cols);
        const want = new Float64Array(rows * cols).fill(UNTOUCHED);
        sliceBackwardRef(want, toF64(dout), dims);
        return [checkOutput('dx', got, toF32(want), EXACT)];
      }),
  };
}

export const sliceChecks: KernelCheck[] = SIZES.flatMap((dims) => [forwardCheck(dims), backwardCheck(dims)]);
