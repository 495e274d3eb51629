// SentencePiece tokenizer of the Llama family (Kudo & Richardson 2018), from `tokenizer.model` (a protobuf
// ModelProto) or from a Hugging Face tokenizer.json of the Llama kind. BPE and UNIGRAM models, byte fallback,
// `▁` for spaces; ids match the sentencepiece library (test/fixtures/sentencepiece.json). Browser-safe. Only
// the identity normalizer is supported (empty precompiled_charsmap, as in Llama 1/2, Mistral, TinyLlama).

import { InputError, WeightsError } from '../util/errors.ts';
import { show } from '../io/quote.ts';
import { checkAddBos, splitter, type AddedToken, type TokenizerJsonOptions } from './tokenizer-json.ts';
import {
  BYTE_PIECE,
  type Piece,
  parseSentencePieceModel,
  type SentencePieceModel,
} from './sentencepiece-model.ts';
import { readLlamaTokenizerJson } from './sentencepiece-json.ts';
import { PairQueue } from './pair-queue.ts';
import type { EncodeOptions, Encoding, Tokenizer } from './tokenizer.ts';
import { span, type Offsets } from './offsets.ts';
import { decodeUtf8Lenient, normalizeAligned } from './sentencepiece-text.ts';

export type { Piece, PieceType, SentencePieceModel } from './sentencepiece-model.ts';

// bos / eos: an id or a piece overriding the model's (null: none); addBosToken: default true where there is a BOS
// (Llama's tokenizers add it, and the models were trained with it); file: how errors name the file.
// legacy: tokenizer_config.json's flag: true puts the dummy prefix after special tokens too (transformers'
// prepend_scheme "always"); false or absent, only at the start of a sequence ("first"). A tokenizer.json of the
// Llama kind prepends in its normalizer, which runs on every text between special tokens: always.
export type SentencePieceOptions = TokenizerJsonOptions & { legacy?: boolean };

export interface SentencePieceEncodeOptions extends EncodeOptions {
  addBos?: boolean; // prepend bosId (default false: encode returns only the text's ids)
  addEos?: boolean; // append eosId (default false)
}

const SPACE = '\u2581'; // ▁
const FLT_MIN = 1.1754943508222875e-38; // sentencepiece's starting max_score (C++ FLT_MIN)
const UNK_PENALTY = 10; // unigram: an unknown character scores min_score - 10
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // for tokenizer.json byte runs

