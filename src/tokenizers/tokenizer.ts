// The interface every tokenizer implements (GPT-2 byte-level BPE, SentencePiece), so data and generation code never
// ask which one they hold.

export interface EncodeOptions {
  // Match special (added) tokens such as `<|endoftext|>` as whole tokens; when false they are encoded as
  // plain text. Default true, as Hugging Face does for added tokens.
  allowSpecial?: boolean;
  // The text follows a special token in a longer sequence (a chat template's `</s>` then `\n\nUser:`): a
  // SentencePiece tokenizer puts its dummy prefix `▁` only where Hugging Face does (prepend_scheme "first", the
  // default of transformers' LlamaTokenizer, puts none; legacy "always" does). Byte-level tokenizers ignore it.
  continuation?: boolean;
}

/** A text's ids with, for each, the [start, end) it covers in the input, in UTF-16 code units (string indices). */
export interface Encoding {
  ids: number[];
  // Hugging Face's offsets: a token holding part of a character (a byte-level piece of an emoji) covers the whole
  // character; a token made by a normalizer (SentencePiece's `▁`) covers the character it was made from.
  offsets: [number, number][];
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly eosId: number | null;
  readonly bosId: number | null;
  /**
   * Whether the model's sequences begin with bosId (Hugging Face's add_bos_token): what it was pretrained on, so
   * training data, prompts and classifier inputs get it too (modelInput). encode never adds it.
   */
  readonly addBosToken: boolean;
  /** tokenizer_config.json's chat_template (its "default" one when a list), set by the loader; Jinja text. */
  chatTemplate?: string;
  encode(text: string, options?: EncodeOptions): number[];
  /** encode's ids and where each came from in text (for masks by character span, e.g. assistant turns). */
  encodeWithOffsets(text: string, options?: EncodeOptions): Encoding;
  decode(ids: number[]): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}

/** The ids a model reads for a text's ids: BOS first where the tokenizer's model expects it. */
export function modelInput(tokenizer: Tokenizer, ids: readonly number[]): number[] {
  return tokenizer.addBosToken && tokenizer.bosId !== null ? [tokenizer.bosId, ...ids] : ids.slice();
}
