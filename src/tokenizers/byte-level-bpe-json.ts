// A byte-level BPE tokenizer (Gpt2Tokenizer) from a Hugging Face tokenizer.json: GPT-2, RoBERTa, Llama 3,
// Qwen2/Qwen3, SmolLM...: a BPE model, a normalizer (normalizers.ts), pre-tokenizers ending in ByteLevel
// (pre-tokenizers.ts), added tokens matched first, the post-processor's special tokens and offset trimming
// (post-processors.ts). What the file says decides; anything unsupported is refused by name.
import { WeightsError } from '../util/errors.ts';
import { show } from '../io/quote.ts';
import { Gpt2Tokenizer } from './gpt2-bpe.ts';
import {
  addedToken,
  asObject,
  parseJson,
  type AddedToken,
  type TokenizerJsonOptions,
} from './tokenizer-json.ts';
import { parseNormalizer } from './normalizers.ts';
import { parsePreTokenizer } from './pre-tokenizers.ts';
import { parsePostProcessor } from './post-processors.ts';

// encode returns the text's own ids; addSpecialTokens adds the post-processor's. BOS is the template's one leading
// special token unless options.bos says otherwise, and add_bos_token defaults to whether the template adds it.
// Added tokens honour lstrip/rstrip and are matched in the raw text; single_word is ignored.
export function fromTokenizerJson(json: string | object, options: TokenizerJsonOptions = {}): Gpt2Tokenizer {
  const file = options.file ?? 'tokenizer.json';
  const root = asObject(typeof json === 'string' ? parseJson(json, file) : json, file, 'the file');
  const model = asObject(root.model, file, 'model');
  const expect = (ok: boolean, what: string, expected: string, got: unknown): void => {
    if (!ok)
      throw new WeightsError(`${file}: ${what} is not supported, expected ${expected}, got ${show(got)}`);
  };
  expect(model.type === undefined || model.type === 'BPE', 'model.type', '"BPE"', model.type);
  const normalizer = parseNormalizer(root.normalizer, `${file} normalizer`);
  const preTokenizer = parsePreTokenizer(root.pre_tokenizer, `${file} pre_tokenizer`);
  const postProcessor = parsePostProcessor(root.post_processor, `${file} post_processor`);
  expect(
    !model.continuing_subword_prefix,
    'model.continuing_subword_prefix',
    'null',
    model.continuing_subword_prefix,
  );
  expect(!model.end_of_word_suffix, 'model.end_of_word_suffix', 'null', model.end_of_word_suffix);
  expect(!model.byte_fallback, 'model.byte_fallback', 'false', model.byte_fallback);
  expect(!model.dropout, 'model.dropout', 'null or 0', model.dropout);
  if (!Array.isArray(model.merges)) {
    throw new WeightsError(
      `${file}: model.merges is not a list, expected an array, got ${typeof model.merges}`,
    );
  }
  const merges = model.merges.map((entry: unknown, i): readonly [string, string] => {
    const pair = typeof entry === 'string' ? entry.split(' ') : entry;
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((t) => typeof t === 'string' && t !== '')) {
      throw new WeightsError(
        `${file} model.merges[${i}]: malformed merge, expected "left right" or [left, right], got ` +
          show(entry),
      );
    }
    return [pair[0], pair[1]];
  });
  const addedList = root.added_tokens ?? [];
  if (!Array.isArray(addedList)) {
    throw new WeightsError(`${file}: added_tokens is not a list, expected an array, got ${typeof addedList}`);
  }
  const addedTokens = addedList.map((entry: unknown, i): AddedToken => {
    const t = asObject(entry, file, `added_tokens[${i}]`);
    if (!Number.isInteger(t.id) || typeof t.content !== 'string' || t.content === '') {
      throw new WeightsError(
        `${file} added_tokens[${i}]: malformed added token, expected ` +
          `{id: integer, content: non-empty string}, got ${show(entry)}`,
      );
    }
    return addedToken(t);
  });
  const unk = typeof model.unk_token === 'string' ? model.unk_token : null;
  return new Gpt2Tokenizer(model.vocab as object, merges, {
    addedTokens,
    unkToken: unk,
    ignoreMerges: model.ignore_merges === true,
    eos: options.eos,
    bos:
      options.bos !== undefined || postProcessor.prefix.length !== 1 ? options.bos : postProcessor.prefix[0],
    addBosToken: options.addBosToken ?? (postProcessor.prefix.length === 1 ? true : undefined),
    normalizer,
    preTokenizer,
    postProcessor,
    names: { ...options.names, vocab: `${file} model.vocab`, merges: `${file} model.merges` },
  });
}
