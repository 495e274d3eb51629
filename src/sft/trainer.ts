// The SFT loop: AdamW on the GPU with a warmup + decay schedule, gradient accumulation, global-norm clipping,
// dropout only while training, evaluation every N steps and at each epoch end, early stopping that restores the best
// weights, and a stop on a non-finite loss that leaves the last good checkpoint alone. Platform-neutral: files are
// written by the caller's onCheckpoint.
import type { Gpu } from '../gpu/gpu.ts';
import { InputError } from '../util/errors.ts';
import { manualSeed, noGrad, randomOffset } from '../autograd/tape.ts';
import * as F from '../autograd/functional.ts';
import type { Tensor } from '../autograd/tensor.ts';
import type { Module } from '../nn/module.ts';
import { AdamW, type AdamWState } from '../optim/adamw.ts';
import { lrAt, type LrSchedule } from './schedule.ts';
import type { EvalSums, Task } from './tasks.ts';

export interface TrainerOptions {
  epochs: number;
  /** Stop after this many optimizer steps; 0 = run every epoch. */
  maxSteps: number;
  gradAccum: number;
  lr: number;
  lrSchedule: LrSchedule;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  clipGradNorm: number;
  seed: number;
  /** Evaluate on the validation set every N optimizer steps; 0 = only at epoch ends. */
  evalEvery: number;
  /** Stop after this many evaluations without a better validation loss; 0 = never. */
  patience: number;
  /** End with the weights of the best validation loss even without early stopping (cheap for a small head). */
  restoreBest?: boolean;
}

export interface Metrics {
  loss: number;
  perplexity: number;
  accuracy: number;
  count: number;
}

export type TrainEvent =
  | {
      type: 'step';
      step: number;
      epoch: number;
      loss: number;
      lr: number;
      gradNorm: number;
      tokensPerSecond: number;
      totalSteps: number;
      elapsedSeconds: number;
    }
  | { type: 'eval'; step: number; epoch: number; split: string; metrics: Metrics; best: boolean }
  | { type: 'early-stop'; step: number; bestStep: number; bestLoss: number }
  | {
      type: 'nonfinite';
      step: number;
      /** What was not finite: the training loss, the weights after the update, or the validation loss. */
      what: 'loss' | 'weights' | 'val-loss';
      loss: number;
      /** The first parameter whose updated weights are not finite (what = 'weights'). */
      tensor?: string;
    }
  | { type: 'done'; step: number; reason: 'epochs' | 'max-steps' | 'early-stop' | 'stopped' | 'nonfinite' };

/** Where training is, saved in checkpoints so --resume continues exactly. */
export interface TrainerState {
  step: number;
  epoch: number;
  batchInEpoch: number;
  randomOffset: number;
  bestLoss: number;
  bestStep: number;
  evalsWithoutBetter: number;
}

/** Weights a checkpoint needs besides the model's own, for --resume to continue exactly. */
export interface CheckpointWeights {
  /**
   * The trainable tensors of the best validation loss (HF names), when early stopping or restoreBest keeps them and
   * they changed since the last checkpoint; null when unchanged (what was persisted still holds) or not kept.
   */
  best: Map<string, Float32Array> | null;
  /**
   * At the final checkpoint, when the model now holds the restored best weights: the trainable tensors at state.step,
   * which a resumed run goes on from. null when the model holds them itself (then any earlier copy is stale).
   */
  current: Map<string, Float32Array> | null;
}

export interface TrainerHooks<Batch> {
  /** The batches of epoch `epoch` (shuffled by the caller from seed + epoch). */
  trainBatches(epoch: number): Batch[];
  valBatches?: Batch[];
  onEvent?(event: TrainEvent): void;
  /** Persist model + optimizer + trainer state (called after each evaluation and at the end). */
  onCheckpoint?(
    state: TrainerState,
    optimizer: AdamWState,
    reason: 'eval' | 'final',
    weights: CheckpointWeights,
  ): Promise<void>;
  /** Polled between steps: return true to stop (the demo's Stop button). */
  shouldStop?(): boolean;
}

/** Loss, perplexity and accuracy over batches, in eval mode and without recording. */
export async function evaluateBatches<Batch>(
  gpu: Gpu,
  model: Module,
  task: Task<Batch>,
  batches: Batch[],
): Promise<Metrics> {
  const sums: EvalSums = { loss: 0, correct: 0, count: 0 };
  const wasTraining = model.training;
  model.eval();
  for (const whole of batches) {
    for (const { batch } of task.passes?.(whole) ?? [{ batch: whole }]) {
      using _scope = gpu.scope('eval-batch');
      await noGrad(gpu, () => task.evaluate(batch, sums));
    }
  }
  model.train(wasTraining);
  const loss = sums.count > 0 ? sums.loss / sums.count : NaN;
  return {
    loss,
    perplexity: Math.exp(loss),
    accuracy: sums.count > 0 ? sums.correct / sums.count : NaN,
    count: sums.count,
  };
}

