// The heap-based BPE merge (src/tokenizers/bpe-merge.ts) vs the published GPT-2 loop it replaced, kept here as
// the oracle: on random merge tables (ranks in any order, so merges can use tokens made by later ones), on
// random words through the real GPT-2 vocabulary, and on a 200 000-letter word, which took ~16 s before.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/random.ts';
import { bpeMerge } from '../../src/tokenizers/bpe-merge.ts';
import { Gpt2Tokenizer } from '../../src/tokenizers/gpt2-bpe.ts';

const GPT2_DIR = join(import.meta.dirname, '../../assets/gpt2-shakespeare');
const vocabJson = readFileSync(join(GPT2_DIR, 'vocab.json'), 'utf8');
const mergesTxt = readFileSync(join(GPT2_DIR, 'merges.txt'), 'utf8');

// The old loop, verbatim but for the table lookups: find the lowest-rank adjacent pair, merge every occurrence
// of it left to right, repeat.
function referenceMerge(
  start: readonly number[],
  rankOf: (l: number, r: number) => number,
  resultOf: (rank: number) => number,
  pairOf: (rank: number) => [number, number],
): number[] {
  let symbols = start.slice();
  while (symbols.length > 1) {
    let best = Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const rank = rankOf(symbols[i], symbols[i + 1]);
      if (rank >= 0 && rank < best) best = rank;
    }
    if (best === Infinity) break;
    const [left, right] = pairOf(best);
    const merged: number[] = [];
    for (let i = 0; i < symbols.length; i++) {
      if (symbols[i] === left && symbols[i + 1] === right) {
        merged.push(resultOf(best));
        i++;
      } else merged.push(symbols[i]);
    }
    symbols = merged;
  }
  return symbols;
}

interface Table {
  rankOf: (l: number, r: number) => number;
  resultOf: (rank: number) => number;
  pairOf: (rank: number) => [number, number];
}

function table(pairs: [number, number][], results: number[]): Table {
  const ranks = new Map<string, number>();
  pairs.forEach(([l, r], rank) => {
    if (!ranks.has(`${l},${r}`)) ranks.set(`${l},${r}`, rank);
  });
  return {
    rankOf: (l, r) => (l < 0 || r < 0 ? -1 : (ranks.get(`${l},${r}`) ?? -1)),
    resultOf: (rank) => results[rank],
    pairOf: (rank) => pairs[rank],
  };
}

// Tokens over a 3-letter alphabet built by concatenation; the merges in a shuffled order.
function randomTable(rng: Rng): Table {
  const tokens = ['a', 'b', 'c'];
  const merges: [number, number, number][] = [];
  const count = 3 + Math.floor(rng.next() * 30);
  for (let k = 0; k < count; k++) {
    const l = Math.floor(rng.next() * tokens.length);
    const r = Math.floor(rng.next() * tokens.length);
    const joined = tokens[l] + tokens[r];
    let id = tokens.indexOf(joined);
    if (id < 0) id = tokens.push(joined) - 1;
    merges.push([l, r, id]);
  }
  for (let i = merges.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [merges[i], merges[j]] = [merges[j], merges[i]];
  }
  return table(
    merges.map(([l, r]) => [l, r]),
    merges.map(([, , id]) => id),
  );
}

describe('bpeMerge', () => {
  it('gives the published loop ids on 400 random strings and merge tables, ranks in any order', () => {
    const rng = new Rng(20240611);
    let merged = 0;
    for (let n = 0; n < 400; n++) {
      const t = randomTable(rng);
      const length = Math.floor(rng.next() * 60);
      // -1 stands for a byte missing from the vocabulary: it never merges.
      const symbols = Array.from(
        { length },
        () => Math.floor(rng.next() * 3.2) - (rng.next() < 0.03 ? 4 : 0),
      );
      const ids = bpeMerge(symbols, t.rankOf, t.resultOf);
      expect(ids, JSON.stringify(symbols)).toEqual(referenceMerge(symbols, t.rankOf, t.resultOf, t.pairOf));
      if (ids.length < symbols.length) merged++;
    }
    expect(merged).toBeGreaterThan(200); // the tables do merge
  });

  it('handles no symbols, one symbol, and pairs that do not merge', () => {
    const t = table([[0, 1]], [2]);
    expect(bpeMerge([], t.rankOf, t.resultOf)).toEqual([]);
    expect(bpeMerge([1], t.rankOf, t.resultOf)).toEqual([1]);
    expect(bpeMerge([1, 0, 0, 1, -1, 0, 1], t.rankOf, t.resultOf)).toEqual([1, 0, 2, -1, 2]);
  });
});

describe('Gpt2Tokenizer merges', () => {
  const gpt2 = new Gpt2Tokenizer(vocabJson, mergesTxt);
  const vocab = JSON.parse(vocabJson) as Record<string, number>;
  const lines = mergesTxt.split('\n').filter((l) => l !== '' && !l.startsWith('#version'));
  const pairs = lines.map((l) => l.split(' ').map((s) => vocab[s]) as [number, number]);
  const gpt2Table = table(
    pairs,
    lines.map((l) => vocab[l.replace(' ', '')]),
  );
  // GPT-2's bytes_to_unicode, to start from byte tokens as the tokenizer does.
  const byteToken = (b: number): number => {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    let extra = 0;
    for (let x = 0; x < b; x++) {
      if (!((x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff))) extra++;
    }
    return vocab[String.fromCharCode(printable ? b : 256 + extra)];
  };

  it('encodes 300 random words (one pre-tokenizer piece each) as the published loop does', () => {
    const letters = 'abcdefghijklmnopqrstuvwxyzTHEéßΩжя中語アが한';
    const rng = new Rng(7);
    for (let n = 0; n < 300; n++) {
      let word = rng.next() < 0.5 ? ' ' : '';
      const length = 1 + Math.floor(rng.next() * 40);
      for (let k = 0; k < length; k++) word += letters[Math.floor(rng.next() * letters.length)];
      const bytes = Array.from(new TextEncoder().encode(word), byteToken);
      const expected = referenceMerge(bytes, gpt2Table.rankOf, gpt2Table.resultOf, gpt2Table.pairOf);
      expect(gpt2.encode(word), JSON.stringify(word)).toEqual(expected);
    }
  });

  it('tokenizes a 200 000-letter word in well under 5 s, and does not cache it', () => {
    const rng = new Rng(11);
    const word = Array.from({ length: 200_000 }, () => String.fromCharCode(97 + Math.floor(rng.next() * 26)));
    const text = word.join('');
    const fresh = new Gpt2Tokenizer(vocabJson, mergesTxt);
    const t0 = performance.now();
    const ids = fresh.encode(text);
    const ms = performance.now() - t0;
    console.log(`gpt2 encode: a 200 000-letter random word -> ${ids.length} tokens in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(5000); // the quadratic loop took ~16 s here
    expect(fresh.decode(ids)).toBe(text);
    expect(ids.length).toBeLessThan(text.length / 1.5); // merged, not left as bytes
    const cache = (fresh as unknown as { cache: Map<string, number[]> }).cache;
    expect(cache.size).toBe(0);
    expect(fresh.encode('a'.repeat(200_000))).toEqual(Array(50_000).fill(vocab.aaaa));
  });
});
