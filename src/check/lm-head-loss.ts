// GPU-vs-reference checks for the fused LM head + cross-entropy: one chunk, chunks of 1 row, chunks that do not divide
// N, GPT-2's V = 50257, ignored rows (−100) and an all-ignored batch. The loss and both gradients are f32 sums in a
// fixed order (per chunk, then across chunks): bound relL2 ≤ 1e-5. The correct and counted rows are integers: exact.
// A 16-bit W (a frozen tied head under --dtype) is checked against the reference on the rounded values; it has no dW.
import type { Gpu } from '../gpu/gpu.ts';
import { lmHeadLossBackward, lmHeadLossForward } from '../kernels/lm-head-loss.ts';
import { lmHeadLossBackwardRef, lmHeadLossForwardRef } from '../reference/lm-head-loss.ts';
import { IGNORE_INDEX } from '../reference/cross-entropy.ts';
import { checkOutput, poison, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { LmHeadLossDims } from '../ops/dims.ts';
import { packHalves, roundToHalf } from '../util/half.ts';

const BOUND = 1e-5;
const EXACT = 0;

interface Case extends LmHeadLossDims {
  /** Row i is ignored when i % ignoreEvery === ignoreEvery − 1; 1 ignores every row, 0 none. */
  ignoreEvery: number;
}

const CASES: Case[] = [
  { N: 1, C: 1, V: 1, ignoreEvery: 0 },
  { N: 3, C: 5, V: 7, chunk: 1, ignoreEvery: 0 },
  { N: 13, C: 17, V: 301, chunk: 4, ignoreEvery: 3 },
  { N: 33, C: 65, V: 1031, ignoreEvery: 5 },
  { N: 70, C: 9, V: 1031, chunk: 32, ignoreEvery: 7 },
  { N: 4, C: 9, V: 70, chunk: 3, ignoreEvery: 1 },
  { N: 5, C: 64, V: 50257, ignoreEvery: 4 },
  { N: 13, C: 17, V: 301, chunk: 4, ignoreEvery: 3, dtypeW: 'bf16' },
  { N: 6, C: 33, V: 1031, ignoreEvery: 0, dtypeW: 'f16' },
];

const describe = (c: Case) =>
  `N=${c.N} C=${c.C} V=${c.V}${c.dtypeW ? ` ${c.dtypeW} W` : ''}${c.chunk ? ` chunk ${c.chunk}` : ''}${c.ignoreEvery === 1 ? ' all ignored' : c.ignoreEvery ? ` ignore 1/${c.ignoreEvery}` : ''}`;

function inputs(rng: Rng, c: Case) {
  const hidden = rng.normal(c.N * c.C, 1); // (N, C)
  const drawn = rng.normal(c.V * c.C, 1 / Math.sqrt(c.C)).map((x) => x * 3); // (V, C): logits of σ ≈ 3
  const weight = c.dtypeW && c.dtypeW !== 'f32' ? roundToHalf(drawn, c.dtypeW) : drawn;
  const targets = rng.int(c.N, 0, c.V); // (N)
  for (let i = 0; i < c.N; i++)
    if (c.ignoreEvery && i % c.ignoreEvery === c.ignoreEvery - 1) targets[i] = IGNORE_INDEX;
  return { hidden, weight, targets };
}

const uploadWeight = (gpu: Gpu, c: Case, weight: Float32Array) =>
  gpu.upload('weight', c.dtypeW && c.dtypeW !== 'f32' ? packHalves(weight, c.dtypeW) : weight);

function forwardCheck(c: Case): KernelCheck {
  return {
    kernel: 'lm-head-loss forward',
    size: describe(c),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'lm-head-loss', async () => {
        const { hidden, weight, targets } = inputs(rng, c);
        const [loss, count, correct] = ['loss', 'count', 'correct'].map((n) => gpu.alloc(n, 4));
        [loss, count, correct].forEach((b) => poison(gpu, b));
        const [h, w, t] = [
          gpu.upload('hidden', hidden),
          uploadWeight(gpu, c, weight),
          gpu.upload('targets', targets),
        ];
        lmHeadLossForward(gpu, loss, count, h, w, t, c, { correct });
        const want = [new Float64Array(1), new Float64Array(1), new Float64Array(1)];
        lmHeadLossForwardRef(want[0], want[1], want[2], toF64(hidden), toF64(weight), targets, c);
        return [
          checkOutput('loss', await gpu.read(loss, 'f32', 1), want[0], BOUND),
          checkOutput('correct', await gpu.read(correct, 'f32', 1), want[1], EXACT),
          checkOutput('count', await gpu.read(count, 'f32', 1), want[2], EXACT),
        ];
      }),
  };
}

function backwardCheck(c: Case): KernelCheck {
  return {
    kernel: 'lm-head-loss backward',
    size: describe(c),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'lm-head-loss', async () => {
        const { hidden, weight, targets } = inputs(rng, c);
        const dloss = rng.uniform(1, 0.5, 2); // (1)
        const [h, w, t] = [
          gpu.upload('hidden', hidden),
          uploadWeight(gpu, c, weight),
          gpu.upload('targets', targets),
        ];
        const count = gpu.alloc('count', 4);
        const dhidden = gpu.alloc('dhidden', c.N * c.C * 4);
        const frozen = c.dtypeW !== undefined && c.dtypeW !== 'f32';
        const dweight = frozen ? null : gpu.alloc('dweight', c.V * c.C * 4);
        [dhidden, dweight].forEach((b) => b && poison(gpu, b));
        lmHeadLossForward(gpu, gpu.alloc('loss', 4), count, h, w, t, c, { dhidden, dweight });
        lmHeadLossBackward(gpu, dhidden, dweight, gpu.upload('dloss', dloss), count, c);
        const wantH = new Float64Array(c.N * c.C);
        const wantW = new Float64Array(c.V * c.C);
        lmHeadLossBackwardRef(wantH, wantW, toF64(dloss), toF64(hidden), toF64(weight), targets, c);
        return [
          checkOutput('dhidden', await gpu.read(dhidden, 'f32', c.N * c.C), wantH, BOUND),
          ...(dweight
            ? [checkOutput('dweight', await gpu.read(dweight, 'f32', c.V * c.C), wantW, BOUND)]
            : []),
        ];
      }),
  };
}

export const lmHeadLossChecks: KernelCheck[] = CASES.flatMap((c) => [forwardCheck(c), backwardCheck(c)]);
