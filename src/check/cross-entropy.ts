// GPU-vs-reference checks for cross-entropy: V = 1, 2, WG ± 1, 50257 (GPT-2), primes, N above the workgroup size,
// ignored rows (−100), an all-ignored batch, and confident rows (logits with σ = 12, every target the argmax)
// whose loss is tiny: the kernel keeps Σ exp(x − max) over the non-max elements apart from the max's 1, so those
// losses and p − 1 stay relatively exact (with log Σ, N = 3, V = 2 failed ~1 seed in 600). Loss and gradients are f32
// sums of exps in a fixed order: bound relL2 ≤ 1e-5. Accuracy counts are integers: exact. Accuracy inputs are small integers so that argmax ties occur.
import type { Gpu } from '../gpu/gpu.ts';
import { crossEntropyAccuracy, crossEntropyBackward, crossEntropyForward } from '../kernels/cross-entropy.ts';
import {
  crossEntropyAccuracyRef,
  crossEntropyBackwardRef,
  crossEntropyForwardRef,
  IGNORE_INDEX,
} from '../reference/cross-entropy.ts';
import { checkOutput, poison, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { CrossEntropyDims } from '../ops/dims.ts';

const BOUND = 1e-5;
const EXACT = 0;

interface Case extends CrossEntropyDims {
  /** Row i is ignored when i % ignoreEvery === ignoreEvery − 1; 1 ignores every row, 0 none. */
  ignoreEvery: number;
  /** Logits are normal with this σ (default 3); confident rows need a wide spread. */
  spread?: number;
  /** Every target is its row's argmax (the confident case), not uniform. */
  argmaxTargets?: boolean;
}

const CASES: Case[] = [
  { N: 1, V: 1, ignoreEvery: 0 },
  { N: 3, V: 2, ignoreEvery: 0 },
  { N: 5, V: 1, ignoreEvery: 2 },
  { N: 7, V: 255, ignoreEvery: 3 },
  { N: 4, V: 257, ignoreEvery: 0 },
  { N: 4, V: 13, ignoreEvery: 1 },
  { N: 2, V: 50257, ignoreEvery: 0 },
  { N: 301, V: 3, ignoreEvery: 4 },
  { N: 37, V: 1031, ignoreEvery: 5 },
  // The hardware row width (a software adapter defaults to 32 invocations per row).
  { N: 2, V: 50257, ignoreEvery: 0, maxWorkgroup: 256 },
  { N: 37, V: 1031, ignoreEvery: 5, maxWorkgroup: 256 },
  { N: 8, V: 2, ignoreEvery: 0, spread: 12, argmaxTargets: true },
  { N: 6, V: 7, ignoreEvery: 0, spread: 12, argmaxTargets: true },
];

function describe(c: Case): string {
  const ignored = c.ignoreEvery === 1 ? ' all ignored' : c.ignoreEvery ? ` ignore 1/${c.ignoreEvery}` : '';
  const confident = c.argmaxTargets ? ` σ=${c.spread ?? 3} argmax targets` : '';
  const width = c.maxWorkgroup ? ` wg ${c.maxWorkgroup}` : '';
  return `N=${c.N} V=${c.V}${ignored}${confident}${width}`;
}

/** Targets in [0, V), with −100 on the ignored rows; with logits, every `every`-th target is the row's argmax. */
function makeTargets(rng: Rng, c: Case, logits?: Float32Array, every = 2): Int32Array {
  const targets = rng.int(c.N, 0, c.V);
  for (let i = 0; i < c.N; i++) {
    if (c.ignoreEvery && i % c.ignoreEvery === c.ignoreEvery - 1) targets[i] = IGNORE_INDEX;
    else if (logits && i % every === 0) {
      let best = 0;
      for (let j = 1; j < c.V; j++) if (logits[i * c.V + j] > logits[i * c.V + best]) best = j;
      targets[i] = best;
    }
  }
  return targets;
}

function forwardCheck(c: Case): KernelCheck {
  return {
    kernel: 'cross-entropy forward',
    size: describe(c),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'cross-entropy', async () => {
        const logits = rng.normal(c.N * c.V, c.spread ?? 3); // (N, V)
        const targets = c.argmaxTargets ? makeTargets(rng, c, logits, 1) : makeTargets(rng, c); // (N)
        const loss = gpu.alloc('loss', 4); // (1)
        const losses = gpu.alloc('losses', c.N * 4); // (N)
        poison(gpu, loss);
        poison(gpu, losses);
        crossEntropyForward(
          gpu,
          loss,
          losses,
          gpu.upload('logits', logits),
          gpu.upload('targets', targets),
          c,
        );
        const wantLoss = new Float64Array(1);
        const wantLosses = new Float64Array(c.N);
        crossEntropyForwardRef(wantLoss, wantLosses, toF64(logits), targets, c);
        return [
          checkOutput('loss', await gpu.read(loss, 'f32', 1), wantLoss, BOUND),
          checkOutput('losses', await gpu.read(losses, 'f32', c.N), wantLosses, BOUND),
        ];
      }),
  };
}

