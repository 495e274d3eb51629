// Llama-family config from a Hugging Face config.json, validated; refuses options that need other math. One model
// class serves three model_types: 'llama' (attention_bias / mlp_bias on every projection), 'qwen2' (q/k/v biases, no
// o_proj or MLP bias) and 'qwen3' (per-head RMSNorm q_norm/k_norm on q and k before RoPE, head_dim default 128).
// Dims glossary: B batch, T sequence length, C hidden_size, V vocab_size, NQ num_attention_heads, NKV
// num_key_value_heads, HS head_dim, FF intermediate_size, L num_hidden_layers. Query head h reads KV head h / (NQ/NKV).
import { WeightsError } from '../../util/errors.ts';
import { show } from '../../io/quote.ts';
import type { Llama3RopeScaling } from '../../ops/rope-frequencies.ts';
import { parseRopeConfig } from './rope-config.ts';

export type LlamaFamily = 'llama' | 'qwen2' | 'qwen3';
/** What transformers calls each family's causal-LM and classifier classes (written into saved config.json). */
export const HF_CLASSES: Record<LlamaFamily, { causalLm: string; classifier: string }> = {
  llama: { causalLm: 'LlamaForCausalLM', classifier: 'LlamaForSequenceClassification' },
  qwen2: { causalLm: 'Qwen2ForCausalLM', classifier: 'Qwen2ForSequenceClassification' },
  qwen3: { causalLm: 'Qwen3ForCausalLM', classifier: 'Qwen3ForSequenceClassification' },
};

export interface LlamaConfig {
  modelType: LlamaFamily;
  vocabSize: number; // V
  hiddenSize: number; // C
  intermediateSize: number; // FF
  numLayers: number; // L
  numHeads: number; // NQ
  numKvHeads: number; // NKV, divides NQ
  headDim: number; // HS, even (RoPE rotates pairs of halves)
  rmsNormEps: number;
  ropeTheta: number;
  /** Llama 3 RoPE frequency rescaling (rope_type 'llama3'); undefined for plain RoPE. */
  ropeScaling?: Llama3RopeScaling;
  maxPositions: number; // max T
  tieWordEmbeddings: boolean;
  /** config.json attention_bias (llama, qwen3). */
  attentionBias: boolean;
  mlpBias: boolean;
  /** Biases on q/k/v_proj (qwen2: always) and on o_proj (qwen2: never). */
  qkvBias: boolean;
  oBias: boolean;
  /** qwen3: RMSNorm (head_dim) q_norm / k_norm on each head of q and k before RoPE. */
  qkNorm: boolean;
  attentionDropout: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** The config.json object as read, carried into saved checkpoints. */
  raw: Record<string, unknown>;
}

/** Fields that change the forward beyond what is implemented, unless absent or at their neutral value. */
const REFUSED: { key: string; neutral: string; ok: (v: unknown) => boolean; why: string }[] = [
  {
    key: 'partial_rotary_factor',
    neutral: '1',
    ok: (v) => v === 1,
    why: 'RoPE on part of the head is not implemented',
  },
  {
    key: 'layer_types',
    neutral: "every entry 'full_attention'",
    ok: (v) => Array.isArray(v) && v.every((t) => t === 'full_attention'),
    why: 'sliding-window attention is not implemented',
  },
  {
    key: 'num_experts',
    neutral: 'null or 0',
    ok: (v) => v === null || v === 0,
    why: 'mixture-of-experts layers are not implemented',
  },
  {
    key: 'num_local_experts',
    neutral: 'null or 0',
    ok: (v) => v === null || v === 0,
    why: 'mixture-of-experts layers are not implemented',
  },
  {
    key: 'quantization_config',
    neutral: 'null',
    ok: (v) => v === null,
    why: 'quantized checkpoints are not read; use an F32, F16 or BF16 one',
  },
  {
    key: 'use_qk_norm',
    neutral: 'false',
    ok: (v) => v === false,
    why: 'query/key norms (Llama 4) are not implemented',
  },
  {
    key: 'attn_logit_softcapping',
    neutral: 'null',
    ok: (v) => v === null,
    why: 'attention soft-capping is not implemented',
  },
  {
    key: 'final_logit_softcapping',
    neutral: 'null',
    ok: (v) => v === null,
    why: 'logit soft-capping is not implemented',
  },
];

