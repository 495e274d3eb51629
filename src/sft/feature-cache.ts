// Feature-based fine-tuning trains only the head, on a frozen backbone run in eval mode (no dropout), so each
// example's last-token hidden state never changes: compute it once, in length-sorted batches so little is padding,
// and let every epoch train the head on the cached features, which costs one small matmul per batch.
import { noGrad } from '../autograd/tape.ts';
import { Tensor } from '../autograd/tensor.ts';
import { checkBatchOptions } from './batching.ts';
import { classificationBatches, type ClassExample } from './classification.ts';
import type { SequenceClassifier } from './classifier.ts';
import { checkPositiveInt } from '../util/check-args.ts';
import { shuffled } from './splits.ts';

export interface FeatureExample {
  features: Float32Array; // (C), the backbone's final hidden state at the last real token
  label: number;
}

export interface FeatureBatch {
  features: Float32Array; // (B·C)
  labels: Int32Array; // (B)
  B: number;
  C: number;
}

/** Each example's last-token features, in the examples' order; the classifier's training mode is left as found. */
export async function lastTokenFeatures(
  classifier: SequenceClassifier,
  examples: readonly ClassExample[],
  options: { batchSize: number; padId: number },
): Promise<FeatureExample[]> {
  checkBatchOptions('lastTokenFeatures', options);
  const gpu = classifier.gpu;
  const C = classifier.backbone.hiddenSize;
  const order = examples.map((e, i) => ({ ...e, index: i })).sort((a, b) => a.ids.length - b.ids.length);
  const out: FeatureExample[] = new Array<FeatureExample>(examples.length);
  const wasTraining = classifier.training;
  classifier.eval();
  try {
    for (let i = 0; i < order.length; i += options.batchSize) {
      const chunk = order.slice(i, i + options.batchSize);
      const [batch] = classificationBatches(chunk, {
        ...options,
        batchSize: chunk.length,
        shuffle: false,
        seed: 0,
      });
      using _scope = gpu.scope('feature-cache');
      const features = await noGrad(gpu, () => {
        const ids = Tensor.from(gpu, batch.ids, [batch.B, batch.T], { label: 'ids' });
        return classifier.features(ids, batch.lastIndex).readF32(); // (B·C)
      });
      chunk.forEach(
        (e, b) => (out[e.index] = { features: features.slice(b * C, (b + 1) * C), label: e.label }),
      );
    }
  } finally {
    classifier.train(wasTraining);
  }
  return out;
}

/** Batches of cached features for one pass (seeded shuffle first unless shuffle is false). */
export function featureBatches(
  examples: readonly FeatureExample[],
  options: { batchSize: number; shuffle: boolean; seed: number },
): FeatureBatch[] {
  checkPositiveInt('featureBatches', 'batchSize', options.batchSize);
  const order = options.shuffle ? shuffled(examples, options.seed) : examples.slice();
  const C = order[0]?.features.length ?? 0;
  const batches: FeatureBatch[] = [];
  for (let i = 0; i < order.length; i += options.batchSize) {
    const chunk = order.slice(i, i + options.batchSize);
    const features = new Float32Array(chunk.length * C); // (B·C)
    chunk.forEach((e, b) => features.set(e.features, b * C));
    batches.push({ features, labels: Int32Array.from(chunk, (e) => e.label), B: chunk.length, C });
  }
  return batches;
}
