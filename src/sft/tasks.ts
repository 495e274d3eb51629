// The kinds of supervised task the trainer runs: next-token prediction on masked targets (full and layer-wise
// fine-tuning), and sequence classification through a new head, from token ids or from cached backbone features
// (feature-based). Each turns a CPU batch into a loss inside the caller's scope, and accumulates evaluation sums.
import type { Gpu } from '../gpu/gpu.ts';
import { Tensor } from '../autograd/tensor.ts';
import * as F from '../autograd/functional.ts';
import { crossEntropyAccuracy } from '../kernels/cross-entropy.ts';
import { lmHeadLossForward } from '../kernels/lm-head-loss.ts';
import type { LanguageModel } from '../models/language-model.ts';
import type { SequenceClassifier } from './classifier.ts';
import type { FeatureBatch } from './feature-cache.ts';
import { IGNORE_INDEX, type LmBatch } from './batching.ts';
import { InputError } from '../util/errors.ts';
import type { ClassBatch } from './classification.ts';

/** Sums over an evaluation; metrics() turns them into means. */
export interface EvalSums {
  loss: number; // Σ loss·count
  correct: number;
  count: number;
}

export interface Task<Batch> {
  /** Mean loss of one batch (a scalar tensor in the current scope), and how many targets it averaged. */
  loss(batch: Batch): { loss: Tensor; count: number };
  /**
   * The passes a batch runs in, each with its share of the batch's targets (the shares sum to 1), when its activations
   * do not fit the device in one (see LmTaskOptions.rowsPerPass). The trainer runs forward and backward per pass with
   * the loss scaled by its share, so the gradient is the whole batch's mean. Absent: one pass.
   */
  passes?(batch: Batch): { batch: Batch; share: number }[];
  /** Add one batch's loss and accuracy sums (called inside noGrad). */
  evaluate(batch: Batch, sums: EvalSums): Promise<void>;
}

async function accuracySums(
  gpu: Gpu,
  logits: Tensor,
  targets: Tensor,
  sums: EvalSums,
  loss: Tensor,
  count: number,
): Promise<void> {
  const V = logits.shape[logits.shape.length - 1];
  const correct = Tensor.empty(gpu, [1], 'eval.correct');
  const counted = Tensor.empty(gpu, [1], 'eval.counted');
  crossEntropyAccuracy(gpu, correct.buf(), counted.buf(), logits.buf(), targets.buf(), {
    N: logits.size / V,
    V,
  });
  sums.loss += (await loss.readF32())[0] * count;
  sums.correct += (await correct.readF32())[0];
  sums.count += count;
}

export interface LmTaskOptions {
  /** Fused LM head + cross-entropy (default); false takes the logits + cross-entropy path (the bench compares). */
  fusedHead?: boolean;
  /** Rows per chunk of the fused head (default: kernels/lm-head-loss.ts lmHeadChunkRows). */
  headChunk?: number;
  /**
   * Batch rows per forward/backward pass (default: the whole batch). The memory planner lowers it when one of a
   * batch's activations would be past the device's binding or buffer limit (sft/memory-plan.ts).
   */
  rowsPerPass?: number;
  /** The tokens per row rowsPerPass was planned at: a batch padded shorter takes proportionally more rows per pass. */
  passLength?: number;
}

/**
 * Causal LM at target positions only, so prompt and padding rows skip the vocabulary matmul. The loss goes through the
 * fused LM head + cross-entropy (F.lmHeadLoss: no (targets, V) logits held, the gradients computed in the forward chunk
 * by chunk, as fast as the logits path); `fusedHead: false` takes the logits + cross-entropy path instead (the bench
 * compares the two). Evaluation always takes the fused forward (loss and accuracy together).
 */
export class LmTask implements Task<LmBatch> {
  readonly fusedHead: boolean;
  readonly rowsPerPass: number;
  readonly passLength: number | undefined;
  constructor(
    readonly model: LanguageModel,
    private readonly options: LmTaskOptions = {},
  ) {
    this.fusedHead = options.fusedHead ?? true;
    this.rowsPerPass = options.rowsPerPass ?? Infinity;
    this.passLength = options.passLength;
    for (const key of ['rowsPerPass', 'passLength', 'headChunk'] as const) {
      const v = options[key];
      if (v !== undefined && !(v === Infinity || (Number.isInteger(v) && v >= 1)))
        throw new InputError(`LmTask: option '${key}', expected an integer ≥ 1, got ${String(v)}`);
    }
  }

