// GPT-2 byte-level BPE vs an independent Python encoder: test/fixtures/gpt2-tokenizer.json was written by
// tools/gpt2_tokenize_reference.py (its header says how to re-run it) from the real GPT-2 vocab.json +
// merges.txt.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/random.ts';
import { InputError, WeightsError } from '../../src/util/errors.ts';
import { Gpt2Tokenizer } from '../../src/tokenizers/gpt2-bpe.ts';
import { fromTokenizerJson } from '../../src/tokenizers/byte-level-bpe-json.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';

const ASSETS = join(import.meta.dirname, '../../assets');
const GPT2_DIR = join(ASSETS, 'gpt2-shakespeare');
const vocabJson = readFileSync(join(GPT2_DIR, 'vocab.json'), 'utf8');
const mergesTxt = readFileSync(join(GPT2_DIR, 'merges.txt'), 'utf8');
const gpt2 = new Gpt2Tokenizer(vocabJson, mergesTxt);
const cases: { text: string; ids: number[]; ids_plain?: number[] }[] = JSON.parse(
  readFileSync(join(import.meta.dirname, '../fixtures/gpt2-tokenizer.json'), 'utf8'),
);

const tmpDirs: string[] = [];
function tmpFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-sft-tok-'));
  tmpDirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterAll(() => tmpDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('Gpt2Tokenizer on the GPT-2 vocabulary', () => {
  it('knows the GPT-2 constants', () => {
    expect(gpt2.vocabSize).toBe(50257);
    expect(gpt2.eosId).toBe(50256);
    expect(gpt2.bosId).toBe(50256);
    expect(gpt2.tokenToId('<|endoftext|>')).toBe(50256);
    expect(gpt2.tokenToId('Ġ')).toBe(220); // space byte
    expect(gpt2.idToToken(198)).toBe('Ċ'); // newline byte
    expect(gpt2.idToToken(50257)).toBeUndefined();
  });

  it(`matches the Python reference ids on all ${cases.length} fixture strings`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    for (const { text, ids } of cases) expect(gpt2.encode(text), JSON.stringify(text)).toEqual(ids);
  });

  it('round-trips every fixture string', () => {
    for (const { text, ids } of cases) {
      expect(gpt2.decode(ids), JSON.stringify(text)).toBe(text);
      expect(gpt2.decode(gpt2.encode(text, { allowSpecial: false }))).toBe(text);
    }
  });

  it('encodes <|endoftext|> as plain text when allowSpecial is false', () => {
    const withSpecial = cases.filter((c) => c.ids_plain !== undefined);
    expect(withSpecial.length).toBeGreaterThanOrEqual(3);
    for (const { text, ids, ids_plain } of withSpecial) {
      expect(gpt2.encode(text, { allowSpecial: false }), JSON.stringify(text)).toEqual(ids_plain);
      expect(ids_plain).not.toContain(50256);
      expect(ids).toContain(50256);
    }
  });

  it('round-trips random strings drawn from tricky alphabets', () => {
    // prettier-ignore
    const pools = [
      ' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u0085', '\ufeff', '\u3000', '\u0000', '\u007f', '\u200d', '\ufe0f',
      'a', 'Z', 'é', 'e\u0301', 'ß', 'Ω', '中', '語', 'ア', '한', '0', '9', '½', '٣', "'s", "'LL", '’', '!', '...',
      '<|', '|>', '<|endoftext|>', '😀', '👍🏽', '👨‍👩‍👧', '🇫🇷', '\u{1d400}', '\u{20000}',
    ];
    const rng = new Rng(1234);
    for (let n = 0; n < 300; n++) {
      let text = '';
      const len = Math.floor(rng.next() * 40);
      for (let k = 0; k < len; k++) text += pools[Math.floor(rng.next() * pools.length)];
      expect(gpt2.decode(gpt2.encode(text)), JSON.stringify(text)).toBe(text);
      expect(gpt2.decode(gpt2.encode(text, { allowSpecial: false })), JSON.stringify(text)).toBe(text);
    }
  });

  it('encodes a lone surrogate as U+FFFD (TextEncoder replaces it), so that one does not round-trip', () => {
    expect(gpt2.encode('a\ud800b')).toEqual(gpt2.encode('a\ufffdb'));
    expect(gpt2.decode(gpt2.encode('x\udc00'))).toBe('x\ufffd');
  });

  it('decodes a token that cuts a multi-byte character to U+FFFD', () => {
    const ids = gpt2.encode('😀');
    expect(ids.length).toBeGreaterThan(1);
    expect(gpt2.decode(ids.slice(0, 1))).toBe('\ufffd');
  });

  it('tokenizes the greedy continuation from assets/gpt2-shakespeare/SOURCE.md: 30 new tokens', () => {
    const prompt = 'ROMEO:\n';
    const text = "ROMEO:\nI'll be a man, I will be a man,\nAnd, and my lord, and I'll be a man,\nAnd, and";
    const promptIds = gpt2.encode(prompt);
    const ids = gpt2.encode(text);
    expect(ids.slice(0, promptIds.length)).toEqual(promptIds);
    expect(ids.length - promptIds.length).toBe(30);
    expect(gpt2.decode(ids)).toBe(text);
  });

  it('encodes the 150 KB dialogue train.jsonl in well under a second, and round-trips it', () => {
    const text = readFileSync(join(ASSETS, 'sft/dialogue/train.jsonl'), 'utf8');
    expect(text.length).toBeGreaterThan(140_000);
    const fresh = new Gpt2Tokenizer(vocabJson, mergesTxt); // cold cache
    const t0 = performance.now();
    const ids = fresh.encode(text);
    const ms = performance.now() - t0;
    console.log(
      `gpt2 encode: ${text.length} chars -> ${ids.length} tokens in ${ms.toFixed(0)} ms (cold cache)`,
    );
    expect(ms).toBeLessThan(1000);
    expect(fresh.decode(ids)).toBe(text);
  });
});

