// GPT-2 byte-level BPE (Radford et al. 2019): split the text with the GPT-2 regex, write each piece's UTF-8
// bytes as printable characters, merge adjacent symbols by merges.txt rank. Built from vocab.json +
// merges.txt or from a Hugging Face tokenizer.json (byte-level-bpe-json.ts). Browser-safe. Lone
// UTF-16 surrogates are replaced by U+FFFD when encoded (TextEncoder does it), so they are the one input that
// does not survive decode(encode(s)).

import { InputError, WeightsError } from '../util/errors.ts';
import { show } from '../io/quote.ts';
import { bpeMerge } from './bpe-merge.ts';
import type { EncodeOptions, Encoding, Tokenizer } from './tokenizer.ts';
import { byteTokenOffsets, type Aligned, type Offsets } from './offsets.ts';
import { materialize, type Normalizer } from './normalizers.ts';
import { compose, GPT2_PRE_TOKENIZER, GPT2_SPLIT, type Stage } from './pre-tokenizers.ts';
import { NO_POST_PROCESSOR, trimOffsets, type PostProcessor } from './post-processors.ts';
import { asObject, checkAddBos, parseJson, splitter, type AddedToken } from './tokenizer-json.ts';

export interface Gpt2TokenizerOptions {
  addedTokens?: AddedToken[]; // default: `<|endoftext|>` when the vocabulary has it
  eos?: number | string | null; // id or token; default: `<|endoftext|>` when the vocabulary has it, else null
  bos?: number | string | null; // id or token; same default
  addBosToken?: boolean; // model inputs begin with bos (add_bos_token); default false, as GPT-2 was trained
  unkToken?: string | null; // stands for bytes the vocabulary lacks; default null (such bytes throw)
  ignoreMerges?: boolean; // tokenizer.json `ignore_merges`: a piece that is a vocabulary token stays whole
  names?: SourceNames; // how errors name where each input came from
  // A tokenizer.json's pipeline (byte-level-bpe-json.ts); default GPT-2's: no normalizer, ByteLevel with its
  // split, no special tokens added, offsets untrimmed.
  normalizer?: Normalizer | null;
  preTokenizer?: Stage[];
  postProcessor?: PostProcessor;
}

export interface ByteLevelEncodeOptions extends EncodeOptions {
  addSpecialTokens?: boolean; // the post-processor's special tokens around the text (BOS/EOS); default false
}

export interface SourceNames {
  vocab?: string; // default 'vocab.json'
  merges?: string; // default 'merges.txt'
  eos?: string; // default 'Gpt2Tokenizer options.eos'
  bos?: string;
  addBosToken?: string; // default 'Gpt2Tokenizer options.addBosToken'
}

const ENDOFTEXT = '<|endoftext|>';

// Byte → character: the 188 printable Latin-1 bytes stand for themselves, the other 68 take U+0100, U+0101,
// ... in byte order, so every token is a printable string (space is 'Ġ', newline 'Ċ').
const BYTE_TO_CHAR: string[] = [];
const CHAR_TO_BYTE = new Map<string, number>();
for (let b = 0, extra = 0; b < 256; b++) {
  const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  BYTE_TO_CHAR[b] = String.fromCharCode(printable ? b : 256 + extra++);
  CHAR_TO_BYTE.set(BYTE_TO_CHAR[b], b);
}