  /**
   * Rows [r, r + rows) of the batch, each pass weighted by its share of the targets; a pass with no target is left out
   * (it has no loss). Rows per pass: rowsPerPass at the planned length, more for a batch padded shorter (activations
   * grow with rows × length).
   */
  passes(batch: LmBatch): { batch: LmBatch; share: number }[] {
    const { T } = batch;
    const rows = this.passLength
      ? Math.max(1, Math.floor((this.rowsPerPass * this.passLength) / T))
      : this.rowsPerPass;
    if (batch.B <= rows) return batch.tokens > 0 ? [{ batch, share: 1 }] : [];
    const out: { batch: LmBatch; share: number }[] = [];
    for (let r = 0; r < batch.B; r += rows) {
      const B = Math.min(rows, batch.B - r);
      const targets = batch.targets.subarray(r * T, (r + B) * T);
      const tokens = targets.reduce((n, t) => n + (t === IGNORE_INDEX ? 0 : 1), 0);
      const ids = batch.ids.subarray(r * T, (r + B) * T);
      if (tokens > 0) out.push({ batch: { ids, targets, B, T, tokens }, share: tokens / batch.tokens });
    }
    return out;
  }

  private hiddenAtTargets(batch: LmBatch) {
    const gpu = this.model.gpu;
    const rows: number[] = [];
    const targets: number[] = [];
    batch.targets.forEach((t, i) => {
      if (t !== IGNORE_INDEX) {
        rows.push(i);
        targets.push(t);
      }
    });
    const ids = Tensor.from(gpu, batch.ids, [batch.B, batch.T], { label: 'ids' });
    const hidden = F.reshape(this.model.hidden(ids), [batch.B * batch.T, this.model.hiddenSize]); // (B·T, C)
    const picked = F.embedding(
      Tensor.from(gpu, Int32Array.from(rows), [rows.length], { label: 'target_rows' }),
      hidden,
    ); // (n, C)
    return {
      picked,
      targets: Tensor.from(gpu, Int32Array.from(targets), [targets.length], { label: 'targets' }),
    };
  }

  loss(batch: LmBatch) {
    const { picked, targets } = this.hiddenAtTargets(batch);
    const loss = this.fusedHead
      ? F.lmHeadLoss(picked, this.model.headWeight(), targets, this.options.headChunk)
      : F.crossEntropy(this.model.logits(picked), targets);
    return { loss, count: targets.size };
  }

  async evaluate(batch: LmBatch, sums: EvalSums): Promise<void> {
    if (batch.tokens === 0) return;
    const { picked, targets } = this.hiddenAtTargets(batch);
    const n = targets.size;
    if (n === 0) return;
    const gpu = this.model.gpu;
    const weight = this.model.headWeight();
    const [loss, count, correct] = ['eval.loss', 'eval.counted', 'eval.correct'].map((l) =>
      Tensor.empty(gpu, [1], l),
    );
    const dims = {
      N: n,
      C: this.model.hiddenSize,
      V: weight.shape[0],
      dtypeW: weight.dtype as 'f32' | 'f16' | 'bf16',
    }; // a 16-bit tied head under --dtype
    const out = { correct: correct.buf() };
    lmHeadLossForward(gpu, loss.buf(), count.buf(), picked.buf(), weight.buf(), targets.buf(), dims, out);
    sums.loss += (await loss.readF32())[0] * n;
    sums.correct += (await correct.readF32())[0];
    sums.count += n;
  }
}

/** Classification: cross-entropy of the classifier's logits against one label per row. */
abstract class LabelTask<Batch extends { B: number; labels: Int32Array }> implements Task<Batch> {
  constructor(readonly model: SequenceClassifier) {}

  protected abstract logits(batch: Batch): Tensor; // (B, labels)

  private run(batch: Batch) {
    const logits = this.logits(batch);
    return { logits, labels: Tensor.from(this.model.gpu, batch.labels, [batch.B], { label: 'labels' }) };
  }

  loss(batch: Batch) {
    const { logits, labels } = this.run(batch);
    return { loss: F.crossEntropy(logits, labels), count: batch.B };
  }

  async evaluate(batch: Batch, sums: EvalSums): Promise<void> {
    const { logits, labels } = this.run(batch);
    await accuracySums(this.model.gpu, logits, labels, sums, F.crossEntropy(logits, labels), batch.B);
  }
}

/** Classification from token ids: the whole classifier runs. */
export class ClassificationTask extends LabelTask<ClassBatch> {
  protected logits(batch: ClassBatch): Tensor {
    const ids = Tensor.from(this.model.gpu, batch.ids, [batch.B, batch.T], { label: 'ids' });
    return this.model.forward(ids, batch.lastIndex);
  }
}

/** Classification from cached last-token features (see feature-cache.ts): only the head runs. */
export class HeadTask extends LabelTask<FeatureBatch> {
  protected logits(batch: FeatureBatch): Tensor {
    const features = Tensor.from(this.model.gpu, batch.features, [batch.B, batch.C], { label: 'features' });
    return this.model.classify(features);
  }
}
