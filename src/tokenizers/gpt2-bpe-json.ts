// A Gpt2Tokenizer from a Hugging Face tokenizer.json with a BPE model and a ByteLevel pre-tokenizer.
import { WeightsError } from '../util/errors.ts';
import { show } from '../io/quote.ts';
import { Gpt2Tokenizer } from './gpt2-bpe.ts';
import { addedToken, asObject, parseJson, type AddedToken, type TokenizerJsonOptions } from './tokenizer-json.ts';

// A Hugging Face tokenizer.json with a BPE model and a ByteLevel pre-tokenizer (GPT-2, RoBERTa, ...).
// Post-processors (BOS/EOS templates) are not applied: encode returns the text's own ids, and callers add
// eosId/bosId themselves. Added tokens honour lstrip/rstrip; single_word and normalized are ignored (no
// normalizer is accepted anyway).
export function fromTokenizerJson(json: string | object, options: TokenizerJsonOptions = {}): Gpt2Tokenizer {
  const file = options.file ?? 'tokenizer.json';
  const root = asObject(typeof json === 'string' ? parseJson(json, file) : json, file, 'the file');
  const model = asObject(root.model, file, 'model');
  const pre = root.pre_tokenizer === null ? null : asObject(root.pre_tokenizer, file, 'pre_tokenizer');
  const expect = (ok: boolean, what: string, expected: string, got: unknown): void => {
    if (!ok)
      throw new WeightsError(`${file}: ${what} is not supported, expected ${expected}, got ${show(got)}`);
  };
  expect(model.type === undefined || model.type === 'BPE', 'model.type', '"BPE"', model.type);
  expect(pre?.type === 'ByteLevel', 'pre_tokenizer', 'a ByteLevel pre-tokenizer', pre?.type ?? null);
  expect(!pre?.add_prefix_space, 'pre_tokenizer.add_prefix_space', 'false', pre?.add_prefix_space);
  expect(pre?.use_regex !== false, 'pre_tokenizer.use_regex', 'true', pre?.use_regex);
  expect(root.normalizer == null, 'normalizer', 'null', (root.normalizer as { type?: unknown } | null)?.type);
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
    bos: options.bos,
    addBosToken: options.addBosToken,
    names: { ...options.names, vocab: `${file} model.vocab`, merges: `${file} model.merges` },
  });
}