export class Trainer<Batch> {
  readonly optimizer: AdamW;
  state: TrainerState;
  private best: Map<string, Float32Array> | null = null;
  private bestChanged = false; // since the last checkpoint

  constructor(
    readonly gpu: Gpu,
    readonly model: Module,
    readonly task: Task<Batch>,
    readonly options: TrainerOptions,
  ) {
    this.optimizer = new AdamW(gpu, model.namedParameters(), {
      lr: options.lr,
      beta1: options.beta1,
      beta2: options.beta2,
      eps: options.eps,
      weightDecay: options.weightDecay,
      clipGradNorm: options.clipGradNorm,
    });
    this.state = {
      step: 0,
      epoch: 0,
      batchInEpoch: 0,
      randomOffset: 0,
      bestLoss: Infinity,
      bestStep: 0,
      evalsWithoutBetter: 0,
    };
  }

  /** Whether the best weights are kept and restored at the end (early stopping, or restoreBest). */
  get keepsBest(): boolean {
    return this.options.patience > 0 || this.options.restoreBest === true;
  }

  /**
   * Continue from a checkpoint: its trainer and optimizer state, and (with early stopping or restoreBest) its best
   * weights, so that a best evaluation from before the interruption is still the one restored.
   */
  resume(state: TrainerState, optimizer: AdamWState, best?: Map<string, Float32Array>): void {
    this.state = { ...state };
    this.optimizer.importState(optimizer);
    if (best && this.keepsBest) {
      for (const [name, t] of this.model.namedParameters()) {
        const w = best.get(name);
        if (t.requiresGrad && w?.length !== t.size) {
          throw new InputError(
            `resume: best weights ${name}, expected ${t.size} values, got ${w ? w.length : 'none'}`,
          );
        }
      }
      this.best = best;
    }
  }

  evaluate(batches: Batch[]): Promise<Metrics> {
    return evaluateBatches(this.gpu, this.model, this.task, batches);
  }

  async train(hooks: TrainerHooks<Batch>): Promise<TrainEvent & { type: 'done' }> {
    const o = this.options;
    const emit = (e: TrainEvent) => hooks.onEvent?.(e);
    const stepsPerEpoch = Math.floor(hooks.trainBatches(0).length / o.gradAccum);
    if (stepsPerEpoch === 0)
      throw new InputError(
        `train: batches per epoch, expected at least --grad-accum ${o.gradAccum}, got ${hooks.trainBatches(0).length}`,
      );
    const totalSteps =
      o.maxSteps > 0 ? Math.min(o.maxSteps, stepsPerEpoch * o.epochs) : stepsPerEpoch * o.epochs;
    if (this.state.step >= totalSteps)
      throw new InputError(
        `train: steps, expected a total above the ${this.state.step} already done, got ${totalSteps} (--max-steps ${o.maxSteps}, --epochs ${o.epochs})`,
        'a resumed run goes on to a larger --max-steps or more --epochs',
      );
    manualSeed(this.gpu, o.seed, this.state.randomOffset);
    this.model.train();
    const started = performance.now();
    let reason: 'epochs' | 'max-steps' | 'early-stop' | 'stopped' | 'nonfinite' = 'epochs';
    const finish = async () => {
      let current: Map<string, Float32Array> | null = null;
      if (this.keepsBest && this.best && this.state.bestStep !== this.state.step) {
        current = await this.trainableWeights(); // what a resumed run goes on from
        this.loadBest();
      }
      if (reason !== 'nonfinite') await this.checkpoint(hooks, 'final', current);
      const done = { type: 'done' as const, step: this.state.step, reason };
      emit(done);
      return done;
    };
    for (; this.state.epoch < o.epochs; this.state.epoch++, this.state.batchInEpoch = 0) {
      const batches = hooks.trainBatches(this.state.epoch);
      while (this.state.batchInEpoch + o.gradAccum <= batches.length) {
        if (this.state.step >= totalSteps) return ((reason = 'max-steps'), finish());
        if (hooks.shouldStop?.()) return ((reason = 'stopped'), finish());
        const t0 = performance.now();
        const { loss, tokens } = await this.step(
          batches.slice(this.state.batchInEpoch, this.state.batchInEpoch + o.gradAccum),
          totalSteps,
        );
        this.state.batchInEpoch += o.gradAccum;
        this.state.randomOffset = randomOffset(this.gpu);
        if (!Number.isFinite(loss)) {
          emit({ type: 'nonfinite', step: this.state.step, what: 'loss', loss });
          return ((reason = 'nonfinite'), finish());
        }
        // The update itself can overflow with a finite loss (a huge learning rate): never go on from, or save, those.
        const tensor = await this.optimizer.nonFiniteParameter();
        if (tensor !== null) {
          emit({ type: 'nonfinite', step: this.state.step, what: 'weights', loss, tensor });
          return ((reason = 'nonfinite'), finish());
        }
        const gradNorm = await this.optimizer.lastGradNorm();
        const seconds = (performance.now() - t0) / 1000;
        emit({
          type: 'step',
          step: this.state.step,
          epoch: this.state.epoch,
          loss,
          lr: this.optimizer.lr,
          gradNorm,
          tokensPerSecond: tokens / seconds,
          totalSteps,
          elapsedSeconds: (performance.now() - started) / 1000,
        });
        if (o.evalEvery > 0 && this.state.step % o.evalEvery === 0) {
          const stop = await this.validate(hooks);
          if (stop) return ((reason = stop), finish());
        }
      }
      const lastStep = this.state.step >= totalSteps;
      if (!(o.evalEvery > 0 && this.state.step % o.evalEvery === 0)) {
        const stop = await this.validate(hooks);
        if (stop) return ((reason = stop), finish());
      }
      if (lastStep && o.maxSteps > 0) return ((reason = 'max-steps'), finish());
    }
    return finish();
  }

