// GPU-vs-reference checks for softmax: 1, primes, cols around the workgroup size (64), causal attention shapes,
// a wide spread of logits (stability: exp would overflow without the max subtracted), rows beyond the 65535
// workgroups of one grid dimension, and one attention-sized case. Bound relL2 ≤ 1e-5 on every output: each
// element is a few f32 roundings of exp, a fixed-order sum and a division, and the backward's dout − Σ dout·y
// cancels no more than a mean-centering does.
import type { Gpu } from '../gpu/gpu.ts';
import { softmaxBackward, softmaxForward } from '../kernels/softmax.ts';
import { softmaxBackwardRef, softmaxForwardRef } from '../reference/softmax.ts';
import { checkOutput, poison, toF32, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { SoftmaxDims } from '../ops/dims.ts';

const BOUND = 1e-5;

interface Case {
  dims: SoftmaxDims;
  /** Logits are uniform in [−spread, spread]. */
  spread: number;
  /** False skips the backward check (default true). */
  backward?: boolean;
}

const CASES: Case[] = [
  { dims: { rows: 1, cols: 1 }, spread: 3 },
  { dims: { rows: 3, cols: 7 }, spread: 3 },
  { dims: { rows: 5, cols: 64, scale: 0.125 }, spread: 8 },
  { dims: { rows: 7, cols: 65, scale: -0.5 }, spread: 4 },
  { dims: { rows: 11, cols: 1021 }, spread: 3 },
  { dims: { rows: 3, cols: 1024, scale: 1 / 8 }, spread: 20 },
  { dims: { rows: 2 * 3 * 13, cols: 13, scale: 1 / Math.sqrt(8), causal: true }, spread: 4 },
  { dims: { rows: 67, cols: 67, causal: true }, spread: 3 },
  { dims: { rows: 4, cols: 300 }, spread: 100 },
  // Rows over 65535 need 65537 workgroups, slow on software adapters: forward only (the backward finds its row the
  // same way, and every case above already runs the 2-D grid).
  { dims: { rows: 65_537, cols: 2, scale: 0.5 }, spread: 3, backward: false },
  { dims: { rows: 2 * 256, cols: 256, scale: 1 / 8, causal: true }, spread: 8 },
];

function describe({ dims, spread }: Case): string {
  const scale = dims.scale === undefined ? '' : ` scale=${+dims.scale.toPrecision(3)}`;
  return `rows=${dims.rows} cols=${dims.cols}${scale}${dims.causal ? ' causal' : ''} x∈±${spread}`;
}

// The kernel multiplies by the f32 scale, so the reference does too.
function f32Scale(dims: SoftmaxDims): SoftmaxDims {
  return { ...dims, scale: Math.fround(dims.scale ?? 1) };
}

function forwardCheck(c: Case): KernelCheck {
  const { rows, cols } = c.dims;
  return {
    kernel: 'softmax forward',
    size: describe(c),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'softmax', async () => {
        const x = rng.uniform(rows * cols, -c.spread, c.spread); // (rows, cols)
        const out = gpu.alloc('out', rows * cols * 4); // (rows, cols)
        poison(gpu, out);
        softmaxForward(gpu, out, gpu.upload('x', x), c.dims);
        const got = await gpu.read(out, 'f32', rows * cols);
        const want = new Float64Array(rows * cols);
        softmaxForwardRef(want, toF64(x), f32Scale(c.dims));
        return [checkOutput('out', got, want, BOUND)];
      }),
  };
}

function backwardCheck(c: Case): KernelCheck {
  const { rows, cols } = c.dims;
  return {
    kernel: 'softmax backward',
    size: describe(c),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'softmax', async () => {
        // A genuine softmax output (rounded to f32, as the forward would store it) and a random upstream gradient.
        const y64 = new Float64Array(rows * cols); // (rows, cols)
        softmaxForwardRef(y64, toF64(rng.uniform(rows * cols, -c.spread, c.spread)), f32Scale(c.dims));
        const y = toF32(y64);
        const dout = rng.uniform(rows * cols); // (rows, cols)
        const dx = gpu.alloc('dx', rows * cols * 4); // (rows, cols)
        poison(gpu, dx);
        softmaxBackward(gpu, dx, gpu.upload('dout', dout), gpu.upload('out', y), c.dims);
        const got = await gpu.read(dx, 'f32', rows * cols);
        const want = new Float64Array(rows * cols);
        softmaxBackwardRef(want, toF64(dout), toF64(y), f32Scale(c.dims));
        return [checkOutput('dx', got, want, BOUND)];
      }),
  };
}

export const softmaxChecks: KernelCheck[] = CASES.flatMap((c) =>
  c.backward === false ? [forwardCheck(c)] : [forwardCheck(c), backwardCheck(c)],
);