// Upper bounds far above any released model (Llama 3.1 405B: L 126, C 16384, FF 53248, V 128256; Llama 4: 10M
// positions), so sizes derived from them stay exact in a Number and an absurd config is refused before any sizing.
const LLAMA_FIELD_MAX = {
  vocab_size: 1 << 21, hidden_size: 1 << 16, intermediate_size: 1 << 18, num_hidden_layers: 1024,
  num_attention_heads: 1 << 12, num_key_value_heads: 1 << 12, head_dim: 1 << 12, max_position_embeddings: 1 << 24,
} as const; // prettier-ignore

/**
 * Sliding-window attention is refused only where a layer would use it: llama reads sliding_window whenever it is set;
 * qwen2/qwen3 only with use_sliding_window true, and then on layers from max_window_layers on.
 */
function slidingWindowInUse(raw: Record<string, unknown>, family: LlamaFamily): string | null {
  if (family === 'llama') return raw.sliding_window == null ? null : 'sliding_window';
  if (raw.use_sliding_window !== true || raw.sliding_window == null) return null;
  const first = typeof raw.max_window_layers === 'number' ? raw.max_window_layers : 28;
  return first < (raw.num_hidden_layers as number) ? 'use_sliding_window' : null;
}

export function parseLlamaConfig(raw: Record<string, unknown>, file = 'config.json'): LlamaConfig {
  const fail = (key: string, expected: string, hint?: string): never => {
    throw new WeightsError(`${file}: field '${key}', expected ${expected}, got ${show(raw[key])}`, hint);
  };
  const int = (key: keyof typeof LLAMA_FIELD_MAX, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    const max = LLAMA_FIELD_MAX[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > max)
      fail(key, `a positive integer ≤ ${max}`);
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

  const family = raw.model_type as LlamaFamily;
  if (!Object.hasOwn(HF_CLASSES, family as string)) fail('model_type', "'llama', 'qwen2' or 'qwen3'");
  if ((raw.hidden_act ?? 'silu') !== 'silu') fail('hidden_act', "'silu' (the SwiGLU MLP)");
  for (const { key, neutral, ok, why } of REFUSED) {
    if (key in raw && !ok(raw[key])) fail(key, neutral, why);
  }
  const sliding = slidingWindowInUse(raw, family);
  if (sliding)
    fail(
      sliding,
      sliding === 'sliding_window' ? 'null' : 'false (or max_window_layers ≥ num_hidden_layers)',
      'sliding-window attention is not implemented',
    );
  // pretraining_tp > 1 only splits the projections into slices in older transformers: the same math, so accepted.
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new WeightsError(
      `${file}: num_attention_heads % num_key_value_heads, expected 0, got ${numHeads} % ${numKvHeads} = ${numHeads % numKvHeads}`,
    );
  }
  // Qwen3Config defaults head_dim to 128 rather than hidden_size / num_attention_heads.
  const defaultHeadDim = family === 'qwen3' ? 128 : undefined;
  if (raw.head_dim == null && defaultHeadDim === undefined) {
    if (hiddenSize % numHeads !== 0) {
      throw new WeightsError(
        `${file}: hidden_size % num_attention_heads, expected 0 (no head_dim given), got ${hiddenSize} % ${numHeads} = ${hiddenSize % numHeads}`,
      );
    }
  }
  const headDim =
    raw.head_dim == null && defaultHeadDim === undefined
      ? hiddenSize / numHeads
      : int('head_dim', defaultHeadDim);
  if (headDim % 2 !== 0) fail('head_dim', 'an even number (RoPE rotates two halves)');
  const rope = parseRopeConfig(raw, file);
  const attentionBias = family === 'qwen2' ? false : flag('attention_bias', false);
  const attentionDropout = raw.attention_dropout ?? 0;
  if (typeof attentionDropout !== 'number' || attentionDropout < 0 || attentionDropout >= 1)
    fail('attention_dropout', 'a probability in [0, 1)');
  return {
    modelType: family,
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positive('rms_norm_eps', 1e-6),
    ropeTheta: rope.theta,
    ...(rope.scaling ? { ropeScaling: rope.scaling } : {}),
    maxPositions: int('max_position_embeddings', family === 'llama' ? 2048 : 32768),
    tieWordEmbeddings: flag('tie_word_embeddings', false),
    attentionBias,
    // qwen2 and qwen3 build their MLP without biases and ignore mlp_bias.
    mlpBias: family === 'llama' ? flag('mlp_bias', false) : false,
    qkvBias: family === 'qwen2' || attentionBias,
    oBias: family !== 'qwen2' && attentionBias,
    qkNorm: family === 'qwen3',
    attentionDropout: attentionDropout as number,
    bosTokenId: optionalId('bos_token_id'),
    eosTokenId: optionalId('eos_token_id'),
    raw,
  };
}
