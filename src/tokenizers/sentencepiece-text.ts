// SentencePiece's text steps around the model: the normalizer (with where each normalized unit came from, for
// offsets) and the lenient UTF-8 reading of byte pieces. Browser-safe.
import type { Aligned } from './offsets.ts';
import type { SentencePieceModel } from './sentencepiece-model.ts';

const SPACE = '\u2581'; // ▁

/**
 * sentencepiece's normalizer with an empty charsmap: drop leading spaces, fuse runs of spaces and drop trailing
 * `▁` (remove_extra_whitespaces; U+0020 only), prepend `▁` (add_dummy_prefix), spaces → `▁`. A tokenizer.json
 * of the Llama kind: Prepend("▁") then Replace(" ", "▁"). The prepended `▁` stands for the first character,
 * as in Hugging Face's alignments; prefix false leaves it out (text that continues a sequence). text has no lone
 * surrogates.
 */
export function normalizeAligned(m: SentencePieceModel, text: string, prefix = true): Aligned {
  const json = m.tokenizerJson !== undefined;
  const space = json || m.escapeWhitespaces ? SPACE : ' ';
  const removeExtra = !json && m.removeExtraWhitespaces;
  const units: string[] = [];
  const start: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    // leading spaces are dropped only at the start of a sequence (a continuation's first space is its `▁`)
    if (c === ' ' && removeExtra && ((units.length === 0 && prefix) || text[i - 1] === ' ')) continue;
    units.push(c === ' ' ? space : c);
    const code = c.charCodeAt(0);
    const high = code >= 0xd800 && code < 0xdc00; // pairs only: lone surrogates are gone
    const low = code >= 0xdc00 && code < 0xe000;
    start.push(low ? i - 1 : i);
    end.push(high ? i + 2 : i + 1);
  }
  if (units.length === 0) return { text: '', start: null, end: null };
  if ((json || m.addDummyPrefix) && prefix) {
    units.unshift(space);
    start.unshift(start[0]);
    end.unshift(end[0]);
  }
  if (removeExtra) {
    while (units.length > 0 && units[units.length - 1] === space) {
      units.pop();
      start.pop();
      end.pop();
    }
  }
  return { text: units.join(''), start: Int32Array.from(start), end: Int32Array.from(end) };
}

// sentencepiece's UTF-8 reading of byte pieces: one character at a time, a byte that does not start a valid
// character becomes U+FFFD and only that byte is consumed.
export function decodeUtf8Lenient(b: number[]): string {
  let s = '';
  for (let i = 0; i < b.length;) {
    const n = b[i] < 0x80 ? 1 : b[i] >> 5 === 6 ? 2 : b[i] >> 4 === 14 ? 3 : b[i] >> 3 === 30 ? 4 : 0;
    let cp = n === 1 ? b[i] : n === 2 ? b[i] & 0x1f : n === 3 ? b[i] & 0x0f : b[i] & 0x07;
    let ok = n > 0 && i + n <= b.length;
    for (let k = 1; ok && k < n; k++) {
      ok = b[i + k] >> 6 === 2;
      cp = (cp << 6) | (b[i + k] & 0x3f);
    }
    ok &&= cp >= [0, 0, 0x80, 0x800, 0x10000][n] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    s += ok ? String.fromCodePoint(cp) : '\uFFFD';
    i += ok ? n : 1;
  }
  return s;
}
