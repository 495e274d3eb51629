// GPT-2 weights in from Hugging Face safetensors. Engine names are GPT2LMHeadModel keys
// (`transformer.h.0.attn.c_attn.weight`); files saved from GPT2Model lack the `transformer.` prefix. Conv1D weights
// are [in, out] in both places, so nothing is transposed; model.exportTensors() writes them back.
import type { TensorStore } from '../../io/safetensors.ts';
import { loadPlannedWeights } from '../named-weights.ts';
import { planWeights, type ExpectedTensor, type WeightLayout, type WeightsPlan } from '../weights-plan.ts';
import type { Gpt2Config } from './config.ts';
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

/** Every parameter Gpt2Model holds for this config, in its registration order, from the config alone. */
export function gpt2Parameters(config: Gpt2Config): ExpectedTensor[] {
  const { vocabSize: V, nPositions: P, nEmbd: C, nInner: FF, nLayer: L } = config;
  const ff = config.raw.n_inner == null ? '4·n_embd' : 'n_inner';
  const out: ExpectedTensor[] = [
    { name: 'transformer.wte.weight', shape: [V, C], dims: ['vocab_size', 'n_embd'] },
    { name: 'transformer.wpe.weight', shape: [P, C], dims: ['n_positions', 'n_embd'] },
  ];
  const layer: [string, number[], string[]][] = [
    ['ln_1.weight', [C], ['n_embd']],
    ['ln_1.bias', [C], ['n_embd']],
    ['attn.c_attn.weight', [C, 3 * C], ['n_embd', '3·n_embd']],
    ['attn.c_attn.bias', [3 * C], ['3·n_embd']],
    ['attn.c_proj.weight', [C, C], ['n_embd', 'n_embd']],
    ['attn.c_proj.bias', [C], ['n_embd']],
    ['ln_2.weight', [C], ['n_embd']],
    ['ln_2.bias', [C], ['n_embd']],
    ['mlp.c_fc.weight', [C, FF], ['n_embd', ff]],
    ['mlp.c_fc.bias', [FF], [ff]],
    ['mlp.c_proj.weight', [FF, C], [ff, 'n_embd']],
    ['mlp.c_proj.bias', [C], ['n_embd']],
  ];
  for (let i = 0; i < L; i++) {
    for (const [name, shape, dims] of layer)
      out.push({ name: `transformer.h.${i}.${name}`, shape, dims, because: `n_layer ${L}` });
  }
  out.push({ name: 'transformer.ln_f.weight', shape: [C], dims: ['n_embd'] });
  out.push({ name: 'transformer.ln_f.bias', shape: [C], dims: ['n_embd'] });
  if (!config.tieWordEmbeddings) {
    out.push({
      name: 'lm_head.weight',
      shape: [V, C],
      dims: ['vocab_size', 'n_embd'],
      because: 'tie_word_embeddings false',
    });
  }
  return out;
}

/** The header checked against the config (no data read, nothing allocated); configFile names it in errors. */
export function planGpt2Weights(
  config: Gpt2Config,
  store: TensorStore,
  configFile = 'config.json',
): WeightsPlan {
  return planWeights(
    store,
    gpt2Parameters(config),
    { ...LAYOUT, tiedHead: config.tieWordEmbeddings },
    configFile,
  );
}

export async function loadGpt2Weights(model: Gpt2Model, store: TensorStore): Promise<void> {
  await loadPlannedWeights(model, planGpt2Weights(model.config, store));
}
