// Llama-family (Llama, Qwen2, Qwen3) weights in from Hugging Face safetensors. Engine names are LlamaForCausalLM keys
// (`model.layers.0.self_attn.q_proj.weight`); files saved from the bare LlamaModel lack the `model.` prefix.
// Linear weights are [out, in] in both places, so nothing is transposed; model.exportTensors() writes them back.
import type { TensorStore } from '../../io/safetensors.ts';
import { loadPlannedWeights } from '../named-weights.ts';
import { planWeights, type ExpectedTensor, type WeightLayout, type WeightsPlan } from '../weights-plan.ts';
import type { LlamaConfig } from './config.ts';
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

type Dim = [size: number, field: string];
type Row = [name: string, shape: number[], dims: string[], flag?: string];

/** Every parameter LlamaModel holds for this config, in its registration order, from the config alone. */
export function llamaParameters(config: LlamaConfig): ExpectedTensor[] {
  const {
    vocabSize: V,
    hiddenSize: C,
    intermediateSize: FF,
    numLayers: L,
    numHeads: NQ,
    numKvHeads: NKV,
    headDim: HS,
  } = config;
  const out: ExpectedTensor[] = [
    { name: 'model.embed_tokens.weight', shape: [V, C], dims: ['vocab_size', 'hidden_size'] },
  ];
  // A Linear (out, in) and, when its config flag is on, its bias (out).
  const linear = (
    name: string,
    [o, oField]: Dim,
    [i, iField]: Dim,
    flag: boolean,
    flagName: string,
  ): Row[] => [
    [`${name}.weight`, [o, i], [oField, iField]],
    ...(flag ? [[`${name}.bias`, [o], [oField], flagName] satisfies Row] : []),
  ];
  const [c, ff]: Dim[] = [
    [C, 'hidden_size'],
    [FF, 'intermediate_size'],
  ];
  const [q, kv]: Dim[] = [
    [NQ * HS, 'num_attention_heads·head_dim'],
    [NKV * HS, 'num_key_value_heads·head_dim'],
  ];
  const { qkvBias: ab, oBias, mlpBias: mb, modelType } = config;
  const qkvFlag = modelType === 'qwen2' ? 'model_type qwen2' : 'attention_bias true';
  const hs: Dim = [HS, 'head_dim'];
  const layer: Row[] = [
    ['input_layernorm.weight', [C], ['hidden_size']],
    ...linear('self_attn.q_proj', q, c, ab, qkvFlag),
    ...linear('self_attn.k_proj', kv, c, ab, qkvFlag),
    ...linear('self_attn.v_proj', kv, c, ab, qkvFlag),
    ...linear('self_attn.o_proj', c, q, oBias, 'attention_bias true'),
    ...(config.qkNorm
      ? ([
          ['self_attn.q_norm.weight', [hs[0]], [hs[1]], 'model_type qwen3'],
          ['self_attn.k_norm.weight', [hs[0]], [hs[1]], 'model_type qwen3'],
        ] satisfies Row[])
      : []),
    ['post_attention_layernorm.weight', [C], ['hidden_size']],
    ...linear('mlp.gate_proj', ff, c, mb, 'mlp_bias true'),
    ...linear('mlp.up_proj', ff, c, mb, 'mlp_bias true'),
    ...linear('mlp.down_proj', c, ff, mb, 'mlp_bias true'),
  ];
  for (let i = 0; i < L; i++) {
    for (const [name, shape, dims, flag] of layer) {
      const because = `num_hidden_layers ${L}` + (flag ? `, ${flag}` : '');
      out.push({ name: `model.layers.${i}.${name}`, shape, dims, because });
    }
  }
  out.push({ name: 'model.norm.weight', shape: [C], dims: ['hidden_size'] });
  if (!config.tieWordEmbeddings) {
    out.push({
      name: 'lm_head.weight',
      shape: [V, C],
      dims: ['vocab_size', 'hidden_size'],
      because: 'tie_word_embeddings false',
    });
  }
  return out;
}

/** The header checked against the config (no data read, nothing allocated); configFile names it in errors. */
export function planLlamaWeights(
  config: LlamaConfig,
  store: TensorStore,
  configFile = 'config.json',
): WeightsPlan {
  const architecture = { llama: 'Llama', qwen2: 'Qwen2', qwen3: 'Qwen3' }[config.modelType];
  return planWeights(
    store,
    llamaParameters(config),
    { ...LAYOUT, architecture, tiedHead: config.tieWordEmbeddings },
    configFile,
  );
}

export async function loadLlamaWeights(model: LlamaModel, store: TensorStore): Promise<void> {
  await loadPlannedWeights(model, planLlamaWeights(model.config, store));
}
