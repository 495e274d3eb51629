// encodeWithOffsets on the GPT-2 files and stories260K's tokenizer.model: the ids are encode's, and the offsets
// are the characters each token came from (hand-checked cases; the Hugging Face oracle comparison for every
// tokenizer.json kind is in tokenizer-json-oracle.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Gpt2Tokenizer } from '../../src/tokenizers/gpt2-bpe.ts';
import { fromSentencePieceModel } from '../../src/tokenizers/sentencepiece.ts';
import type { Tokenizer } from '../../src/tokenizers/tokenizer.ts';

const ASSETS = join(import.meta.dirname, '../../assets');
const gpt2 = new Gpt2Tokenizer(
  readFileSync(join(ASSETS, 'gpt2-shakespeare/vocab.json'), 'utf8'),
  readFileSync(join(ASSETS, 'gpt2-shakespeare/merges.txt'), 'utf8'),
);
const stories = fromSentencePieceModel(
  new Uint8Array(readFileSync(join(ASSETS, 'stories260K-hf/tokenizer.model'))),
);
const TEXTS = [
  'Hello world',
  '  two  spaces\tand a tab\n\nnew lines ',
  'emoji 🤗🤗 and é (e\u0301) ünïcödé 日本語のテキスト',
  'special <|endoftext|> inside <s> text',
  '',
];

function pieces(tokenizer: Tokenizer, text: string): string[] {
  const { offsets } = tokenizer.encodeWithOffsets(text);
  return offsets.map(([a, b]) => text.slice(a, b));
}

describe('encodeWithOffsets', () => {
  for (const [name, tokenizer] of [
    ['GPT-2', gpt2],
    ['stories260K tokenizer.model', stories],
  ] as const) {
    it(`${name}: ids equal encode's, offsets lie in the text in order`, () => {
      for (const text of TEXTS) {
        const { ids, offsets } = tokenizer.encodeWithOffsets(text);
        expect(ids).toEqual(tokenizer.encode(text));
        expect(offsets.length).toBe(ids.length);
        let last = 0;
        for (const [a, b] of offsets) {
          expect(a).toBeGreaterThanOrEqual(0);
          expect(b).toBeGreaterThanOrEqual(a);
          expect(b).toBeLessThanOrEqual(text.length);
          expect(b).toBeGreaterThanOrEqual(last);
          last = b;
        }
      }
    });
  }

  it('GPT-2: tokens cover their characters, an emoji split in bytes covers the whole emoji', () => {
    expect(pieces(gpt2, 'Hello world')).toEqual(['Hello', ' world']);
    expect(pieces(gpt2, 'a<|endoftext|>b')).toEqual(['a', '<|endoftext|>', 'b']);
    const emoji = pieces(gpt2, '🤗');
    expect(emoji.length).toBeGreaterThan(1);
    expect(new Set(emoji)).toEqual(new Set(['🤗']));
    // every text unit is covered by some token: GPT-2 drops nothing
    for (const text of TEXTS) expect(pieces(gpt2, text).join('').length).toBeGreaterThanOrEqual(text.length);
  });

  it('SentencePiece: the dummy-prefix ▁ and each ▁ for a space cover the characters they stand for', () => {
    const text = 'Once upon a time';
    const { ids, offsets } = stories.encodeWithOffsets(text);
    const rebuilt = ids.map(
      (id, k) => [stories.idToToken(id)!.replaceAll('\u2581', ' '), offsets[k]] as const,
    );
    for (const [token, [a, b]] of rebuilt)
      expect(text.slice(a, b)).toBe(token.startsWith(' ') && a === 0 ? token.slice(1) : token);
    const collapsed = stories.encodeWithOffsets('  a  b  ');
    expect(collapsed.offsets[0][0]).toBe(2); // leading spaces are dropped: the first token starts at `a`
    expect(stories.encodeWithOffsets('x', { addBos: true, addEos: true }).offsets.at(-1)).toEqual([0, 0]);
  });
});