const CACHE_LIMIT = 100_000; // pieces; the cache is dropped whole when full, which keeps memory bounded
const CACHE_PIECE_LIMIT = 256; // UTF-16 units: longer pieces (rare, and each one large) are not cached
const utf8 = new TextEncoder();
// Non-fatal: a cut multi-byte character decodes to U+FFFD. ignoreBOM keeps a leading U+FEFF, which is text
// here.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export class Gpt2Tokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosId: number | null;
  readonly bosId: number | null;
  readonly addBosToken: boolean;
  private readonly vocab = new Map<string, number>(); // token → id, added tokens included
  private readonly tokens: (string | undefined)[] = []; // id → token
  private readonly byteIds = new Int32Array(256).fill(-1); // id of each byte's one-character token
  private readonly ranks = new Map<number, number>(); // left * vocabSize + right → rank
  private readonly mergeResult: number[] = []; // by rank
  private readonly added = new Map<number, AddedToken>(); // id → added token, decoded as its content
  private readonly splitAll: RegExp | null; // matches any added token
  private readonly splitNonSpecial: RegExp | null; // matches non-special added tokens only
  private readonly splitTokens: AddedToken[]; // capture group k + 1 ↔ splitTokens[k]
  private readonly unkId: number | null;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, number[]>(); // piece → ids
  private readonly tokenBytes: (Uint8Array | undefined)[] = []; // id → bytes, filled by decode
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: Stage[];
  private readonly gpt2Split: boolean; // GPT-2's pipeline: the fast path
  readonly postProcessor: PostProcessor;

  // vocab: vocab.json text or its parsed object. merges: merges.txt text, or [left, right] pairs in rank
  // order.
  constructor(
    vocab: string | object,
    merges: string | ReadonlyArray<readonly [string, string]>,
    options: Gpt2TokenizerOptions = {},
  ) {
    const vocabName = options.names?.vocab ?? 'vocab.json';
    const mergesName = options.names?.merges ?? 'merges.txt';
    let vocabSize = 0;
    for (const [token, id] of parseVocab(vocab, vocabName)) {
      if (this.tokens[id] !== undefined) {
        throw new WeightsError(
          `${vocabName}: two tokens share one id, expected unique ids, got ` +
            `${show(this.tokens[id])} and ${show(token)} both = ${id}`,
        );
      }
      this.vocab.set(token, id);
      this.tokens[id] = token;
      vocabSize = Math.max(vocabSize, id + 1);
    }
    const addedTokens =
      options.addedTokens ??
      (this.vocab.has(ENDOFTEXT) ? [{ id: this.vocab.get(ENDOFTEXT)!, content: ENDOFTEXT }] : []);
    for (const token of addedTokens) {
      const where = `added token ${show(token.content)}`;
      if (!Number.isInteger(token.id) || token.id < 0) {
        throw new WeightsError(`${where}: bad id, expected a non-negative integer, got ${show(token.id)}`);
      }
      const known = this.tokens[token.id];
      const knownId = this.vocab.get(token.content);
      if (
        (known !== undefined && known !== token.content) ||
        (knownId !== undefined && knownId !== token.id)
      ) {
        throw new WeightsError(
          `${where}: clashes with ${vocabName}, expected a free id or the same (token, id) pair, got id ` +
            `${token.id} = ${show(known)} and ${show(token.content)} = ${knownId}`,
        );
      }
      this.vocab.set(token.content, token.id);
      this.tokens[token.id] = token.content;
      this.added.set(token.id, token);
      vocabSize = Math.max(vocabSize, token.id + 1);
    }
    this.vocabSize = vocabSize;

    for (let b = 0; b < 256; b++) this.byteIds[b] = this.vocab.get(BYTE_TO_CHAR[b]) ?? -1;
    const pairs =
      typeof merges === 'string'
        ? parseMergesTxt(merges, mergesName)
        : merges.map((pair, i) => ({ pair, where: `${mergesName}[${i}]` }));
    for (const { pair, where } of pairs) {
      const [left, right] = pair.map((token) => {
        const id = this.vocab.get(token);
        if (id === undefined) {
          throw new WeightsError(
            `${where}: merge refers to a token missing from ${vocabName}, expected a vocabulary token, got ` +
              `${show(token)}`,
          );
        }
        return id;
      });
      const result = this.vocab.get(pair[0] + pair[1]);
      if (result === undefined) {
        throw new WeightsError(
          `${where}: merged token is missing from ${vocabName}, expected ` +
            `${show(pair[0] + pair[1])} in the vocabulary, got no such token`,
        );
      }
      const key = left * vocabSize + right;
      if (this.ranks.has(key)) continue; // a repeated merge keeps its first (highest-priority) rank
      this.ranks.set(key, this.mergeResult.length);
      this.mergeResult.push(result);
    }

    this.splitTokens = [...this.added.values()].sort((a, b) => b.content.length - a.content.length);
    this.splitAll = splitter(this.splitTokens, () => true);
    this.splitNonSpecial = splitter(this.splitTokens, (t) => t.special === false);
    this.unkId = options.unkToken == null ? null : (this.vocab.get(options.unkToken) ?? null);
    if (options.unkToken != null && this.unkId === null) {
      throw new WeightsError(
        `${vocabName}: unk token is not in the vocabulary, expected a vocabulary token, got ` +
          `${show(options.unkToken)}`,
      );
    }
    this.ignoreMerges = options.ignoreMerges ?? false;
    this.normalizer = options.normalizer ?? null;
    this.preTokenizer = options.preTokenizer ?? GPT2_PRE_TOKENIZER;
    this.gpt2Split = this.normalizer === null && this.preTokenizer === GPT2_PRE_TOKENIZER;
    this.postProcessor = options.postProcessor ?? NO_POST_PROCESSOR;
    this.eosId = this.resolveSpecial(options.eos, options.names?.eos ?? 'Gpt2Tokenizer options.eos');
    this.bosId = this.resolveSpecial(options.bos, options.names?.bos ?? 'Gpt2Tokenizer options.bos');
    this.addBosToken = checkAddBos(
      options.addBosToken ?? false,
      this.bosId,
      options.names?.addBosToken ?? 'Gpt2Tokenizer options.addBosToken',
    );
  }

  encode(text: string, options: ByteLevelEncodeOptions = {}): number[] {
    const ids: number[] = [];
    this.encodeInto(text, options, ids, null);
    return ids;
  }

  // Special tokens added by addSpecialTokens cover [0, 0), as Hugging Face's post-processor writes.
  encodeWithOffsets(text: string, options: ByteLevelEncodeOptions = {}): Encoding {
    const ids: number[] = [];
    const offsets: [number, number][] = [];
    this.encodeInto(text, options, ids, offsets);
    return { ids, offsets };
  }

  private encodeInto(
    text: string,
    options: ByteLevelEncodeOptions,
    ids: number[],
    offsets: Offsets | null,
  ): void {
    const post = this.postProcessor;
    const specials = options.addSpecialTokens === true;
    if (specials) ids.push(...post.prefix);
    const first = ids.length;
    const split = options.allowSpecial === false ? this.splitNonSpecial : this.splitAll;
    let start = 0;
    if (split) {
      for (const match of text.matchAll(split)) {
        this.encodeOrdinary(text.slice(start, match.index), start, ids, offsets);
        const group = match.findIndex((g, k) => k > 0 && g !== undefined);
        ids.push(this.splitTokens[group - 1].id);
        const content = match.index + match[0].indexOf(match[group]); // lstrip/rstrip spaces not covered
        offsets?.push([content, content + match[group].length]);
        start = match.index + match[0].length;
      }
    }
    this.encodeOrdinary(text.slice(start), start, ids, offsets);
    if (offsets && post.trim) {
      trimOffsets(
        ids.slice(first).map((id) => this.tokens[id]!),
        offsets,
        post.trim.addPrefixSpace,
      );
    }
    if (specials) ids.push(...post.suffix);
    if (offsets && specials) {
      offsets.unshift(...post.prefix.map((): [number, number] => [0, 0]));
      offsets.push(...post.suffix.map((): [number, number] => [0, 0]));
    }
  }

  decode(ids: number[]): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const token = Number.isInteger(id) ? this.tokens[id] : undefined;
      if (token === undefined) {
        throw new InputError(
          `Gpt2Tokenizer.decode: ids[${i}] is not a token id, expected an integer in ` +
            `[0, ${this.vocabSize}) with a token, got ${id}`,
        );
      }
      let tb = this.tokenBytes[id];
      if (tb === undefined) {
        tb = (this.added.has(id) ? undefined : byteLevelBytes(token)) ?? utf8.encode(token);
        this.tokenBytes[id] = tb;
      }
      for (const b of tb) bytes.push(b);
    }
    return utf8Decoder.decode(Uint8Array.from(bytes));
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  private resolveSpecial(value: number | string | null | undefined, where: string): number | null {
    if (value === undefined) return this.vocab.get(ENDOFTEXT) ?? null;
    if (value === null) return null;
    const id = typeof value === 'string' ? this.vocab.get(value) : value;
    if (id === undefined || !Number.isInteger(id) || this.tokens[id] === undefined) {
      const expected =
        typeof value === 'string' ? 'a vocabulary token' : `an id in [0, ${this.vocabSize}) with a token`;
      throw new WeightsError(
        `${where}: not a token of this tokenizer, expected ${expected}, got ${show(value)}`,
      );
    }
    return id;
  }

  // Byte symbols missing from the vocabulary (-1) never merge.
  private readonly rankOf = (left: number, right: number): number =>
    left < 0 || right < 0 ? -1 : (this.ranks.get(left * this.vocabSize + right) ?? -1);

  // Normalize, pre-tokenize, BPE each piece. base: where text starts in the encoded string, for offsets.
  private encodeOrdinary(text: string, base: number, ids: number[], offsets: Offsets | null): void {
    if (text === '') return;
    if (this.gpt2Split && offsets === null) {
      for (const [piece] of text.matchAll(GPT2_SPLIT)) for (const id of this.pieceIds(piece)) ids.push(id);
      return;
    }
    const identity: Aligned = { text, start: null, end: null };
    const normalized = this.normalizer ? this.normalizer(identity) : identity;
    const align = offsets ? materialize(normalized) : null;
    const local: Offsets = [];
    compose(this.preTokenizer, (piece, at, prefix) => {
      const pieceIds = this.pieceIds(piece);
      for (const id of pieceIds) ids.push(id);
      if (!offsets || !align) return;
      local.length = 0;
      byteTokenOffsets(piece, 0, pieceIds, this.byteLength, local);
      const unit = (u: number): number => (u < prefix ? at : at + u - prefix);
      for (const [a, b] of local) offsets.push([base + align.start[unit(a)], base + align.end[unit(b - 1)]]);
    })(normalized.text, 0, 0);
  }

  private pieceIds(piece: string): number[] {
    let pieceIds = this.cache.get(piece);
    if (pieceIds === undefined) {
      pieceIds = this.bpe(piece);
      if (piece.length <= CACHE_PIECE_LIMIT) {
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, pieceIds);
      }
    }
    return pieceIds;
  }

  // UTF-8 bytes a token of bpe() stands for: one per character of a byte-level token, one for unk (it replaces
  // a single unknown byte).
  private readonly byteLength = (id: number): number => (id === this.unkId ? 1 : this.tokens[id]!.length);

  // The published GPT-2 loop (bpe-merge.ts): merge the lowest-rank adjacent pair everywhere, repeat.
  private bpe(piece: string): number[] {
    const bytes = utf8.encode(piece);
    if (this.ignoreMerges) {
      const whole = this.vocab.get(Array.from(bytes, (b) => BYTE_TO_CHAR[b]).join(''));
      if (whole !== undefined) return [whole];
    }
    const symbols = bpeMerge(
      Array.from(bytes, (b) => this.byteIds[b]),
      this.rankOf,
      (rank) => this.mergeResult[rank],
    );
    if (symbols.includes(-1)) return this.replaceUnknown(symbols, bytes, piece);
    return symbols;
  }

  // Only byte symbols can be unknown (merges never produce one); each becomes the unk token, as in HF's
  // GPT2Tokenizer.
  private replaceUnknown(symbols: number[], bytes: Uint8Array, piece: string): number[] {
    if (this.unkId === null) {
      const b = bytes.find((x) => this.byteIds[x] < 0)!;
      throw new InputError(
        `Gpt2Tokenizer.encode: text byte has no token and there is no unk token, expected a vocabulary ` +
          `with all 256 byte tokens, got byte 0x${b.toString(16).padStart(2, '0')} in ` +
          show(piece),
      );
    }
    return symbols.map((id) => (id < 0 ? this.unkId! : id));
  }
}

