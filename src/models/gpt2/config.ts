// GPT-2 config from a Hugging Face config.json, validated; refuses options that would need other math.
// Dims glossary: B batch, T sequence length, C n_embd, V vocab_size, NH n_head, HS head size (C / NH), L n_layer.
import { WeightsError } from '../../util/errors.ts';
import { show } from '../../io/quote.ts';

export interface Gpt2Config {
  modelType: 'gpt2';
  vocabSize: number; // V
  nPositions: number; // max T
  nEmbd: number; // C
  nLayer: number; // L
  nHead: number; // NH
  nInner: number; // MLP width, 4·C when null
  layerNormEpsilon: number;
  embdPdrop: number;
  attnPdrop: number;
  residPdrop: number;
  scaleAttnWeights: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
  tieWordEmbeddings: boolean;
  /** The config.json object as read, carried into saved checkpoints. */
  raw: Record<string, unknown>;
}

const ACTIVATIONS = new Set(['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast']);

// Upper bounds far above any released model (GPT-2 XL: L 48, C 1600, 1024 positions), so sizes derived from them
// stay exact in a Number and an absurd config is refused before anything is sized from it.
const GPT2_FIELD_MAX = {
  vocab_size: 1 << 21, n_positions: 1 << 20, n_embd: 1 << 16, n_inner: 1 << 18, n_layer: 1024, n_head: 1 << 12,
} as const; // prettier-ignore

export function parseGpt2Config(raw: Record<string, unknown>, file = 'config.json'): Gpt2Config {
  const int = (key: keyof typeof GPT2_FIELD_MAX, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    const max = GPT2_FIELD_MAX[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > max) {
      throw new WeightsError(`${file}: field '${key}', expected a positive integer ≤ ${max}, got ${show(v)}`);
    }
    return v;
  };
  const prob = (key: string): number => {
    const v = raw[key] ?? 0.1;
    if (typeof v !== 'number' || v < 0 || v >= 1)
      throw new WeightsError(`${file}: field '${key}', expected a probability in [0, 1), got ${show(v)}`);
    return v;
  };
  const optionalId = (key: string): number | null =>
    typeof raw[key] === 'number' ? (raw[key] as number) : null;
  if (raw.model_type !== undefined && raw.model_type !== 'gpt2') {
    throw new WeightsError(`${file}: field 'model_type', expected 'gpt2', got ${show(raw.model_type)}`);
  }
  const activation = raw.activation_function ?? 'gelu_new';
  if (typeof activation !== 'string' || !ACTIVATIONS.has(activation)) {
    throw new WeightsError(
      `${file}: field 'activation_function', expected one of ${[...ACTIVATIONS].join(', ')} (tanh GELU), got ${show(activation)}`,
    );
  }
  for (const key of ['scale_attn_by_inverse_layer_idx', 'add_cross_attention'] as const) {
    if (raw[key] === true)
      throw new WeightsError(`${file}: field '${key}', expected false (not implemented), got true`);
  }
  const nEmbd = int('n_embd');
  const nHead = int('n_head');
  if (nEmbd % nHead !== 0)
    throw new WeightsError(
      `${file}: n_embd % n_head, expected 0, got ${nEmbd} % ${nHead} = ${nEmbd % nHead}`,
    );
  const nInner = raw.n_inner === null || raw.n_inner === undefined ? 4 * nEmbd : int('n_inner');
  const eps = raw.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0))
    throw new WeightsError(
      `${file}: field 'layer_norm_epsilon', expected a positive number, got ${show(eps)}`,
    );
  return {
    modelType: 'gpt2',
    vocabSize: int('vocab_size'),
    nPositions: int('n_positions', raw.n_ctx as number | undefined),
    nEmbd,
    nLayer: int('n_layer'),
    nHead,
    nInner,
    layerNormEpsilon: eps,
    embdPdrop: prob('embd_pdrop'),
    attnPdrop: prob('attn_pdrop'),
    residPdrop: prob('resid_pdrop'),
    scaleAttnWeights: raw.scale_attn_weights !== false,
    bosTokenId: optionalId('bos_token_id'),
    eosTokenId: optionalId('eos_token_id'),
    tieWordEmbeddings: raw.tie_word_embeddings !== false,
    raw,
  };
}
