// The kinds of supervised task the trainer runs: next-token prediction on masked targets (full and layer-wise
// fine-tuning), and sequence classification through a new head, from token ids or from cached backbone features
// (feature-based). Each turns a CPU batch into a loss inside the caller's scope, and accumulates evaluation sums.
import type { Gpu } from '../gpu/gpu.ts';
import { Tensor } from '../autograd/tensor.ts';
import * as F from '../autograd/functional.ts';
import { crossEntropyAccuracy } from '../kernels/cross-entropy.ts';
import type { LanguageModel } from '../models/language-model.ts';
import type { SequenceClassifier } from './classifier.ts';
import type { FeatureBatch } from './feature-cache.ts';

export interface LmBatch {
  ids: Int32Array; // (B·T)
  targets: Int32Array; // (B·T), -100 where not a target
  B: number;
  T: number;
}

export interface ClassBatch {
  ids: Int32Array; // (B·T)
  lastIndex: Int32Array; // (B)
  labels: Int32Array; // (B)
  B: number;
  T: number;
}

/** Sums over an evaluation; metrics() turns them into means. */
export interface EvalSums {
  loss: number; // Σ loss·count
  correct: number;
  count: number;
}

export interface Task<Batch> {
  /** Mean loss of one batch (a scalar tensor in the current scope), and how many targets it averaged. */
  loss(batch: Batch): { loss: Tensor; count: number };
  /** Add one batch's loss and accuracy sums (called inside noGrad). */
  evaluate(batch: Batch, sums: EvalSums): Promise<void>;
}

async function accuracySums(gpu: Gpu, logits: Tensor, targets: Tensor, sums: EvalSums, loss: Tensor, count: number): Promise<void> {
  const V = logits.shape[logits.shape.length - 1];
  const correct = Tensor.empty(gpu, [1], 'eval.correct');
  const counted = Tensor.empty(gpu, [1], 'eval.counted');
  crossEntropyAccuracy(gpu, correct.buf(), counted.buf(), logits.buf(), targets.buf(), { N: logits.size / V, V });
  sums.loss += (await loss.readF32())[0] * count;
  sums.correct += (await correct.readF32())[0];
  sums.count += count;
}

/** Causal LM: logits are computed only at target positions, so prompt and padding rows skip the vocabulary matmul. */
export class LmTask implements Task<LmBatch> {
  constructor(readonly model: LanguageModel) {}

  private logitsAtTargets(batch: LmBatch) {
    const gpu = this.model.gpu;
    const rows: number[] = [];
    const targets: number[] = [];
    batch.targets.forEach((t, i) => {
      if (t !== -100) {
        rows.push(i);
        targets.push(t);
      }
    });
    const ids = Tensor.from(gpu, batch.ids, [batch.B, batch.T], { label: 'ids' });
    const hidden = F.reshape(this.model.hidden(ids), [batch.B * batch.T, this.model.hiddenSize]); // (B·T, C)
    const picked = F.embedding(Tensor.from(gpu, Int32Array.from(rows), [rows.length], { label: 'target_rows' }), hidden); // (n, C)
    const logits = this.model.logits(picked); // (n, V)
    return { logits, targets: Tensor.from(gpu, Int32Array.from(targets), [targets.length], { label: 'targets' }) };
  }

  loss(batch: LmBatch) {
    const { logits, targets } = this.logitsAtTargets(batch);
    return { loss: F.crossEntropy(logits, targets), count: targets.size };
  }

  async evaluate(batch: LmBatch, sums: EvalSums): Promise<void> {
    const { logits, targets } = this.logitsAtTargets(batch);
    if (targets.size === 0) return;
    await accuracySums(this.model.gpu, logits, targets, sums, F.crossEntropy(logits, targets), targets.size);
  }
}

export class ClassificationTask implements Task<ClassBatch> {
  constructor(readonly model: SequenceClassifier) {}

  private run(batch: ClassBatch) {
    const gpu = this.model.gpu;
    const ids = Tensor.from(gpu, batch.ids, [batch.B, batch.T], { label: 'ids' });
    const logits = this.model.forward(ids, batch.lastIndex); // (B, labels)
    return { logits, labels: Tensor.from(gpu, batch.labels, [batch.B], { label: 'labels' }) };
  }

  loss(batch: ClassBatch) {
    const { logits, labels } = this.run(batch);
    return { loss: F.crossEntropy(logits, labels), count: batch.B };
  }

  async evaluate(batch: ClassBatch, sums: EvalSums): Promise<void> {
    const { logits, labels } = this.run(batch);
    await accuracySums(this.model.gpu, logits, labels, sums, F.crossEntropy(logits, labels), batch.B);
  }
}

/** Classification from cached last-token features (see feature-cache.ts): only the head runs. */
export class HeadTask implements Task<FeatureBatch> {
  constructor(readonly model: SequenceClassifier) {}

  private run(batch: FeatureBatch) {
    const gpu = this.model.gpu;
    const features = Tensor.from(gpu, batch.features, [batch.B, batch.C], { label: 'features' });
    const logits = this.model.classify(features); // (B, labels)
    return { logits, labels: Tensor.from(gpu, batch.labels, [batch.B], { label: 'labels' }) };
  }

  loss(batch: FeatureBatch) {
    const { logits, labels } = this.run(batch);
    return { loss: F.crossEntropy(logits, labels), count: batch.B };
  }

  async evaluate(batch: FeatureBatch, sums: EvalSums): Promise<void> {
    const { logits, labels } = this.run(batch);
    await accuracySums(this.model.gpu, logits, labels, sums, F.crossEntropy(logits, labels), batch.B);
  }
}