  /** One optimizer step over gradAccum micro-batches; returns the mean loss. */
  private async step(micro: Batch[], totalSteps: number): Promise<{ loss: number; tokens: number }> {
    const opt = this.optimizer;
    opt.zeroGrad();
    let lossSum = 0;
    let tokens = 0;
    for (const whole of micro) {
      // A batch too large for the device in one pass runs in passes, each loss weighted by its share of the targets:
      // the gradient is the whole batch's mean, summed pass by pass into the parameters' .grad.
      for (const { batch, share } of this.task.passes?.(whole) ?? [{ batch: whole, share: 1 }]) {
        using _scope = this.gpu.scope('train-step');
        const { loss, count } = this.task.loss(batch);
        if (count === 0) continue;
        const weight = share / micro.length;
        const scaled: Tensor = weight !== 1 ? F.scale(loss, weight) : loss;
        scaled.backward();
        lossSum += (await loss.readF32())[0] * share;
        tokens += count;
      }
    }
    opt.lr = lrAt(this.state.step, {
      lr: this.options.lr,
      schedule: this.options.lrSchedule,
      warmupSteps: this.options.warmupSteps,
      totalSteps,
    });
    this.state.step++;
    opt.step();
    return { loss: lossSum / micro.length, tokens };
  }

  /**
   * Evaluate on validation data, track the best, checkpoint; 'early-stop' when patience has run out, 'nonfinite'
   * (and no checkpoint) when the validation loss is not finite.
   */
  private async validate(hooks: TrainerHooks<Batch>): Promise<'early-stop' | 'nonfinite' | null> {
    if (!hooks.valBatches?.length) {
      await this.checkpoint(hooks, 'eval');
      return null;
    }
    const metrics = await this.evaluate(hooks.valBatches);
    if (metrics.count > 0 && !Number.isFinite(metrics.loss)) {
      hooks.onEvent?.({ type: 'nonfinite', step: this.state.step, what: 'val-loss', loss: metrics.loss });
      return 'nonfinite';
    }
    const better = metrics.loss < this.state.bestLoss;
    if (better) {
      this.state.bestLoss = metrics.loss;
      this.state.bestStep = this.state.step;
      this.state.evalsWithoutBetter = 0;
      if (this.keepsBest) await this.snapshotBest();
    } else {
      this.state.evalsWithoutBetter++;
    }
    hooks.onEvent?.({
      type: 'eval',
      step: this.state.step,
      epoch: this.state.epoch,
      split: 'val',
      metrics,
      best: better,
    });
    await this.checkpoint(hooks, 'eval');
    if (this.options.patience > 0 && this.state.evalsWithoutBetter >= this.options.patience) {
      hooks.onEvent?.({
        type: 'early-stop',
        step: this.state.step,
        bestStep: this.state.bestStep,
        bestLoss: this.state.bestLoss,
      });
      return 'early-stop';
    }
    return null;
  }

  private async checkpoint(
    hooks: TrainerHooks<Batch>,
    reason: 'eval' | 'final',
    current: Map<string, Float32Array> | null = null,
  ): Promise<void> {
    if (!hooks.onCheckpoint) return;
    const best = this.bestChanged ? this.best : null;
    await hooks.onCheckpoint({ ...this.state }, await this.optimizer.exportState(), reason, {
      best,
      current,
    });
    this.bestChanged = false;
  }

  private async trainableWeights(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, t] of this.model.namedParameters())
      if (t.requiresGrad) out.set(name, await t.readF32());
    return out;
  }

  private async snapshotBest(): Promise<void> {
    this.best = await this.trainableWeights();
    this.bestChanged = true;
  }

  private loadBest(): void {
    if (!this.best) return;
    for (const [name, data] of this.best) this.model.load(name, data);
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
