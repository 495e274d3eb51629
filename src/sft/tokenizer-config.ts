// tokenizer_config.json for a checkpoint: the source folder's, else one made here (without it transformers'
// AutoTokenizer loads a Llama folder holding only tokenizer.model as a generic tokenizer with no leading `▁`, so every
// id differs from ours: the class, special tokens and BOS, added exactly where we train with it); either way with
// the chat_template the model trained with and a pad_token, so a transformers/TRL user can batch and chat with it.
import { WeightsError } from '../util/errors.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';

const CLASS_BY_MODEL_TYPE: Record<string, string> = {
  gpt2: 'GPT2Tokenizer',
  llama: 'LlamaTokenizer',
  qwen2: 'Qwen2Tokenizer',
  qwen3: 'Qwen2Tokenizer',
};

/** The fields transformers reads, from the checkpoint's config.json and the tokenizer trained with. */
export function tokenizerConfigFor(
  config: Record<string, unknown>,
  tokenizer: Tokenizer,
  where: string,
): Record<string, unknown> {
  const modelType = String(config.model_type);
  const tokenizerClass = Object.hasOwn(CLASS_BY_MODEL_TYPE, modelType)
    ? CLASS_BY_MODEL_TYPE[modelType]
    : undefined;
  if (!tokenizerClass) {
    throw new WeightsError(
      `${where}: config field 'model_type', expected one of ${Object.keys(CLASS_BY_MODEL_TYPE).join(', ')}, got ${JSON.stringify(config.model_type)}`,
    );
  }
  const token = (field: string, id: unknown): string | undefined => {
    if (id === null || id === undefined) return undefined;
    const piece = typeof id === 'number' ? tokenizer.idToToken(id) : undefined;
    if (piece === undefined)
      throw new WeightsError(
        `${where}: ${field} ${JSON.stringify(id)}, expected an id of the tokenizer's ${tokenizer.vocabSize} tokens, got none`,
      );
    return piece;
  };
  const out: Record<string, unknown> = {
    tokenizer_class: tokenizerClass,
    bos_token: token('bos id', tokenizer.bosId),
    eos_token: token('eos id', tokenizer.eosId),
    // The ids transformers gives must be the ones trained on: BOS as the tokenizer says (modelInput), no EOS.
    add_bos_token: tokenizer.addBosToken,
    add_eos_token: false,
    model_max_length:
      modelType === 'gpt2' ? (config.n_positions ?? config.n_ctx) : config.max_position_embeddings,
    padding_side: 'right', // as our batches; a left-padded Llama row would shift its RoPE positions
    clean_up_tokenization_spaces: false,
  };
  if (config.pad_token_id !== undefined && config.pad_token_id !== null)
    out.pad_token = token("config 'pad_token_id'", config.pad_token_id);
  if (modelType === 'gpt2') out.add_prefix_space = false;
  else if (modelType === 'llama') out.legacy = false; // Llama: one `▁` before the text, none after each special token (legacy)
  return out;
}

/**
 * The checkpoint's tokenizer_config.json: `source` (the model folder's, if any) or tokenizerConfigFor's, plus the
 * chat template trained with where it has none, and a pad_token where it has none (EOS, as TRL pads).
 */
export function checkpointTokenizerConfig(
  source: Record<string, unknown> | undefined,
  config: Record<string, unknown>,
  tokenizer: Tokenizer,
  chatTemplate: string,
  where: string,
): Record<string, unknown> {
  const out = { ...(source ?? tokenizerConfigFor(config, tokenizer, where)) };
  // Empty counts as none: chatTemplateFor trained with the fallback then.
  const own = out.chat_template;
  if (own === undefined || own === null || (typeof own === 'string' && own.trim() === ''))
    out.chat_template = chatTemplate;
  if (out.pad_token === undefined || out.pad_token === null) {
    const eos = tokenizer.eosId === null ? undefined : tokenizer.idToToken(tokenizer.eosId);
    if (eos !== undefined) out.pad_token = eos;
  }
  return out;
}
