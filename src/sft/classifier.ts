// Feature-based fine-tuning's model: a frozen language model's final hidden state at each row's last non-padding
// token, through a new linear head. Saved as Hugging Face's <Arch>ForSequenceClassification: `score.weight`
// [num_labels, hidden], no bias.
import type { Gpu } from '../gpu/gpu.ts';
import { Tensor } from '../autograd/tensor.ts';
import * as F from '../autograd/functional.ts';
import { Module } from '../nn/module.ts';
import { Linear } from '../nn/layers.ts';
import { Rng } from '../util/random.ts';
import type { LanguageModel } from '../models/language-model.ts';

export class SequenceClassifier extends Module {
  readonly score: Linear;

  constructor(
    gpu: Gpu,
    readonly backbone: LanguageModel,
    readonly numLabels: number,
    seed = 0,
  ) {
    super(gpu);
    this.addModule('', backbone);
    const C = backbone.hiddenSize;
    this.score = this.addModule(
      'score',
      new Linear(gpu, C, numLabels, {
        bias: false,
        layout: 'out-in',
        init: new Rng(seed).normal(numLabels * C, 0.02),
      }),
    );
  }

  /** Final hidden state (B, C) at each row's last real token, from ids (B, T) and those indices (B). */
  features(ids: Tensor, lastIndex: Int32Array): Tensor {
    const [B, T] = ids.shape;
    const hidden = F.reshape(this.backbone.hidden(ids), [B * T, this.backbone.hiddenSize]); // (B·T, C)
    const rows = Tensor.from(
      this.gpu,
      Int32Array.from(lastIndex, (t, b) => b * T + t),
      [B],
      { label: 'last_token_rows' },
    );
    return F.embedding(rows, hidden); // (B, C)
  }

  /** Class logits (B, numLabels) from features (B, C). */
  classify(features: Tensor): Tensor {
    return this.score.forward(features);
  }

  /** Class logits (B, numLabels) from ids (B, T) and each row's last real token index (B). */
  forward(ids: Tensor, lastIndex: Int32Array): Tensor {
    return this.classify(this.features(ids, lastIndex));
  }
}
