// Llama weights in from Hugging Face safetensors. Engine names are LlamaForCausalLM keys
// (`model.layers.0.self_attn.q_proj.weight`); files saved from the bare LlamaModel lack the `model.` prefix.
// Linear weights are [out, in] in both places, so nothing is transposed; model.exportTensors() writes them back.
import type { TensorStore } from '../../io/safetensors.ts';
import { loadNamedWeights, type WeightLayout } from '../named-weights.ts';
import type { LlamaModel } from './model.ts';

const LAYOUT: Omit<WeightLayout, 'tiedHead'> = {
  architecture: 'Llama',
  prefix: 'model.',
  anchor: 'embed_tokens.weight',
  // RoPE frequencies older checkpoints carry (recomputed here), and the head LlamaForSequenceClassification adds.
  ignored: [/\.rotary_emb\.inv_freq$/, /^score\.weight$/, /^score\.bias$/],
  missingHint: (key) =>
    key === 'lm_head.weight'
      ? 'no lm_head in the file: is tie_word_embeddings missing from config.json?'
      : key.endsWith('.bias')
        ? 'config.json asks for attention_bias or mlp_bias'
        : undefined,
  shapeHint: (key) =>
    key.endsWith('_proj.weight')
      ? 'Linear weights are [out, in]; check num_key_value_heads, head_dim and intermediate_size in config.json'
      : 'does config.json match this file?',
  unknownHint: (key) =>
    key.endsWith('.bias')
      ? 'config.json says attention_bias / mlp_bias false, but the file has biases'
      : 'a different architecture, or a config that does not match',
};

export async function loadLlamaWeights(model: LlamaModel, store: TensorStore): Promise<void> {
  await loadNamedWeights(model, store, { ...LAYOUT, tiedHead: model.config.tieWordEmbeddings });
}
