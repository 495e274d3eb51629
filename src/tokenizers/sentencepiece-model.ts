// A SentencePiece model as the tokenizer needs it, read from `tokenizer.model` (a protobuf ModelProto, read by
// the minimal wire-format reader below; field numbers from sentencepiece_model.proto). The other source, a Hugging
// Face tokenizer.json of the Llama kind, is read by sentencepiece-json.ts. Browser-safe.

import { WeightsError } from '../util/errors.ts';
import { show } from '../io/quote.ts';
import type { AddedToken } from './tokenizer-json.ts';

export type PieceType = 'normal' | 'unknown' | 'control' | 'user' | 'unused' | 'byte';
export interface Piece {
  piece: string;
  score: number;
  type: PieceType;
}

// What encode and decode need from a ModelProto (field names of sentencepiece_model.proto).
export interface SentencePieceModel {
  pieces: Piece[]; // by id
  modelType: 'bpe' | 'unigram'; // trainer_spec.model_type
  byteFallback: boolean; // trainer_spec.byte_fallback
  unkSurface: string; // trainer_spec.unk_surface: what decode writes for the unknown piece
  bosId: number | null; // id of trainer_spec.bos_piece if a control piece (sentencepiece's bos_id())
  eosId: number | null;
  addDummyPrefix: boolean; // normalizer_spec fields
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
  tokenizerJson?: TokenizerJsonBpe; // set by fromLlamaTokenizerJson: Hugging Face BPE rules instead
}

export interface TokenizerJsonBpe {
  ranks: ReadonlyMap<string, number>; // `left \0 right` → merge rank
  addedTokens: AddedToken[];
  fuseUnk: boolean;
  ignoreMerges: boolean;
}
export const BYTE_PIECE = /^<0x([0-9A-F]{2})>$/; // sentencepiece's byte pieces, `<0x%02X>`
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface Field {
  field: number;
  wire: number; // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
  value: number; // varint: its low 32 bits as int32; length-delimited: the length
  start: number; // payload [start, end)
  end: number;
}
type Layout = Record<number, [wire: number, name: string]>;

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'group start', 'group end', 'fixed32'];
const PIECE_TYPES: PieceType[] = ['normal', 'unknown', 'control', 'user', 'unused', 'byte']; // enum 1 to 6
const MODEL: Layout = {
  1: [2, 'pieces'],
  2: [2, 'trainer_spec'],
  3: [2, 'normalizer_spec'],
  5: [2, 'denormalizer_spec'],
};
const PIECE: Layout = { 1: [2, 'piece'], 2: [5, 'score'], 3: [0, 'type'] };
const TRAINER: Layout = {
  3: [0, 'model_type'],
  24: [0, 'treat_whitespace_as_suffix'],
  35: [0, 'byte_fallback'],
  44: [2, 'unk_surface'],
  46: [2, 'bos_piece'],
  47: [2, 'eos_piece'],
};
const NORMALIZER: Layout = {
  1: [2, 'name'],
  2: [2, 'precompiled_charsmap'],
  3: [0, 'add_dummy_prefix'],
  4: [0, 'remove_extra_whitespaces'],
  5: [0, 'escape_whitespaces'],
};

export function parseSentencePieceModel(bytes: Uint8Array, file = 'tokenizer.model'): SentencePieceModel {
  const top: Field[] = [...fields(bytes, 0, bytes.length, file, MODEL)];
  const part = (n: number, layout: Layout): Map<number, Field> =>
    new Map(
      top
        .filter((f) => f.field === n)
        .flatMap((f) => [...message(bytes, f, `${file} ${MODEL[n][1]}`, layout)]),
    );
  const trainer = part(2, TRAINER);
  const normalizer = part(3, NORMALIZER);
  const pieces = top.filter((f) => f.field === 1).map((f, i) => readPiece(bytes, f, `${file} pieces[${i}]`));
  const flag = (m: Map<number, Field>, n: number, fallback: boolean): boolean =>
    (m.get(n)?.value ?? +fallback) !== 0;
  const text = (m: Map<number, Field>, n: number, fallback: string, where: string): string => {
    const f = m.get(n);
    return f ? utf8Text(bytes, f, where) : fallback;
  };
  const fail = (where: string, what: string, expected: string, got: string, hint?: string): never => {
    throw new WeightsError(`${file} ${where}: ${what}, expected ${expected}, got ${got}`, hint);
  };
  if (pieces.length === 0) {
    fail(
      'pieces',
      'no pieces',
      'a SentencePiece ModelProto with pieces (field 1)',
      `${bytes.length} bytes without any`,
    );
  }
  const modelType = trainer.get(3)?.value ?? 1;
  if (modelType !== 1 && modelType !== 2) {
    fail('trainer_spec.model_type', 'unsupported model type', '1 (UNIGRAM) or 2 (BPE)', `${modelType}`);
  }
  if (flag(trainer, 24, false))
    fail('trainer_spec.treat_whitespace_as_suffix', 'unsupported', 'false', 'true');
  const name = text(normalizer, 1, '', `${file} normalizer_spec.name`);
  for (const [n, spec] of [
    [3, 'normalizer_spec'],
    [5, 'denormalizer_spec'],
  ] as const) {
    const charsmap = part(n, NORMALIZER).get(2);
    if (charsmap && charsmap.end > charsmap.start) {
      fail(
        `${spec}.precompiled_charsmap`,
        'unsupported normalization rules',
        'none (the identity normalizer)',
        `${charsmap.end - charsmap.start} bytes (normalizer ${show(name)})`,
        'only the identity normalizer of the Llama family is implemented',
      );
    }
  }
  const seen = new Map<string, number>();
  pieces.forEach((p, id) => {
    const where = `pieces[${id}]`;
    if (p.piece === '') fail(where, 'empty piece', 'a non-empty string', '""');
    if (seen.has(p.piece))
      fail(
        where,
        'piece defined twice',
        'unique pieces',
        `${show(p.piece)} = id ${seen.get(p.piece)} and ${id}`,
      );
    if (p.type === 'byte' && !BYTE_PIECE.test(p.piece))
      fail(where, 'malformed byte piece', '<0xNN>', show(p.piece));
    seen.set(p.piece, id);
  });
  const unknown = pieces.filter((p) => p.type === 'unknown').length;
  if (unknown !== 1) fail('pieces', 'wrong number of UNKNOWN pieces', 'exactly one', `${unknown}`);
  const byteFallback = flag(trainer, 35, false);
  const bytePieces = pieces.filter((p) => p.type === 'byte').length;
  if (byteFallback && bytePieces !== 256) {
    fail(
      'trainer_spec.byte_fallback',
      'byte fallback without all byte pieces',
      '256 BYTE pieces',
      `${bytePieces}`,
    );
  }
  const control = (piece: string): number | null => {
    const id = seen.get(piece);
    return id !== undefined && pieces[id].type === 'control' ? id : null;
  };
  return {
    pieces,
    modelType: modelType === 2 ? 'bpe' : 'unigram',
    byteFallback,
    unkSurface: text(trainer, 44, ' \u2047 ', `${file} trainer_spec.unk_surface`),
    bosId: control(text(trainer, 46, '<s>', `${file} trainer_spec.bos_piece`)),
    eosId: control(text(trainer, 47, '</s>', `${file} trainer_spec.eos_piece`)),
    addDummyPrefix: flag(normalizer, 3, true),
    removeExtraWhitespaces: flag(normalizer, 4, true),
    escapeWhitespaces: flag(normalizer, 5, true),
  };
}

