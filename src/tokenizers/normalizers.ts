// tokenizer.json normalizers (NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip, Sequence) applied with
// Hugging Face's alignments, so offsets point into the original text: a character a normalizer writes stands for
// the character(s) it came from (a composed `é` for `e` + U+0301's first character, a prepended `▁` for the
// first character, replacement text for the last character it replaced). Anything else is refused by name.
import { WeightsError } from '../util/errors.ts';
import { show } from '../io/quote.ts';
import type { Aligned } from './offsets.ts';
import { literalRegex, translateRegex } from './regex-translate.ts';

export type Normalizer = (text: Aligned) => Aligned;

// A starter with the marks that follow it (Hangul jamo sequences compose too): NFC/NFD work within one run.
const RUN =
  /(?:[\u1100-\u115F\uA960-\uA97C\uAC00-\uD7A3][\u1160-\u11FF\uD7B0-\uD7FB]*|[\p{M}]+|[^\p{M}])\p{M}*/gu;

/** The normalizer a tokenizer.json `normalizer` describes; null for none. */
export function parseNormalizer(spec: unknown, where: string): Normalizer | null {
  if (spec == null) return null;
  const o = spec as Record<string, unknown>;
  const refuse = (what: unknown): never => {
    throw new WeightsError(
      `${where}: normalizer is not supported, expected NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, ` +
        `Strip or a Sequence of them, got ${what}`,
    );
  };
  switch (o.type) {
    case 'Sequence': {
      if (!Array.isArray(o.normalizers)) refuse('a Sequence without a normalizers list');
      const steps = (o.normalizers as unknown[]).map((n, k) =>
        parseNormalizer(n, `${where}.normalizers[${k}]`)!,
      );
      return (t) => steps.reduce((acc, step) => step(acc), t);
    }
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = o.type;
      return (t) => (t.text.normalize(form) === t.text ? t : byRuns(t, RUN, (run) => run.normalize(form)));
    }
    case 'Lowercase':
      return (t) => (t.text.toLowerCase() === t.text ? t : byRuns(t, /[^]/gu, (c) => c.toLowerCase()));
    case 'Replace': {
      const pattern = o.pattern as { String?: unknown; Regex?: unknown } | undefined;
      if (typeof o.content !== 'string') refuse(`Replace with content ${show(o.content)}`);
      const content = o.content as string;
      const regex =
        typeof pattern?.String === 'string'
          ? literalRegex(pattern.String)
          : typeof pattern?.Regex === 'string'
            ? translateRegex(pattern.Regex, `${where}.pattern.Regex`)
            : refuse(`Replace with pattern ${show(pattern)}`);
      return (t) => replace(t, regex, content);
    }
    case 'Prepend': {
      if (typeof o.prepend !== 'string') refuse(`Prepend with ${show(o.prepend)}`);
      const prefix = o.prepend as string;
      return (t) => (t.text === '' ? t : byRuns(t, /^[^]/gu, (c) => prefix + c, true));
    }
    case 'Strip': {
      const left = o.strip_left !== false;
      const right = o.strip_right !== false;
      return (t) => strip(t, left, right);
    }
    default:
      return refuse(typeof o.type === 'string' ? o.type : show(o.type));
  }
}

/** The identity alignment of a text as arrays: each unit covers its whole character. */
export function materialize(t: Aligned): { start: Int32Array; end: Int32Array } {
  if (t.start !== null) return { start: t.start, end: t.end! };
  const start = new Int32Array(t.text.length);
  const end = new Int32Array(t.text.length);
  for (let i = 0; i < t.text.length; i++) {
    const pair = t.text.codePointAt(i)! > 0xffff;
    start[i] = i;
    end[i] = pair ? i + 2 : i + 1;
    if (pair) {
      start[i + 1] = i;
      end[i + 1] = i + 2;
      i++;
    }
  }
  return { start, end };
}

// Rewrite each match of `run` with f(match), aligned as HF's transform does: when m output characters replace
// n > m, the first stands for the first input character and absorbs the n - m that went, the others stand for the
// last m - 1; when m >= n, character k stands for input min(k, n - 1). `first`: every output character stands
// for the first input character (Prepend).
function byRuns(t: Aligned, run: RegExp, f: (s: string) => string, first = false): Aligned {
  const { start, end } = materialize(t);
  const units: string[] = [];
  const s: number[] = [];
  const e: number[] = [];
  let last = 0;
  const copy = (a: number, b: number): void => {
    for (let i = a; i < b; i++) {
      units.push(t.text[i]);
      s.push(start[i]);
      e.push(end[i]);
    }
  };
  for (const m of t.text.matchAll(run)) {
    copy(last, m.index);
    last = m.index + m[0].length;
    const out = f(m[0]);
    if (out === m[0]) {
      copy(m.index, last);
      continue;
    }
    const inputs: number[] = []; // unit index of each input character
    for (let i = m.index; i < last; i += t.text.codePointAt(i)! > 0xffff ? 2 : 1) inputs.push(i);
    let k = 0;
    const outChars = [...out].length;
    for (const ch of out) {
      const shrink = inputs.length - outChars; // the first output character takes the characters that went
      const from = inputs[first ? 0 : k === 0 ? 0 : Math.min(k + Math.max(shrink, 0), inputs.length - 1)];
      k++;
      const to = from + (t.text.codePointAt(from)! > 0xffff ? 1 : 0);
      for (let u = 0; u < ch.length; u++) {
        units.push(ch[u]); // both units of a pair stand for the same span
        s.push(start[from]);
        e.push(end[to]);
      }
    }
  }
  copy(last, t.text.length);
  return { text: units.join(''), start: Int32Array.from(s), end: Int32Array.from(e) };
}

// HF's Replace: the content stands for the last character of the match it replaces.
function replace(t: Aligned, regex: RegExp, content: string): Aligned {
  regex.lastIndex = 0;
  if (!regex.test(t.text)) return t;
  const { start, end } = materialize(t);
  let text = '';
  const s: number[] = [];
  const e: number[] = [];
  let last = 0;
  const copy = (a: number, b: number): void => {
    text += t.text.slice(a, b);
    for (let i = a; i < b; i++) {
      s.push(start[i]);
      e.push(end[i]);
    }
  };
  for (const m of t.text.matchAll(regex)) {
    if (m[0] === '') continue;
    copy(last, m.index);
    last = m.index + m[0].length;
    text += content;
    for (let i = 0; i < content.length; i++) {
      s.push(start[last - 1]);
      e.push(end[last - 1]);
    }
  }
  copy(last, t.text.length);
  return { text, start: Int32Array.from(s), end: Int32Array.from(e) };
}

function strip(t: Aligned, left: boolean, right: boolean): Aligned {
  const a = left ? t.text.length - t.text.trimStart().length : 0;
  const b = right ? t.text.trimEnd().length : t.text.length;
  if (a === 0 && b === t.text.length) return t;
  const { start, end } = materialize(t);
  return { text: t.text.slice(a, b), start: start.slice(a, b), end: end.slice(a, b) };
}
