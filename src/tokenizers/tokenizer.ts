// The interface every tokenizer implements (GPT-2 byte-level BPE now, SentencePiece later), so data and
// generation code never ask which one they hold.

export interface EncodeOptions {
  // Match special (added) tokens such as `<|endoftext|>` as whole tokens; when false they are encoded as
  // plain text. Default true, as Hugging Face does for added tokens.
  allowSpecial?: boolean;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly eosId: number | null;
  readonly bosId: number | null;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: number[]): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}
