// Runners for one training step (forward, backward, Adam update) on each engine, and the check that ties them: both
// start from the same weights and take the same steps on the same batch, so their losses must agree step by step.
import type { Scalar, Tensor as TfTensor, Variable } from '@tensorflow/tfjs';
import type { Tensor } from '../../src/autograd/tensor.ts';
import type { Runner, SuiteContext } from '../suite.ts';
import type { Sample } from '../timing.ts';

/** The Adam settings both engines use: AdamW with no weight decay and no clipping is tf.train.adam. */
export const ADAM = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipGradNorm: 0 };

/** Our step: `record` records zeroGrad, forward, backward and the optimizer update, and returns the loss. */
export function oursStepRunner(
  { gpu, timer }: SuiteContext,
  record: () => Tensor,
  losses: number[],
  dispose: () => void,
): Runner {
  return {
    async run(): Promise<Sample> {
      using _step = gpu.scope('bench step');
      let loss: Tensor | null = null;
      const sample = await timer.once(() => void (loss = record()));
      losses.push((await loss!.readF32())[0]);
      return sample;
    },
    verify: async () => finiteLosses(losses),
    note: () => lossNote(losses),
    dispose,
  };
}

export interface TfjsStep {
  loss(): Scalar;
  variables: Variable[];
  /** tf.memory().numBytes before the case made any tensor. */
  bytesBefore: number;
  /** Our losses, step by step, for the cross-engine check (null when our case was filtered out). */
  ours(): number[] | null;
  /** Relative loss difference allowed at step i (see compareLosses). */
  tolerance(step: number): number;
  dispose(): void;
}

/** TF.js's step: optimizer.minimize on tf.train.adam; wall time until the loss is read back. */
export function tfjsStepRunner(ctx: SuiteContext, step: TfjsStep): Runner {
  const tf = ctx.tf!;
  const optimizer = tf.train.adam(ADAM.lr, ADAM.beta1, ADAM.beta2, ADAM.eps);
  const minimize = () => optimizer.minimize(() => step.loss(), true, step.variables)!;
  const losses: number[] = [];
  let peak: number | null = null;
  let profiledMs: number | null = null;

  async function run(): Promise<Sample> {
    const start = performance.now();
    const loss = minimize();
    const value = (await loss.data())[0];
    const wallMs = performance.now() - start;
    loss.dispose();
    losses.push(value);
    return { wallMs, gpuMs: null };
  }

  return {
    run,
    // The last warm-up runs under tf.profile: peak tensor bytes, and each kernel's GPU time (timestamp queries).
    async warmUp(last) {
      if (!last) return void (await run());
      const info = await tf.profile(() => minimize());
      const result = info.result as TfTensor;
      losses.push((await result.data())[0]);
      result.dispose();
      peak = info.peakBytes - step.bytesBefore;
      // tf.profile has awaited each kernelTimeMs: 0 for kernels with no GPU program (reshapes, small ops TF.js
      // runs on the CPU), an {error} object when the backend cannot time.
      const times = info.kernels.map((k) => k.kernelTimeMs as unknown);
      const known = times.filter((t): t is number => typeof t === 'number');
      profiledMs = known.length === times.length ? known.reduce((sum, t) => sum + t, 0) : null;
    },
    async verify() {
      const ours = step.ours();
      return finiteLosses(losses) ?? (ours ? compareLosses(ours, losses, step.tolerance) : null);
    },
    note() {
      const ours = step.ours();
      if (!ours || ours.length !== losses.length) return lossNote(losses);
      const worst = Math.max(...losses.map((l, i) => Math.abs(ours[i] - l) / Math.abs(l)));
      return `${lossNote(losses)}; max relative difference from ours ${worst.toExponential(1)}`;
    },
    peakBytes: () => peak,
    profiledGpuMs: () => profiledMs,
    dispose() {
      optimizer.dispose();
      step.dispose();
    },
  };
}

function lossNote(losses: number[]): string {
  return `loss ${losses[0]?.toFixed(4)} → ${losses.at(-1)?.toFixed(4)} over ${losses.length} steps`;
}

function finiteLosses(losses: number[]): string | null {
  const bad = losses.findIndex((l) => !Number.isFinite(l));
  return bad < 0 ? null : `loss at step ${bad}, expected a finite number, got ${losses[bad]}`;
}

/** null when both engines' losses agree at every step within tolerance(step) (relative), else the first miss. */
export function compareLosses(
  ours: number[],
  tfjs: number[],
  tolerance: (step: number) => number,
  peer = 'TF.js',
): string | null {
  if (ours.length !== tfjs.length)
    return `steps, expected ours and ${peer} alike, got ${ours.length} and ${tfjs.length}`;
  for (let i = 0; i < ours.length; i++) {
    const rel = Math.abs(ours[i] - tfjs[i]) / Math.abs(tfjs[i]);
    if (!(rel <= tolerance(i))) {
      return `loss at step ${i}: ours ${ours[i].toFixed(6)}, ${peer} ${tfjs[i].toFixed(6)}, relative difference ${rel.toExponential(2)}, expected ≤ ${tolerance(i)}`;
    }
  }
  return null;
}
