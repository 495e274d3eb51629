// A SentencePiece model read from a Hugging Face tokenizer.json of the Llama kind (the other source of
// sentencepiece-model.ts). Browser-safe.
import { WeightsError } from '../util/errors.ts';
import { show } from '../io/quote.ts';
import { addedToken, asObject, parseJson, type AddedToken } from './tokenizer-json.ts';
import { BYTE_PIECE, type Piece, type SentencePieceModel } from './sentencepiece-model.ts';

const LLAMA_NORMALIZER = 'Sequence[Prepend("▁"), Replace(" ", "▁")]';
const LLAMA_DECODER = 'Sequence[Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)]';

// A Hugging Face tokenizer.json converted from a Llama SentencePiece model: BPE model (merges by rank, byte
// fallback), the Llama normalizer, no pre-tokenizer, the Llama decoder. bos/eos default to `<s>` / `</s>`.
export function readLlamaTokenizerJson(json: string | object, file = 'tokenizer.json'): SentencePieceModel {
  const root = asObject(typeof json === 'string' ? parseJson(json, file) : json, file, 'the file');
  const model = asObject(root.model, file, 'model');
  const expect = (ok: boolean, what: string, expected: string, got: unknown): void => {
    if (!ok) {
      const text = String(got); // shape() of a normalizer or decoder can be long
      const shown = text.length > 160 ? `${text.slice(0, 157)}...` : text;
      throw new WeightsError(`${file}: ${what} is not supported, expected ${expected}, got ${shown}`);
    }
  };
  expect(model.type === 'BPE', 'model.type', '"BPE"', show(model.type));
  expect(shape(root.normalizer) === LLAMA_NORMALIZER, 'normalizer', LLAMA_NORMALIZER, shape(root.normalizer));
  expect(root.pre_tokenizer == null, 'pre_tokenizer', 'null', shape(root.pre_tokenizer));
  expect(shape(root.decoder) === LLAMA_DECODER, 'decoder', LLAMA_DECODER, shape(root.decoder));
  expect(!model.dropout, 'model.dropout', 'null', show(model.dropout));
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix']) {
    expect(!model[key], `model.${key}`, 'null', show(model[key]));
  }
  const tokens: string[] = [];
  const define = (token: string, id: unknown, where: string): void => {
    if (!Number.isInteger(id) || (id as number) < 0 || (tokens[id as number] ?? token) !== token) {
      throw new WeightsError(
        `${file} ${where}: bad id for ${show(token)}, expected a non-negative integer not taken ` +
          `by another token, got ${show(id)}`,
      );
    }
    tokens[id as number] = token;
  };
  const vocab = Object.entries(asObject(model.vocab, file, 'model.vocab'));
  for (const [token, id] of vocab) define(token, id, 'model.vocab');
  const vocabIds = new Map(vocab as [string, number][]);
  if (!Array.isArray(root.added_tokens ?? [])) {
    throw new WeightsError(
      `${file}: added_tokens is not a list, expected an array, got ${typeof root.added_tokens}`,
    );
  }
  const addedTokens = ((root.added_tokens ?? []) as unknown[]).map((entry, i): AddedToken => {
    const t = asObject(entry, file, `added_tokens[${i}]`);
    if (typeof t.content !== 'string' || t.content === '') {
      throw new WeightsError(
        `${file} added_tokens[${i}]: malformed added token, expected {id, content: non-empty string}, got ` +
          show(entry),
      );
    }
    define(t.content, t.id, `added_tokens[${i}]`);
    return addedToken(t);
  });
  const missing = [...tokens.keys()].find((id) => tokens[id] === undefined);
  expect(
    missing === undefined,
    'a vocabulary with holes',
    `ids 0..${tokens.length - 1}`,
    `no token for id ${missing}`,
  );
  if (!Array.isArray(model.merges)) {
    throw new WeightsError(
      `${file}: model.merges is not a list, expected an array, got ${typeof model.merges}`,
    );
  }
  const ranks = new Map<string, number>();
  model.merges.forEach((entry: unknown, rank) => {
    const pair = typeof entry === 'string' ? entry.split(' ') : entry;
    const ok = Array.isArray(pair) && pair.length === 2 && pair.every((t) => vocabIds.has(t));
    if (!ok || !vocabIds.has(pair[0] + pair[1])) {
      throw new WeightsError(
        `${file} model.merges[${rank}]: bad merge, expected two vocabulary tokens whose concatenation ` +
          `is one, got ${show(entry)}`,
      );
    }
    const key = `${pair[0]}\0${pair[1]}`;
    if (!ranks.has(key)) ranks.set(key, rank);
  });
  const byteFallback = model.byte_fallback === true;
  const bytes = tokens.filter((t) => BYTE_PIECE.test(t)).length;
  expect(
    !byteFallback || bytes === 256,
    'model.byte_fallback',
    'all 256 <0xNN> tokens in model.vocab',
    bytes,
  );
  const unk = typeof model.unk_token === 'string' ? vocabIds.get(model.unk_token) : undefined;
  expect(
    model.unk_token == null || unk !== undefined,
    'model.unk_token',
    'a vocabulary token',
    show(model.unk_token),
  );
  const kind = new Map(addedTokens.map((t) => [t.id, t.special ? 'control' : 'user'] as const));
  const pieces = tokens.map((piece, id): Piece => {
    const type = id === unk ? 'unknown' : byteFallback && BYTE_PIECE.test(piece) ? 'byte' : kind.get(id);
    return { piece, score: 0, type: type ?? 'normal' };
  });
  return {
    pieces,
    modelType: 'bpe',
    byteFallback,
    unkSurface: String(model.unk_token),
    bosId: vocabIds.get('<s>') ?? null,
    eosId: vocabIds.get('</s>') ?? null,
    addDummyPrefix: true,
    removeExtraWhitespaces: false,
    escapeWhitespaces: true,
    tokenizerJson: {
      ranks,
      addedTokens,
      fuseUnk: model.fuse_unk === true,
      ignoreMerges: model.ignore_merges === true,
    },
  };
}

// A normalizer or decoder in a line: `Sequence[Prepend("▁"), Replace(" ", "▁")]`, for checks and messages.
// Types read from the file print bare only when they are short words.
function shape(value: unknown): string {
  if (value == null) return 'null';
  const o = value as Record<string, unknown>;
  const type = typeof o.type === 'string' && /^\w{1,40}$/.test(o.type) ? o.type : show(o.type);
  const list = o.normalizers ?? o.decoders ?? o.pretokenizers;
  if (Array.isArray(list)) return `${type}[${list.map(shape).join(', ')}]`;
  const pattern = o.pattern as { String?: string; Regex?: string } | undefined;
  const args: Record<string, unknown[]> = {
    Prepend: [o.prepend],
    Replace: [
      pattern?.String ?? (pattern?.Regex === undefined ? undefined : `/${pattern.Regex}/`),
      o.content,
    ],
    Strip: [o.content, o.start, o.stop],
  };
  const list2 = Object.hasOwn(args, type) ? args[type] : undefined;
  return `${type}${list2 ? `(${list2.map((a) => show(a)).join(', ')})` : ''}`;
}