function parseVocab(vocab: unknown, where: string): [string, number][] {
  const entries = Object.entries(
    asObject(typeof vocab === 'string' ? parseJson(vocab, where) : vocab, where, 'the vocabulary'),
  );
  for (const [token, id] of entries) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new WeightsError(
        `${where}: token ${show(token)} has a bad id, expected a non-negative integer, got ` + show(id),
      );
    }
  }
  return entries as [string, number][];
}

// merges.txt: an optional `#version: ...` first line, then one `left right` pair per line in rank order.
function parseMergesTxt(text: string, name: string): { pair: readonly [string, string]; where: string }[] {
  const out: { pair: readonly [string, string]; where: string }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    const pair = line.split(' ');
    if (pair.length !== 2 || pair[0] === '' || pair[1] === '') {
      throw new WeightsError(
        `${name} line ${i + 1}: malformed merge, expected two tokens separated by one space, got ` +
          show(line),
      );
    }
    out.push({ pair: [pair[0], pair[1]], where: `${name} line ${i + 1}` });
  }
  return out;
}

// Bytes of a vocabulary token: each character read back through the byte map. A token with a character
// outside the map (possible in hand-made vocabularies) is taken as UTF-8 text whole, as Hugging Face's
// ByteLevel decoder does. Added tokens always decode as their UTF-8 content.
function byteLevelBytes(token: string): Uint8Array | undefined {
  const bytes: number[] = [];
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) return undefined;
    bytes.push(b);
  }
  return Uint8Array.from(bytes);
}