function readPiece(bytes: Uint8Array, f: Field, where: string): Piece {
  const m = message(bytes, f, where, PIECE);
  const score = m.get(2);
  const code = m.get(3)?.value ?? 1;
  const type = PIECE_TYPES[code - 1];
  if (type === undefined) {
    throw new WeightsError(
      `${where}.type: unknown piece type, expected 1 to 6 (NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, ` +
        `BYTE), got ${code}`,
    );
  }
  const piece = m.has(1) ? utf8Text(bytes, m.get(1)!, `${where}.piece`) : '';
  const value = score ? new DataView(bytes.buffer, bytes.byteOffset + score.start, 4).getFloat32(0, true) : 0;
  return { piece, score: value, type };
}

// The known fields of one message, checked against their wire type; a repeated scalar keeps its last value.
function message(bytes: Uint8Array, f: Field, where: string, layout: Layout): Map<number, Field> {
  return new Map([...fields(bytes, f.start, f.end, where, layout)].map((x) => [x.field, x]));
}

function* fields(
  bytes: Uint8Array,
  start: number,
  end: number,
  where: string,
  layout: Layout,
): Generator<Field> {
  for (let pos = start; pos < end;) {
    const at = pos;
    const key = varint(bytes, pos, end, where);
    const field = key.value >>> 3;
    const wire = key.value & 7;
    let value = 0;
    pos = key.next;
    if (wire === 0) ({ value, next: pos } = varint(bytes, pos, end, where));
    else if (wire === 2) ({ value, next: pos } = varint(bytes, pos, end, where));
    else if (wire !== 1 && wire !== 5) {
      throw new WeightsError(
        `${where}: bad protobuf wire type for field ${field} at byte ${at}, expected 0, 1, 2 or 5, ` +
          `got ${wire}`,
        'the file is not a SentencePiece model, or it is corrupt',
      );
    }
    const size = wire === 2 ? value >>> 0 : wire === 1 ? 8 : wire === 5 ? 4 : 0;
    if (pos + size > end) {
      throw new WeightsError(
        `${where}: protobuf is truncated inside field ${field} (byte ${at}), expected ${size} bytes, got ` +
          `${end - pos}`,
        'the file is cut short or is not a SentencePiece model',
      );
    }
    const known = layout[field];
    if (known && known[0] !== wire) {
      throw new WeightsError(
        `${where}: field ${field} (${known[1]}) has the wrong protobuf wire type, expected ${known[0]} ` +
          `(${WIRE_NAMES[known[0]]}), got ${wire} (${WIRE_NAMES[wire]})`,
      );
    }
    if (known) yield { field, wire, value, start: pos, end: pos + size };
    pos += size;
  }
}

// A base-128 varint: its low 32 bits as int32 (enough for every field read here; int32 -1 takes 10 bytes).
function varint(bytes: Uint8Array, pos: number, end: number, where: string): { value: number; next: number } {
  let value = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    if (pos >= end) {
      throw new WeightsError(
        `${where}: protobuf is truncated inside a varint, expected a final byte below 0x80, got the end of ` +
          `the data at byte ${pos}`,
        'the file is cut short or is not a SentencePiece model',
      );
    }
    const b = bytes[pos++];
    if (shift < 32) value |= (b & 0x7f) << shift;
    if (b < 0x80) return { value, next: pos };
  }
  throw new WeightsError(`${where}: malformed protobuf varint, expected at most 10 bytes, got more`);
}

function utf8Text(bytes: Uint8Array, f: Field, where: string): string {
  try {
    return utf8Strict.decode(bytes.subarray(f.start, f.end));
  } catch {
    throw new WeightsError(
      `${where}: not valid UTF-8, expected UTF-8 text, got ${f.end - f.start} other bytes`,
    );
  }
}
