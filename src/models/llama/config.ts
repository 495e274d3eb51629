// Llama config from a Hugging Face config.json (model_type 'llama'), validated; refuses options that need other math.
// Dims glossary: B batch, T sequence length, C hidden_size, V vocab_size, NQ num_attention_heads, NKV
// num_key_value_heads, HS head_dim, FF intermediate_size, L num_hidden_layers. Query head h reads KV head h / (NQ/NKV).
import { WeightsError } from '../../util/errors.ts';
import { show } from '../../io/quote.ts';

export interface LlamaConfig {
  modelType: 'llama';
  vocabSize: number; // V
  hiddenSize: number; // C
  intermediateSize: number; // FF
  numLayers: number; // L
  numHeads: number; // NQ
  numKvHeads: number; // NKV, divides NQ
  headDim: number; // HS, even (RoPE rotates pairs of halves)
  rmsNormEps: number;
  ropeTheta: number;
  maxPositions: number; // max T
  tieWordEmbeddings: boolean;
  attentionBias: boolean;
  mlpBias: boolean;
  attentionDropout: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** The config.json object as read, carried into saved checkpoints. */
  raw: Record<string, unknown>;
}

/** Fields that change the forward beyond what is implemented, unless absent or at their neutral value. */
const REFUSED: { key: string; neutral: string; ok: (v: unknown) => boolean; why: string }[] = [
  { key: 'rope_scaling', neutral: "null or { rope_type: 'default' }", ok: (v) => v === null || isDefaultRope(v), why: 'scaled RoPE (linear, dynamic, yarn, llama3, ...) is not implemented' },
  { key: 'rope_parameters', neutral: "null or { rope_type: 'default', rope_theta }", ok: (v) => v === null || isDefaultRope(v), why: 'scaled RoPE (linear, dynamic, yarn, llama3, ...) is not implemented' },
  { key: 'sliding_window', neutral: 'null', ok: (v) => v === null, why: 'sliding-window attention is not implemented' },
  { key: 'use_sliding_window', neutral: 'false', ok: (v) => v === false, why: 'sliding-window attention is not implemented' },
  { key: 'partial_rotary_factor', neutral: '1', ok: (v) => v === 1, why: 'RoPE on part of the head is not implemented' },
  { key: 'quantization_config', neutral: 'null', ok: (v) => v === null, why: 'quantized checkpoints are not read; use an F32, F16 or BF16 one' },
  { key: 'use_qk_norm', neutral: 'false', ok: (v) => v === false, why: 'query/key norms (Llama 4) are not implemented' },
  { key: 'attn_logit_softcapping', neutral: 'null', ok: (v) => v === null, why: 'attention soft-capping is not implemented' },
  { key: 'final_logit_softcapping', neutral: 'null', ok: (v) => v === null, why: 'logit soft-capping is not implemented' },
];

// Upper bounds far above any released model (Llama 3.1 405B: L 126, C 16384, FF 53248, V 128256; Llama 4: 10M
// positions), so sizes derived from them stay exact in a Number and an absurd config is refused before any sizing.
const LLAMA_FIELD_MAX = {
  vocab_size: 1 << 21, hidden_size: 1 << 16, intermediate_size: 1 << 18, num_hidden_layers: 1024,
  num_attention_heads: 1 << 12, num_key_value_heads: 1 << 12, head_dim: 1 << 12, max_position_embeddings: 1 << 24,
} as const; // prettier-ignore

/** rope_scaling / rope_parameters of the plain kind ('type' is the pre-4.45 spelling of 'rope_type'). */
function isDefaultRope(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return (r.rope_type ?? r.type ?? 'default') === 'default';
}

export function parseLlamaConfig(raw: Record<string, unknown>, file = 'config.json'): LlamaConfig {
  const fail = (key: string, expected: string, hint?: string): never => {
    throw new WeightsError(`${file}: field '${key}', expected ${expected}, got ${show(raw[key])}`, hint);
  };
  const int = (key: keyof typeof LLAMA_FIELD_MAX, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    const max = LLAMA_FIELD_MAX[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > max) fail(key, `a positive integer ≤ ${max}`);
    return v as number;
  };
  const positive = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) fail(key, 'a positive number');
    return v as number;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'boolean') fail(key, 'true or false');
    return v as boolean;
  };
  const optionalId = (key: string): number | null => {
    const v = raw[key];
    if (Array.isArray(v) && typeof v[0] === 'number') return v[0]; // Llama 3 lists several EOS ids; the first is the main one
    return typeof v === 'number' ? v : null;
  };

  if (raw.model_type !== 'llama') fail('model_type', "'llama'");
  if ((raw.hidden_act ?? 'silu') !== 'silu') fail('hidden_act', "'silu' (the SwiGLU MLP)");
  for (const { key, neutral, ok, why } of REFUSED) {
    if (key in raw && !ok(raw[key])) fail(key, neutral, why);
  }
  // pretraining_tp > 1 only splits the projections into slices in older transformers: the same math, so accepted.
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new WeightsError(`${file}: num_attention_heads % num_key_value_heads, expected 0, got ${numHeads} % ${numKvHeads} = ${numHeads % numKvHeads}`);
  }
  if (raw.head_dim === undefined || raw.head_dim === null) {
    if (hiddenSize % numHeads !== 0) {
      throw new WeightsError(`${file}: hidden_size % num_attention_heads, expected 0 (no head_dim given), got ${hiddenSize} % ${numHeads} = ${hiddenSize % numHeads}`);
    }
  }
  const headDim = raw.head_dim === undefined || raw.head_dim === null ? hiddenSize / numHeads : int('head_dim');
  if (headDim % 2 !== 0) fail('head_dim', 'an even number (RoPE rotates two halves)');
  // transformers ≥ 5 moves rope_theta into rope_parameters.
  const ropeParameters = raw.rope_parameters as Record<string, unknown> | null | undefined;
  const ropeTheta = typeof ropeParameters?.rope_theta === 'number' ? ropeParameters.rope_theta : positive('rope_theta', 10000);
  if (!(ropeTheta > 0)) fail('rope_parameters', 'a positive rope_theta');
  const attentionDropout = raw.attention_dropout ?? 0;
  if (typeof attentionDropout !== 'number' || attentionDropout < 0 || attentionDropout >= 1) fail('attention_dropout', 'a probability in [0, 1)');
  return {
    modelType: 'llama',
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positive('rms_norm_eps', 1e-6),
    ropeTheta,
    maxPositions: int('max_position_embeddings', 2048),
    tieWordEmbeddings: flag('tie_word_embeddings', false),
    attentionBias: flag('attention_bias', false),
    mlpBias: flag('mlp_bias', false),
    attentionDropout: attentionDropout as number,
    bosTokenId: optionalId('bos_token_id'),
    eosTokenId: optionalId('eos_token_id'),
    raw,
  };
}
