// GPU-vs-reference checks for RoPE: HS = 2 (one pair), stories260K's HS = 8, odd half sizes (HS = 6, 10), Llama's
// 64 and 128, theta 10000 and Llama 3's 500000 (and its llama3 frequency rescaling), position offsets (a KV-cache continuation), positions up to 4095 and
// past a million, and one moderately large case. Bound relL2 ≤ 1e-5 on both outputs: the angle is exact modulo a
// turn (integer arithmetic), and each element is a polynomial cos/sin (~1e-7 absolute) and two f32 products.
import type { Gpu } from '../gpu/gpu.ts';
import { ropeBackward, ropeForward } from '../kernels/rope.ts';
import { ropeBackwardRef, ropeForwardRef } from '../reference/rope.ts';
import { checkOutput, poison, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { RopeDims } from '../ops/dims.ts';

const BOUND = 1e-5;
// Llama 3.1/3.2's rope_scaling: all three bands (kept, blended, divided) hold frequencies at HS 64.
const LLAMA3 = {
  type: 'llama3',
  factor: 32,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositions: 8192,
} as const;

const CASES: RopeDims[] = [
  { B: 1, NH: 1, T: 1, HS: 2, theta: 10_000, positionOffset: 0 },
  { B: 1, NH: 1, T: 3, HS: 2, theta: 10_000, positionOffset: 0 },
  { B: 2, NH: 3, T: 7, HS: 8, theta: 10_000, positionOffset: 0 },
  { B: 1, NH: 2, T: 5, HS: 6, theta: 10_000, positionOffset: 11 },
  { B: 2, NH: 2, T: 31, HS: 10, theta: 10_000, positionOffset: 1 },
  { B: 3, NH: 1, T: 13, HS: 64, theta: 500_000, positionOffset: 0 },
  { B: 1, NH: 2, T: 17, HS: 128, theta: 10_000, positionOffset: 4079 },
  { B: 1, NH: 1, T: 9, HS: 8, theta: 10_000, positionOffset: 1_000_003 },
  { B: 1, NH: 4, T: 300, HS: 64, theta: 10_000, positionOffset: 0 },
  { B: 1, NH: 2, T: 40, HS: 64, theta: 500_000, positionOffset: 8170, scaling: LLAMA3 },
];

function describe({ B, NH, T, HS, theta, positionOffset, scaling }: RopeDims): string {
  const extra = `${positionOffset ? ` offset=${positionOffset}` : ''}${scaling ? ` ${scaling.type}` : ''}`;
  return `B=${B} NH=${NH} T=${T} HS=${HS} theta=${theta}${extra}`;
}

function check(dims: RopeDims, direction: 'forward' | 'backward'): KernelCheck {
  const n = dims.B * dims.NH * dims.T * dims.HS;
  const [run, ref, output] =
    direction === 'forward' ? [ropeForward, ropeForwardRef, 'out'] : [ropeBackward, ropeBackwardRef, 'dx'];
  return {
    kernel: `rope ${direction}`,
    size: describe(dims),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'rope', async () => {
        const input = rng.uniform(n, -2, 2); // x or dout, (B, NH, T, HS)
        const result = gpu.alloc(output, n * 4); // out or dx, (B, NH, T, HS)
        poison(gpu, result);
        run(gpu, result, gpu.upload('input', input), dims);
        const want = new Float64Array(n);
        ref(want, toF64(input), dims);
        return [checkOutput(output, await gpu.read(result, 'f32', n), want, BOUND)];
      }),
  };
}

export const ropeChecks: KernelCheck[] = CASES.flatMap((d) => [check(d, 'forward'), check(d, 'backward')]);