export class SentencePieceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBosToken: boolean;
  private readonly pieces: Piece[];
  private readonly ids = new Map<string, number>(); // piece → id, reserved first (sentencepiece's PieceToId)
  private readonly normal = new Map<string, number>(); // normal, user-defined, unused: what merges form
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly userSymbols = new Map<string, string[]>(); // first char → user pieces, longest first
  private readonly unkId: number | null;
  private readonly maxPieceLength: number; // UTF-16 units, for the unigram lattice
  private minScore = 3.4028234663852886e38; // over normal pieces, for the unigram unknown score
  private maxScore = FLT_MIN; // over normal pieces, for the unigram user-defined bonus
  private readonly split: { all: RegExp | null; nonSpecial: RegExp | null; tokens: AddedToken[] };
  private readonly prefixAfterSpecial: boolean;

  constructor(
    readonly model: SentencePieceModel,
    options: SentencePieceOptions = {},
  ) {
    this.pieces = model.pieces;
    this.vocabSize = model.pieces.length;
    const reserved = (p: Piece): boolean => p.type === 'unknown' || p.type === 'control' || p.type === 'byte';
    for (const pass of [true, false]) {
      model.pieces.forEach((p, id) => {
        if (reserved(p) === pass && !this.ids.has(p.piece)) this.ids.set(p.piece, id);
      });
    }
    let maxLength = 1;
    model.pieces.forEach((p, id) => {
      if (p.type === 'byte') this.byteIds[parseInt(BYTE_PIECE.exec(p.piece)![1], 16)] = id;
      if (reserved(p)) return;
      this.normal.set(p.piece, id);
      maxLength = Math.max(maxLength, p.piece.length);
      if (p.type === 'normal') this.minScore = Math.min(this.minScore, p.score);
      if (p.type === 'normal') this.maxScore = Math.max(this.maxScore, p.score);
      if (p.type !== 'user' || model.tokenizerJson) return;
      const first = String.fromCodePoint(p.piece.codePointAt(0)!);
      this.userSymbols.set(first, [...(this.userSymbols.get(first) ?? []), p.piece]);
    });
    for (const list of this.userSymbols.values()) list.sort((a, b) => b.length - a.length);
    this.maxPieceLength = maxLength;
    const unk = model.pieces.findIndex((p) => p.type === 'unknown');
    this.unkId = unk < 0 ? null : unk;
    const tokens = [...(model.tokenizerJson?.addedTokens ?? [])].sort(
      (a, b) => b.content.length - a.content.length,
    );
    this.split = {
      all: splitter(tokens, () => true),
      nonSpecial: splitter(tokens, (t) => t.special === false),
      tokens,
    };
    this.prefixAfterSpecial = model.tokenizerJson !== undefined || options.legacy === true;
    const names = options.names ?? {};
    this.bosId = this.resolve(options.bos, model.bosId, names.bos ?? 'SentencePieceTokenizer options.bos');
    this.eosId = this.resolve(options.eos, model.eosId, names.eos ?? 'SentencePieceTokenizer options.eos');
    this.addBosToken = checkAddBos(
      options.addBosToken ?? this.bosId !== null,
      this.bosId,
      names.addBosToken ?? 'SentencePieceTokenizer options.addBosToken',
    );
  }

  // The text's ids only, unless addBos / addEos. Special pieces in the text (`<s>`) are plain text for a
  // tokenizer.model, as in the sentencepiece library; a tokenizer.json's added tokens are matched whole
  // unless `allowSpecial: false` (Hugging Face's rule).
  encode(text: string, options: SentencePieceEncodeOptions = {}): number[] {
    const ids: number[] = [];
    this.encodeInto(text, options, ids, null);
    return ids;
  }

  // BOS / EOS added by addBos / addEos cover [0, 0), as Hugging Face's post-processor writes.
  encodeWithOffsets(text: string, options: SentencePieceEncodeOptions = {}): Encoding {
    const ids: number[] = [];
    const offsets: Offsets = [];
    this.encodeInto(text, options, ids, offsets);
    return { ids, offsets };
  }

  private encodeInto(
    text: string,
    options: SentencePieceEncodeOptions,
    ids: number[],
    offsets: Offsets | null,
  ): void {
    if (options.addBos) ids.push(this.required(this.bosId, 'bos'));
    if (options.addBos) offsets?.push([0, 0]);
    const split = options.allowSpecial === false ? this.split.nonSpecial : this.split.all;
    const prefix = options.continuation !== true || this.prefixAfterSpecial;
    let start = 0;
    if (split) {
      for (const match of text.matchAll(split)) {
        this.encodeText(text.slice(start, match.index), start, ids, offsets, prefix);
        const group = match.findIndex((g, k) => k > 0 && g !== undefined);
        ids.push(this.split.tokens[group - 1].id);
        const content = match.index + match[0].indexOf(match[group]); // lstrip/rstrip spaces not covered
        offsets?.push([content, content + match[group].length]);
        start = match.index + match[0].length;
      }
    }
    this.encodeText(text.slice(start), start, ids, offsets, prefix);
    if (options.addEos) ids.push(this.required(this.eosId, 'eos'));
    if (options.addEos) offsets?.push([0, 0]);
  }

  decode(ids: number[]): string {
    for (let i = 0; i < ids.length; i++) {
      if (!Number.isInteger(ids[i]) || ids[i] < 0 || ids[i] >= this.vocabSize) {
        throw new InputError(
          `SentencePieceTokenizer.decode: ids[${i}] is not a token id, expected an integer in ` +
            `[0, ${this.vocabSize}), got ${ids[i]}`,
        );
      }
    }
    return this.model.tokenizerJson ? this.decodeJson(ids) : this.decodePieces(ids);
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.pieces[id]?.piece;
  }

  private resolve(
    value: number | string | null | undefined,
    fallback: number | null,
    where: string,
  ): number | null {
    if (value === undefined) return fallback;
    if (value === null) return null;
    const id = typeof value === 'string' ? this.ids.get(value) : value;
    if (id === undefined || !Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      const expected =
        typeof value === 'string' ? 'a piece of the vocabulary' : `an id in [0, ${this.vocabSize})`;
      throw new WeightsError(
        `${where}: not a token of this tokenizer, expected ${expected}, got ${show(value)}`,
      );
    }
    return id;
  }

  private required(id: number | null, kind: 'bos' | 'eos'): number {
    if (id === null) {
      throw new InputError(
        `SentencePieceTokenizer.encode: add${kind === 'bos' ? 'Bos' : 'Eos'} needs a ${kind} token, ` +
          `expected a ${kind} id from the model or the options, got none`,
      );
    }
    return id;
  }

  // Normalize, segment, then map unknown pieces to their UTF-8 byte pieces (or to <unk>, runs fused). base:
  // where text starts in the encoded string, for offsets; prefix: the dummy prefix is allowed.
  private encodeText(
    text: string,
    base: number,
    ids: number[],
    offsets: Offsets | null,
    prefix: boolean,
  ): void {
    const normalized = normalizeAligned(this.model, text.replace(/\p{Cs}/gu, '\uFFFD'), prefix);
    if (normalized.text === '') return;
    const segments =
      this.model.modelType === 'unigram' ? this.viterbi(normalized.text) : this.bpe(normalized.text);
    const fuse = this.model.tokenizerJson?.fuseUnk ?? true;
    let prevUnk = false;
    let pos = 0;
    for (const [piece, id] of segments) {
      const [from, to] = span(normalized, pos, pos + piece.length);
      pos += piece.length;
      const unknown = id < 0 || id === this.unkId;
      if (unknown && this.model.byteFallback) {
        for (const b of utf8.encode(piece)) {
          ids.push(this.byteIds[b]);
          offsets?.push([base + from, base + to]);
        }
      } else if (unknown && this.unkId === null) {
        throw new InputError(
          `SentencePieceTokenizer.encode: text has a character outside the vocabulary and there is no unk ` +
            `token, expected a vocabulary with byte fallback or <unk>, got ${show(piece)}`,
        );
      } else if (!(unknown && prevUnk && fuse)) {
        ids.push(unknown ? this.unkId! : id);
        offsets?.push([base + from, base + to]);
      } else if (offsets) {
        offsets[offsets.length - 1][1] = base + to; // a fused <unk> covers the whole run
      }
      prevUnk = unknown;
    }
  }

  // BPE: start from characters (user-defined pieces whole and frozen), repeatedly merge the adjacent pair of
  // best priority, leftmost first. Priority: the merged piece's score (tokenizer.model) or minus the merge
  // rank (tokenizer.json). Returns [piece, id] with id -1 for pieces outside the vocabulary.
  private bpe(text: string): [string, number][] {
    const json = this.model.tokenizerJson;
    if (json?.ignoreMerges && this.ids.has(text)) return [[text, this.ids.get(text)!]];
    const sym: string[] = [];
    const frozen: boolean[] = [];
    for (let i = 0; i < text.length; i += sym[sym.length - 1].length) {
      const user = this.userSymbols
        .get(String.fromCodePoint(text.codePointAt(i)!))
        ?.find((u) => text.startsWith(u, i));
      sym.push(user ?? String.fromCodePoint(text.codePointAt(i)!));
      frozen.push(user !== undefined);
    }
    const next = Int32Array.from(sym, (_, i) => (i + 1 < sym.length ? i + 1 : -1));
    const prev = Int32Array.from(sym, (_, i) => i - 1);
    const queue = new PairQueue();
    const unusedSplit = new Map<string, [string, string]>(); // sentencepiece's rev_merge: last pair seen wins
    const consider = (l: number, r: number): void => {
      if (l < 0 || r < 0 || frozen[l] || frozen[r]) return;
      const priority = this.priority(sym[l], sym[r]);
      if (priority === undefined) return;
      queue.push(priority, l, sym[l] + sym[r]);
      if (this.pieces[this.normal.get(sym[l] + sym[r]) ?? -1]?.type === 'unused') {
        unusedSplit.set(sym[l] + sym[r], [sym[l], sym[r]]);
      }
    };
    for (let i = 1; i < sym.length; i++) consider(i - 1, i);
    for (let top = queue.pop(); top !== undefined; top = queue.pop()) {
      const l = top.left;
      const r = next[l];
      if (sym[l] === '' || r < 0 || sym[l] + sym[r] !== top.merged) continue; // stale: a side has changed
      if (json && this.priority(sym[l], sym[r]) === undefined) continue;
      sym[l] = top.merged;
      sym[r] = '';
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      consider(prev[l], l);
      consider(l, next[l]);
    }
    const out: [string, number][] = [];
    const emit = (w: string): void => {
      const id = this.ids.get(w) ?? -1;
      const parts = this.pieces[id]?.type === 'unused' ? unusedSplit.get(w) : undefined;
      if (parts) parts.forEach(emit);
      else out.push([w, id]);
    };
    for (let i = 0; i >= 0; i = next[i]) emit(sym[i]);
    return out;
  }

  private priority(left: string, right: string): number | undefined {
    const json = this.model.tokenizerJson;
    if (json) {
      const rank = json.ranks.get(`${left}\0${right}`);
      return rank === undefined ? undefined : -rank;
    }
    const id = this.normal.get(left + right);
    return id === undefined ? undefined : this.pieces[id].score;
  }

  // UNIGRAM: the segmentation with the highest total score (Viterbi over every vocabulary piece starting at
  // each character). Float32 rounding and tie-breaking follow sentencepiece's optimized encoder.
  private viterbi(text: string): [string, number][] {
    const n = text.length;
    const best = new Float64Array(n + 1); // best score of a path ending at each UTF-16 position
    const from = new Int32Array(n + 1).fill(-1);
    const ids = new Int32Array(n + 1);
    const relax = (end: number, score: number, start: number, id: number): void => {
      if (from[end] === -1 || score > best[end]) {
        best[end] = Math.fround(score);
        from[end] = start;
        ids[end] = id;
      }
    };
    const unkScore = Math.fround(this.minScore - UNK_PENALTY);
    for (let start = 0; start < n;) {
      const charLength = text.codePointAt(start)! > 0xffff ? 2 : 1;
      let single = false;
      for (let end = start + 1; end <= Math.min(n, start + this.maxPieceLength); end++) {
        const id = this.normal.get(text.slice(start, end));
        if (id === undefined || this.pieces[id].type === 'unused') continue;
        const p = this.pieces[id]; // a user-defined piece gets a bonus so that it always wins
        const score =
          p.type === 'user' ? Math.fround(utf8.encode(p.piece).length * this.maxScore) - 0.1 : p.score;
        relax(end, score + best[start], start, id);
        if (end - start === charLength) single = true;
      }
      if (!single) relax(start + charLength, Math.fround(unkScore + best[start]), start, this.unkId ?? -1);
      start += charLength;
    }
    const out: [string, number][] = [];
    for (let end = n; end > 0; end = from[end]) out.push([text.slice(from[end], end), ids[end]]);
    return out.reverse();
  }

  // sentencepiece's decoder: control pieces vanish, <unk> writes unk_surface, runs of byte pieces are read as
  // UTF-8 (each bad byte → U+FFFD), `▁` → space, and the first piece loses one leading `▁`.
  private decodePieces(ids: number[]): string {
    const m = this.model;
    let text = '';
    let bytes: number[] = [];
    let atStart = true;
    let startSpaceSeen = false;
    for (const id of ids) {
      const p = this.pieces[id];
      if (p.type === 'byte') {
        bytes.push(parseInt(p.piece.slice(3, 5), 16));
        continue;
      }
      text += decodeUtf8Lenient(bytes);
      bytes = [];
      if (startSpaceSeen || text !== '') atStart = false;
      startSpaceSeen = false;
      if (p.type === 'control') continue;
      if (p.type === 'unknown') {
        text += m.unkSurface;
        continue;
      }
      let piece = p.piece;
      if (atStart && (m.addDummyPrefix || m.removeExtraWhitespaces) && piece.startsWith(SPACE)) {
        piece = piece.slice(1);
        startSpaceSeen = !m.removeExtraWhitespaces;
      }
      text += piece.replaceAll(SPACE, ' ');
    }
    return text + decodeUtf8Lenient(bytes);
  }

  // Hugging Face's Llama decoder: Replace(▁ → space), ByteFallback (a run of <0xNN> that is not valid UTF-8
  // becomes one U+FFFD per byte), Fuse, Strip(one leading space). Added tokens print as their content.
  private decodeJson(ids: number[]): string {
    let text = '';
    let bytes: number[] = [];
    const flush = (): void => {
      try {
        text += utf8Strict.decode(Uint8Array.from(bytes));
      } catch {
        text += '\uFFFD'.repeat(bytes.length);
      }
      bytes = [];
    };
    for (const id of ids) {
      const token = this.pieces[id].piece;
      const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
      if (byte) {
        bytes.push(parseInt(byte[1], 16));
        continue;
      }
      flush();
      text += token.replaceAll(SPACE, ' ');
    }
    flush();
    return text.startsWith(' ') ? text.slice(1) : text;
  }
}

// A tokenizer from the bytes of a `tokenizer.model`; options.file names it in errors.
export function fromSentencePieceModel(
  bytes: Uint8Array,
  options: SentencePieceOptions = {},
): SentencePieceTokenizer {
  return new SentencePieceTokenizer(parseSentencePieceModel(bytes, options.file), options);
}

// A Hugging Face tokenizer.json of the Llama kind (see readLlamaTokenizerJson). The post-processor (BOS
// template) is not applied: encode returns the text's own ids, as for tokenizer.model; pass addBos.
export function fromLlamaTokenizerJson(
  json: string | object,
  options: SentencePieceOptions = {},
): SentencePieceTokenizer {
  return new SentencePieceTokenizer(readLlamaTokenizerJson(json, options.file), options);
}
