// Offsets of tokens in the text they came from, in UTF-16 code units, as Hugging Face's tokenizers reports them
// (converted from its code-point offsets): a token covers every character it holds a byte or a unit of.

export type Offsets = [number, number][];

/**
 * Offsets of the ids of one pre-tokenized piece that starts at `base`: token k holds the next byteLength(id)
 * UTF-8 bytes of the piece, and covers the characters of its first and last byte. Lone surrogates count as
 * U+FFFD (3 bytes), as TextEncoder writes them.
 */
export function byteTokenOffsets(
  piece: string,
  base: number,
  ids: readonly number[],
  byteLength: (id: number) => number,
  out: Offsets,
): void {
  if (ids.length === 0) return;
  if (ids.length === 1) {
    out.push([base, base + piece.length]);
    return;
  }
  const charStart: number[] = []; // per byte: its character's first unit
  const charEnd: number[] = [];
  for (let i = 0; i < piece.length;) {
    const cp = piece.codePointAt(i)!;
    const units = cp > 0xffff ? 2 : 1;
    const bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < bytes; k++) {
      charStart.push(i);
      charEnd.push(i + units);
    }
    i += units;
  }
  let pos = 0;
  for (const id of ids) {
    const n = byteLength(id);
    out.push([base + charStart[pos], base + charEnd[pos + n - 1]]);
    pos += n;
  }
}

/**
 * A normalized string with, for each of its UTF-16 units, the [start, end) in the original text of the
 * character it came from; null arrays: the identity (normalization changed nothing).
 */
export interface Aligned {
  text: string;
  start: Int32Array | null;
  end: Int32Array | null;
}

/** Offsets in the original text of the normalized units [a, b) (b > a). */
export function span(aligned: Aligned, a: number, b: number): [number, number] {
  return aligned.start === null ? [a, b] : [aligned.start[a], aligned.end![b - 1]];
}
