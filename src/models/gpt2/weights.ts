// GPT-2 weights in from Hugging Face safetensors. Engine names are GPT2LMHeadModel keys
// (`transformer.h.0.attn.c_attn.weight`); files saved from GPT2Model lack the `transformer.` prefix. Conv1D weights
// are [in, out] in both places, so nothing is transposed; model.exportTensors() writes them back.
import type { TensorStore } from '../../io/safetensors.ts';
import { loadNamedWeights, type WeightLayout } from '../named-weights.ts';
import type { Gpt2Model } from './model.ts';

const LAYOUT: Omit<WeightLayout, 'tiedHead'> = {
  architecture: 'GPT-2',
  prefix: 'transformer.',
  anchor: 'wte.weight',
  // The causal-mask buffers some checkpoints carry, and the head GPT2ForSequenceClassification adds.
  ignored: [/\.attn\.bias$/, /\.attn\.masked_bias$/, /^score\.weight$/, /^score\.bias$/],
  missingHint: () => undefined,
  shapeHint: (key) =>
    key.includes('.c_') ? 'HF Conv1D weights are stored [in, out]' : 'does config.json match this file?',
  unknownHint: () => 'a different architecture, or a config that does not match',
};

export async function loadGpt2Weights(model: Gpt2Model, store: TensorStore): Promise<void> {
  await loadNamedWeights(model, store, { ...LAYOUT, tiedHead: model.config.tieWordEmbeddings });
}