describe('browser safety', () => {
  it('keeps node: imports out of the tokenizer itself (only load-node.ts may use them)', () => {
    for (const file of ['gpt2-bpe.ts', 'tokenizer.ts']) {
      const source = readFileSync(join(import.meta.dirname, '../../src/tokenizers', file), 'utf8');
      expect(source, file).not.toMatch(/from '(node:|fs|path)/);
    }
  });
});

describe('Gpt2Tokenizer errors', () => {
  const vocab = { a: 0, b: 1, ab: 2 };

  it('rejects a vocab.json that is not a token → id object', () => {
    expect(() => new Gpt2Tokenizer('[1, 2]', '')).toThrow(WeightsError);
    expect(() => new Gpt2Tokenizer('[1, 2]', '')).toThrow(
      /^vocab\.json: the vocabulary is not an object.*got an array/,
    );
    expect(() => new Gpt2Tokenizer('{"a": ', '')).toThrow(/^vocab\.json: not valid JSON/);
    expect(() => new Gpt2Tokenizer({ a: -1 }, '')).toThrow(/^vocab\.json: token "a" has a bad id.*got -1/);
    expect(() => new Gpt2Tokenizer({ a: 0, b: 0 }, '')).toThrow(/^vocab\.json: two tokens share one id/);
  });

  it('names the file and line of a malformed merge', () => {
    const run = (merges: string) => () => new Gpt2Tokenizer(vocab, merges, { names: { merges: 'm.txt' } });
    expect(run('#version: 0.2\na b\nab\n')).toThrow(WeightsError);
    expect(run('#version: 0.2\na b\nab\n')).toThrow(/^m\.txt line 3: malformed merge.*got "ab"/);
    expect(run('a  b')).toThrow(/^m\.txt line 1: malformed merge/);
    expect(run('#version: 0.2\na c')).toThrow(
      /^m\.txt line 2: merge refers to a token missing from vocab\.json.*"c"/,
    );
    expect(run('b a')).toThrow(/^m\.txt line 1: merged token is missing from vocab\.json, expected "ba"/);
  });

  it('accepts CRLF merges.txt and a missing #version line', () => {
    const tok = new Gpt2Tokenizer(vocab, '#version: 0.2\r\na b\r\n', { unkToken: 'a' });
    expect(tok.encode('ab')).toEqual([2]);
    expect(new Gpt2Tokenizer(vocab, 'a b', { unkToken: 'a' }).encode('abb')).toEqual([2, 1]);
  });

  it('throws on a byte missing from the vocabulary without an unk token, and uses unk with one', () => {
    const tok = new Gpt2Tokenizer(vocab, 'a b');
    expect(() => tok.encode('abc')).toThrow(InputError);
    expect(() => tok.encode('abc')).toThrow(/got byte 0x63 in "abc"/);
    expect(new Gpt2Tokenizer(vocab, 'a b', { unkToken: 'b' }).encode('abcab')).toEqual([2, 1, 2]);
    expect(() => new Gpt2Tokenizer(vocab, 'a b', { unkToken: '<unk>' })).toThrow(
      /unk token is not in the vocab/,
    );
  });

  it('rejects ids that are not tokens in decode, and bad eos/bos', () => {
    expect(() => gpt2.decode([15496, 50257])).toThrow(InputError);
    expect(() => gpt2.decode([15496, 50257])).toThrow(
      /^Gpt2Tokenizer\.decode: ids\[1\] is not a token id.*got 50257/,
    );
    expect(() => gpt2.decode([-1])).toThrow(/got -1/);
    expect(() => gpt2.decode([1.5])).toThrow(/got 1\.5/);
    expect(() => new Gpt2Tokenizer(vocab, '', { eos: 7 })).toThrow(/options\.eos: not a token.*got 7/);
    expect(() => new Gpt2Tokenizer(vocab, '', { bos: '<s>' })).toThrow(
      /options\.bos: not a token.*got "<s>"/,
    );
    expect(new Gpt2Tokenizer(vocab, '', { eos: 'ab', bos: null })).toMatchObject({ eosId: 2, bosId: null });
  });

  it('rejects an added token whose id clashes with the vocabulary', () => {
    expect(() => new Gpt2Tokenizer(vocab, '', { addedTokens: [{ id: 1, content: '<x>' }] })).toThrow(
      /clashes/,
    );
    expect(() => new Gpt2Tokenizer(vocab, '', { addedTokens: [{ id: 5, content: 'a' }] })).toThrow(/clashes/);
    expect(() => new Gpt2Tokenizer(vocab, '', { addedTokens: [{ id: -2, content: '<x>' }] })).toThrow(
      /bad id/,
    );
  });
});

// A small byte-level BPE: the 256 byte tokens, the first 400 GPT-2 merges and their results, two added
// tokens.
function smallBpe() {
  const gpt2Vocab = JSON.parse(vocabJson) as Record<string, number>;
  const byteTokens = Object.keys(gpt2Vocab).filter((t) => gpt2Vocab[t] < 256);
  const merges = mergesTxt.split('\n').slice(1, 401);
  const vocab: Record<string, number> = {};
  for (const t of byteTokens) vocab[t] = Object.keys(vocab).length;
  for (const m of merges) vocab[m.replace(' ', '')] ??= Object.keys(vocab).length;
  const n = Object.keys(vocab).length;
  return { vocab, merges, endoftext: n, user: n + 1 };
}

interface TokenizerJsonFile {
  model: Record<string, unknown> & { merges: unknown[] };
  pre_tokenizer: Record<string, unknown>;
  normalizer: unknown;
  [field: string]: unknown;
}

function tokenizerJson(small: ReturnType<typeof smallBpe>, mergesAsPairs: boolean): TokenizerJsonFile {
  return {
    version: '1.0',
    added_tokens: [
      { id: small.endoftext, content: '<|endoftext|>', special: true, lstrip: false, rstrip: false },
      { id: small.user, content: '<|user|>', special: false, lstrip: true, rstrip: false },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: small.vocab,
      merges: mergesAsPairs ? small.merges.map((m) => m.split(' ')) : [...small.merges],
    },
  };
}

describe('fromTokenizerJson', () => {
  const small = smallBpe();
  const viaFiles = new Gpt2Tokenizer(
    JSON.stringify(small.vocab),
    '#version: 0.2\n' + small.merges.join('\n'),
    {
      addedTokens: [{ id: small.endoftext, content: '<|endoftext|>' }],
    },
  );

  it('agrees with the vocab.json + merges.txt path, merges as "a b" strings or [a, b] pairs', () => {
    for (const asPairs of [false, true]) {
      const tok = fromTokenizerJson(JSON.stringify(tokenizerJson(small, asPairs)));
      expect(tok.vocabSize).toBe(small.user + 1);
      expect(tok.eosId).toBe(small.endoftext);
      for (const { text } of cases) {
        const plain = text.replaceAll('<|user|>', '');
        expect(tok.encode(plain), JSON.stringify(text)).toEqual(viaFiles.encode(plain));
        expect(tok.decode(tok.encode(text))).toBe(text);
      }
    }
    expect(viaFiles.encode(' the and')).toEqual([small.vocab['Ġthe'], small.vocab['Ġand']]); // merges apply
  });

  it('matches special added tokens only with allowSpecial, non-special ones always; lstrip eats spaces', () => {
    const tok = fromTokenizerJson(tokenizerJson(small, false));
    const hi = tok.encode('hi');
    expect(tok.encode('hi<|endoftext|>hi')).toEqual([...hi, small.endoftext, ...hi]);
    expect(tok.encode('hi<|endoftext|>', { allowSpecial: false })).not.toContain(small.endoftext);
    expect(tok.encode('hi  <|user|>hi', { allowSpecial: false })).toEqual([...hi, small.user, ...hi]);
    expect(tok.decode([small.user])).toBe('<|user|>');
  });

  it('rejects tokenizer.json files it cannot honour, naming the field', () => {
    const edit = (patch: (j: TokenizerJsonFile) => void) => () => {
      const j = tokenizerJson(small, false);
      patch(j);
      return fromTokenizerJson(j, { file: 'x/tokenizer.json' });
    };
    expect(edit((j) => (j.model.type = 'WordPiece'))).toThrow(
      /^x\/tokenizer\.json: model\.type is not supported/,
    );
    expect(edit((j) => (j.pre_tokenizer = { type: 'Metaspace' }))).toThrow(/pre_tokenizer.*got Metaspace$/);
    expect(edit((j) => (j.normalizer = { type: 'BertNormalizer' }))).toThrow(
      /normalizer.*got BertNormalizer/,
    );
    expect(edit((j) => (j.post_processor = { type: 'Foo' }))).toThrow(/post_processor.*got Foo/);
    expect(edit((j) => (j.model.merges[3] = 'Ġt'))).toThrow(
      /^x\/tokenizer\.json model\.merges\[3\]: malformed/,
    );
    expect(edit((j) => (j.model.vocab = [1]))).toThrow(/model\.vocab: the vocabulary is not an object/);
    expect(() => fromTokenizerJson('{')).toThrow(/^tokenizer\.json: not valid JSON/);
  });
});

describe('loadTokenizer', () => {
  it('loads the GPT-2 vocab.json + merges.txt folder with eos from config.json', async () => {
    const tok = await loadTokenizer(GPT2_DIR);
    expect(tok).toBeInstanceOf(Gpt2Tokenizer);
    expect(tok.eosId).toBe(50256);
    expect(tok.encode(cases[1].text)).toEqual(cases[1].ids);
  });

  it('loads tiny_gpt2 as transformers saved it (vocab.json, merges.txt, tokenizer_config.json)', async () => {
    const tok = await loadTokenizer(join(ASSETS, 'hf-fixtures/tiny_gpt2'));
    expect(tok.vocabSize).toBe(21);
    expect(tok.eosId).toBe(20);
    expect(tok.bosId).toBe(20);
    // Ġ l → Ġl, Ġl o → Ġlo, Ġlo w → Ġlow; e r → er. 'h' is not in its 21-token vocabulary: unk (19).
    expect(tok.encode(' lower')).toEqual([14, 15]);
    expect(tok.encode('hi<|endoftext|>')).toEqual([19, 7, 20]);
    expect(tok.encode('<unk>')).toEqual([19]); // added token from added_tokens_decoder
    expect(tok.decode([14, 15, 20])).toBe(' lower<|endoftext|>');
  });

  it('prefers tokenizer.json when a folder has it', async () => {
    const small = smallBpe();
    const dir = tmpFolder({
      'tokenizer.json': JSON.stringify(tokenizerJson(small, true)),
      'vocab.json': '{}',
      'merges.txt': '',
      'config.json': JSON.stringify({ eos_token_id: small.user, bos_token_id: [small.endoftext] }),
    });
    const tok = await loadTokenizer(dir);
    expect(tok.vocabSize).toBe(small.user + 1);
    expect(tok.eosId).toBe(small.user);
    expect(tok.bosId).toBe(small.endoftext);
  });

  it('reads eos/bos from tokenizer_config.json when config.json has none', async () => {
    const dir = tmpFolder({
      'vocab.json': vocabJson,
      'merges.txt': mergesTxt,
      'tokenizer_config.json': JSON.stringify({ eos_token: { content: 'Ċ' }, bos_token: 'Ġ' }),
    });
    const tok = await loadTokenizer(dir);
    expect([tok.eosId, tok.bosId]).toEqual([198, 220]);
  });

  it('names the config file when eos is not a token', async () => {
    const dir = tmpFolder({
      'vocab.json': '{"a": 0}',
      'merges.txt': '',
      'config.json': '{"eos_token_id": 9}',
    });
    await expect(loadTokenizer(dir)).rejects.toThrow(/config\.json eos_token_id: not a token.*got 9/);
  });

  it('says which folder has no tokenizer files, and rejects an empty tokenizer.model', async () => {
    const empty = tmpFolder({ 'config.json': '{}' });
    await expect(loadTokenizer(empty)).rejects.toThrow(InputError);
    await expect(loadTokenizer(empty)).rejects.toThrow(`${empty}: no tokenizer files`);
    await expect(loadTokenizer(tmpFolder({ 'vocab.json': '{}' }))).rejects.toThrow(/got \[vocab\.json\]/);
    await expect(loadTokenizer(tmpFolder({ 'tokenizer.model': '' }))).rejects.toThrow(
      /tokenizer\.model pieces: no pieces/,
    );
    await expect(loadTokenizer(join(empty, 'missing'))).rejects.toThrow(/cannot read the tokenizer folder/);
  });
});
