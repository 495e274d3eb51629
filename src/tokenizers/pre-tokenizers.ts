// tokenizer.json pre-tokenizers of the byte-level kind: a Sequence of Split (regex or string, any behavior,
// invert) and Digits stages ending in ByteLevel (add_prefix_space, use_regex: GPT-2's split). Each stage cuts the
// pieces the previous one gave. A piece carries where it starts in the normalized text (`at`) and how many
// units it begins with that ByteLevel's add_prefix_space wrote (`prefix`; they stand for the piece's first
// character). Anything else is refused by name.
import { WeightsError } from '../util/errors.ts';
import { show } from '../io/quote.ts';
import { literalRegex, translateRegex } from './regex-translate.ts';

export type Emit = (piece: string, at: number, prefix: number) => void;
export type Stage = (piece: string, at: number, prefix: number, emit: Emit) => void;

type Behavior = 'Isolated' | 'Removed' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';
const BEHAVIORS = ['Isolated', 'Removed', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];

// GPT-2's split (ByteLevel use_regex). Python's `regex` \s is Unicode White_Space; JS's \s differs (it takes
// U+FEFF and misses U+0085), hence \p{White_Space} spelled out.
export const GPT2_SPLIT = new RegExp(
  [
    "'s|'t|'re|'ve|'m|'ll|'d", // contractions (ASCII apostrophe, lowercase only, as published)
    ' ?\\p{L}+', // letters, with one optional leading space
    ' ?\\p{N}+', // digits
    ' ?[^\\p{White_Space}\\p{L}\\p{N}]+', // anything else, e.g. punctuation
    '\\p{White_Space}+(?!\\P{White_Space})', // whitespace not followed by text, so ' word' keeps its space
    '\\p{White_Space}+',
  ].join('|'),
  'gu',
);

/** GPT-2's pre-tokenizer: ByteLevel without a prefix space, with its split. */
export const GPT2_PRE_TOKENIZER: Stage[] = [byteLevel(false, true)];

/** The stages of a tokenizer.json `pre_tokenizer`; it must end in ByteLevel (the bytes are mapped after). */
export function parsePreTokenizer(spec: unknown, where: string): Stage[] {
  const o = (spec ?? {}) as Record<string, unknown>;
  const list =
    o.type === 'Sequence' && Array.isArray(o.pretokenizers)
      ? (o.pretokenizers as Record<string, unknown>[])
      : [o];
  const stages = list.map((p, k) =>
    stage(p ?? {}, o.type === 'Sequence' ? `${where}.pretokenizers[${k}]` : where),
  );
  const last = list[list.length - 1]?.type;
  if (last !== 'ByteLevel' || list.slice(0, -1).some((p) => p?.type === 'ByteLevel')) {
    throw new WeightsError(
      `${where}: pre_tokenizer is not supported, expected ByteLevel, alone or last in a Sequence, got ` +
        (spec == null ? 'null' : list.map((p) => show(p?.type)).join(', ')),
    );
  }
  return stages;
}

/** One function running the stages in turn, ending in emit. */
export function compose(stages: readonly Stage[], emit: Emit): Emit {
  let f = emit;
  for (let k = stages.length - 1; k >= 0; k--) {
    const run = stages[k];
    const next = f;
    f = (piece, at, prefix) => run(piece, at, prefix, next);
  }
  return f;
}

function stage(p: Record<string, unknown>, where: string): Stage {
  const refuse = (what: string): never => {
    throw new WeightsError(
      `${where}: pre_tokenizer is not supported, expected Split, Digits or ByteLevel, got ${what}`,
    );
  };
  switch (p.type) {
    case 'ByteLevel':
      return byteLevel(p.add_prefix_space === true, p.use_regex !== false);
    case 'Digits':
      return split(/\p{N}/gu, p.individual_digits === true ? 'Isolated' : 'Contiguous', false);
    case 'Split': {
      const pattern = p.pattern as { String?: unknown; Regex?: unknown } | undefined;
      const regex =
        typeof pattern?.String === 'string'
          ? literalRegex(pattern.String)
          : typeof pattern?.Regex === 'string'
            ? translateRegex(pattern.Regex, `${where}.pattern.Regex`)
            : refuse(`Split with pattern ${show(pattern)}`);
      if (!BEHAVIORS.includes(p.behavior as string)) refuse(`Split with behavior ${show(p.behavior)}`);
      return split(regex, p.behavior as Behavior, p.invert === true);
    }
    default:
      return refuse(typeof p.type === 'string' ? p.type : show(p.type));
  }
}

function byteLevel(addPrefixSpace: boolean, useRegex: boolean): Stage {
  const cut = useRegex ? split(GPT2_SPLIT, 'Isolated', false) : null;
  return (piece, at, prefix, emit) => {
    if (addPrefixSpace && !piece.startsWith(' ')) {
      piece = ` ${piece}`;
      prefix++;
    }
    if (cut) cut(piece, at, prefix, emit);
    else emit(piece, at, prefix);
  };
}

// The part [a, b) of a piece as a piece of its own.
function sub(piece: string, at: number, prefix: number, a: number, b: number, emit: Emit): void {
  emit(piece.slice(a, b), at + Math.max(0, a - prefix), Math.min(Math.max(prefix - a, 0), b - a));
}

// Hugging Face's split of a piece at a pattern's matches: the matches and the text between them are the parts
// (empty ones dropped); invert swaps which is which; the behavior says what becomes of the matches.
function split(regex: RegExp, behavior: Behavior, invert: boolean): Stage {
  return (piece, at, prefix, emit) => {
    if (behavior === 'Isolated' && !invert) {
      let last = 0;
      for (const m of piece.matchAll(regex)) {
        if (m[0] === '') continue;
        if (m.index > last) sub(piece, at, prefix, last, m.index, emit);
        last = m.index + m[0].length;
        sub(piece, at, prefix, m.index, last, emit);
      }
      if (last < piece.length) sub(piece, at, prefix, last, piece.length, emit);
      return;
    }
    const parts: [number, number, boolean][] = [];
    let last = 0;
    for (const m of piece.matchAll(regex)) {
      if (m[0] === '') continue;
      if (m.index > last) parts.push([last, m.index, invert]);
      last = m.index + m[0].length;
      parts.push([m.index, last, !invert]);
    }
    if (last < piece.length) parts.push([last, piece.length, invert]);
    const out: [number, number][] = [];
    let previous = false;
    const ordered = behavior === 'MergedWithNext' ? parts.reverse() : parts;
    for (const [a, b, match] of ordered) {
      const top = out[out.length - 1];
      if (behavior === 'Removed') {
        if (!match) out.push([a, b]);
      } else if (behavior === 'Isolated') {
        out.push([a, b]);
      } else if (behavior === 'Contiguous' ? match === previous && top : match && !previous && top) {
        if (behavior === 'MergedWithNext') top[0] = a;
        else top[1] = b;
      } else {
        out.push([a, b]);
      }
      previous = match;
    }
    if (behavior === 'MergedWithNext') out.reverse();
    for (const [a, b] of out) sub(piece, at, prefix, a, b, emit);
  };
}
