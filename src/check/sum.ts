// GPU-vs-reference checks for the middle-axis sum: 1, primes, axis 1, long axes that take the chunked two-pass path
// (and a recursive third pass), many outputs, and a mean (scale 1/axis). Forward sums in f32 in a fixed order:
// bound relL2 ≤ 1e-5 against Σ|terms| (compare.ts): inputs have mixed signs, a long sum can cancel to near 0, and
// relL2 of a lone output (outer = inner = 1) against the sum itself then has no bound (1 of 48 seeds failed at axis
// 20011), whatever the kernel does. Backward is one rounded product per element: exact against the f64 result
// rounded to f32.
import type { Gpu } from '../gpu/gpu.ts';
import { sumBackward, sumForward } from '../kernels/sum.ts';
import { sumBackwardRef, sumForwardRef } from '../reference/sum.ts';
import { checkOutput, poison, toF32, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { SumDims } from '../ops/dims.ts';

const FORWARD_BOUND = 1e-5;
const EXACT = 0;

const SIZES: SumDims[] = [
  { outer: 1, axis: 1, inner: 1 },
  { outer: 1, axis: 7, inner: 1 },
  { outer: 3, axis: 5, inner: 7 },
  { outer: 13, axis: 1, inner: 11 },
  { outer: 1, axis: 4096, inner: 1 },
  { outer: 2, axis: 4096, inner: 3, scale: 1 / 4096 },
  { outer: 5, axis: 257, inner: 1, scale: 1 / 257 },
  { outer: 1, axis: 20_011, inner: 1 },
  { outer: 331, axis: 17, inner: 67 },
  { outer: 1, axis: 130, inner: 768 },
  { outer: 7, axis: 300, inner: 768 },
];

function describe(dims: SumDims): string {
  const scale = dims.scale === undefined ? '' : ` scale=1/${Math.round(1 / dims.scale)}`;
  return `outer=${dims.outer} axis=${dims.axis} inner=${dims.inner}${scale}`;
}

function forwardCheck(dims: SumDims): KernelCheck {
  const { outer, axis, inner } = dims;
  return {
    kernel: 'sum forward',
    size: describe(dims),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'sum', async () => {
        const x = rng.uniform(outer * axis * inner); // (outer, axis, inner)
        const out = gpu.alloc('out', outer * inner * 4); // (outer, inner)
        poison(gpu, out);
        sumForward(gpu, out, gpu.upload('x', x), dims);
        const got = await gpu.read(out, 'f32', outer * inner);
        const want = new Float64Array(outer * inner);
        const refDims = { ...dims, scale: Math.fround(dims.scale ?? 1) };
        sumForwardRef(want, toF64(x), refDims);
        const terms = new Float64Array(outer * inner); // Σ|x|
        sumForwardRef(terms, toF64(x).map(Math.abs), refDims);
        return [checkOutput('out', got, want, FORWARD_BOUND, terms)];
      }),
  };
}

function backwardCheck(dims: SumDims): KernelCheck {
  const { outer, axis, inner } = dims;
  return {
    kernel: 'sum backward',
    size: describe(dims),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'sum', async () => {
        const dout = rng.uniform(outer * inner); // (outer, inner)
        const dx = gpu.alloc('dx', outer * axis * inner * 4); // (outer, axis, inner)
        poison(gpu, dx);
        sumBackward(gpu, dx, gpu.upload('dout', dout), dims);
        const got = await gpu.read(dx, 'f32', outer * axis * inner);
        const want = new Float64Array(outer * axis * inner);
        // The kernel multiplies by the f32 scale, so the reference does too.
        sumBackwardRef(want, toF64(dout), { ...dims, scale: Math.fround(dims.scale ?? 1) });
        return [checkOutput('dx', got, toF32(want), EXACT)];
      }),
  };
}

export const sumChecks: KernelCheck[] = SIZES.flatMap((dims) => [forwardCheck(dims), backwardCheck(dims)]);