/** With `saved`, the backward takes the row statistics the forward wrote (the autograd path) instead of its own. */
function backwardCheck(c: Case, saved = false): KernelCheck {
  return {
    kernel: 'cross-entropy backward',
    size: `${describe(c)}${saved ? ' saved stats' : ''}`,
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'cross-entropy', async () => {
        const logits = rng.normal(c.N * c.V, c.spread ?? 3); // (N, V)
        const targets = c.argmaxTargets ? makeTargets(rng, c, logits, 1) : makeTargets(rng, c); // (N)
        const dloss = rng.uniform(1, 0.5, 2); // (1)
        const dlogits = gpu.alloc('dlogits', c.N * c.V * 4); // (N, V)
        poison(gpu, dlogits);
        const inputs = [
          gpu.upload('dloss', dloss),
          gpu.upload('logits', logits),
          gpu.upload('targets', targets),
        ];
        let stats: GPUBuffer | undefined;
        if (saved) {
          stats = gpu.alloc('stats', c.N * 8); // (N, 2)
          poison(gpu, stats);
          crossEntropyForward(
            gpu,
            gpu.alloc('loss', 4),
            gpu.alloc('losses', c.N * 4),
            inputs[1],
            inputs[2],
            c,
            stats,
          );
        }
        crossEntropyBackward(gpu, dlogits, inputs[0], inputs[1], inputs[2], c, stats);
        const want = new Float64Array(c.N * c.V);
        crossEntropyBackwardRef(want, toF64(dloss), toF64(logits), targets, c);
        return [checkOutput('dlogits', await gpu.read(dlogits, 'f32', c.N * c.V), want, BOUND)];
      }),
  };
}

function accuracyCheck(c: Case): KernelCheck {
  return {
    kernel: 'cross-entropy accuracy',
    size: describe(c),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'cross-entropy', async () => {
        const logits = Float32Array.from(rng.int(c.N * c.V, 0, 3)); // (N, V), ties on purpose
        const targets = makeTargets(rng, c, logits); // (N)
        const correct = gpu.alloc('correct', 4); // (1)
        const counted = gpu.alloc('counted', 4); // (1)
        poison(gpu, correct);
        poison(gpu, counted);
        crossEntropyAccuracy(
          gpu,
          correct,
          counted,
          gpu.upload('logits', logits),
          gpu.upload('targets', targets),
          c,
        );
        const wantCorrect = new Float64Array(1);
        const wantCounted = new Float64Array(1);
        crossEntropyAccuracyRef(wantCorrect, wantCounted, toF64(logits), targets, c);
        return [
          checkOutput('correct', await gpu.read(correct, 'f32', 1), wantCorrect, EXACT),
          checkOutput('counted', await gpu.read(counted, 'f32', 1), wantCounted, EXACT),
        ];
      }),
  };
}

export const crossEntropyChecks: KernelCheck[] = CASES.flatMap((c) => [
  forwardCheck(c),
  backwardCheck(c),
  backwardCheck(c, true),
  accuracyCheck(c),
]);
