// SentencePiece vs the real sentencepiece library: test/fixtures/sentencepiece.json was written by
// tools/sentencepiece_reference.py (its header says how to re-run it) from
// assets/stories260K-hf/tokenizer.model and five variants (Llama 2 normalizer, UNUSED pieces, two UNIGRAM
// models, BPE without byte fallback).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/util/random.ts';
import { InputError, WeightsError } from '../../src/util/errors.ts';
import { Gpt2Tokenizer } from '../../src/tokenizers/gpt2-bpe.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';
import { modelInput } from '../../src/tokenizers/tokenizer.ts';
import {
  fromLlamaTokenizerJson,
  fromSentencePieceModel,
  SentencePieceTokenizer,
} from '../../src/tokenizers/sentencepiece.ts';
import { parseSentencePieceModel } from '../../src/tokenizers/sentencepiece-model.ts';

const ROOT = join(import.meta.dirname, '../..');
const STORIES_DIR = join(ROOT, 'assets/stories260K-hf');
const STORIES_MODEL = new Uint8Array(readFileSync(join(STORIES_DIR, 'tokenizer.model')));

interface FixtureModel {
  name: string;
  source: string | null;
  model_base64?: string;
  vocab_size: number;
  unk_id: number;
  bos_id: number;
  eos_id: number;
  encode: { text: string; ids: number[] }[];
  decode: { ids: number[]; text: string }[];
}
const fixture: { models: FixtureModel[] } = JSON.parse(
  readFileSync(join(ROOT, 'test/fixtures/sentencepiece.json'), 'utf8'),
);
const modelBytes = (m: FixtureModel): Uint8Array =>
  m.source ? new Uint8Array(readFileSync(join(ROOT, m.source))) : Buffer.from(m.model_base64!, 'base64');
const fixtureModel = (name: string): FixtureModel => fixture.models.find((m) => m.name === name)!;
const stories = fromSentencePieceModel(STORIES_MODEL);
const llama2Bytes = modelBytes(fixtureModel('stories260K-llama2'));
const llama2 = fromSentencePieceModel(llama2Bytes);

const tmpDirs: string[] = [];
function tmpFolder(files: Record<string, string | Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-sft-sp-'));
  tmpDirs.push(dir);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  return dir;
}
afterAll(() => tmpDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

// The Hugging Face conversion of a SentencePiece BPE model (transformers' LlamaConverter): every piece in the
// vocabulary, one merge per split of a piece into two pieces, ordered by the merged piece's score.
interface LlamaJson extends Record<string, unknown> {
  normalizer: unknown;
  pre_tokenizer: unknown;
  decoder: { type: string; decoders: unknown[] };
  model: Record<string, unknown> & { type: string; vocab: Record<string, number>; merges: string[] };
}
function llamaTokenizerJson(bytes: Uint8Array): LlamaJson {
  const { pieces } = parseSentencePieceModel(bytes);
  const vocab = Object.fromEntries(pieces.map((p, id) => [p.piece, id]));
  const merges: { pair: [string, string]; score: number; ids: [number, number] }[] = [];
  for (const p of pieces) {
    const local: typeof merges = [];
    for (let k = 1; k < p.piece.length; k++) {
      const pair: [string, string] = [p.piece.slice(0, k), p.piece.slice(k)];
      if (pair[0] in vocab && pair[1] in vocab)
        local.push({ pair, score: p.score, ids: [vocab[pair[0]], vocab[pair[1]]] });
    }
    merges.push(...local.sort((a, b) => a.ids[0] - b.ids[0] || a.ids[1] - b.ids[1]));
  }
  const special = (id: number) => ({
    id,
    content: pieces[id].piece,
    lstrip: false,
    rstrip: false,
    special: true,
  });
  return {
    version: '1.0',
    added_tokens: [special(0), special(1), special(2)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: merges.sort((a, b) => b.score - a.score).map((m) => m.pair.join(' ')),
    },
  };
}

describe.each(fixture.models.map((m) => [m.name, m] as const))('SentencePiece model %s', (_, m) => {
  const tok = fromSentencePieceModel(modelBytes(m), { file: m.name });

  it('knows the vocabulary size and special ids', () => {
    expect(tok.vocabSize).toBe(m.vocab_size);
    expect([tok.tokenToId('<unk>'), tok.bosId, tok.eosId]).toEqual([m.unk_id, m.bos_id, m.eos_id]);
  });

  it(`encodes all ${m.encode.length} strings to the reference ids`, () => {
    for (const { text, ids } of m.encode) expect(tok.encode(text), JSON.stringify(text)).toEqual(ids);
  });

  it(`decodes all ${m.decode.length} id lists to the reference text`, () => {
    for (const { ids, text } of m.decode) expect(tok.decode(ids), JSON.stringify(ids)).toBe(text);
  });
});

describe('SentencePieceTokenizer on stories260K', () => {
  it('reads the model', () => {
    const model = parseSentencePieceModel(STORIES_MODEL);
    expect(model).toMatchObject({ modelType: 'bpe', byteFallback: true, bosId: 1, eosId: 2 });
    expect(model).toMatchObject({
      addDummyPrefix: true,
      removeExtraWhitespaces: true,
      escapeWhitespaces: true,
    });
    expect([stories.idToToken(0), stories.idToToken(3), stories.idToToken(258)]).toEqual([
      '<unk>',
      '<0x00>',
      '<0xFF>',
    ]);
    expect(stories.idToToken(512)).toBeUndefined();
    expect(model.pieces[260]).toEqual({ piece: 'he', score: -1, type: 'normal' });
  });

  it('round-trips text up to remove_extra_whitespaces: spaces trimmed, runs fused', () => {
    for (const { text } of fixtureModel('stories260K').encode) {
      if (text.includes('▁')) continue; // a literal U+2581 decodes as a space
      const expected = text.replace(/^ +| +$/g, '').replace(/ {2,}/g, ' ');
      expect(stories.decode(stories.encode(text)), JSON.stringify(text)).toBe(expected);
    }
  });

  it('round-trips every string exactly with the Llama 2 normalizer (no whitespace removal)', () => {
    // prettier-ignore
    const pools = [' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u3000', '\u0000', '\u200d', 'a', 'Z', 'é', 'e\u0301', 'ß',
      '中', 'ア', '0', '9', '½', "'", '’', '!', '<s>', '</s>', '<unk>', '<0x41>', '😀', '👨‍👩‍👧', '\u{20000}', 'the', 'Lily'];
    const rng = new Rng(7);
    const texts = fixtureModel('stories260K-llama2').encode.map((c) => c.text);
    for (let n = 0; n < 300; n++) {
      let text = '';
      for (let k = Math.floor(rng.next() * 30); k > 0; k--)
        text += pools[Math.floor(rng.next() * pools.length)];
      texts.push(text);
    }
    for (const text of texts.filter((t) => !t.includes('▁'))) {
      expect(llama2.decode(llama2.encode(text)), JSON.stringify(text)).toBe(text);
    }
  });

  it('falls back to UTF-8 byte pieces for characters outside the 512 pieces', () => {
    const pieces = (text: string): string[] => stories.encode(text).map((id) => stories.idToToken(id)!);
    expect(pieces('中')).toEqual(['▁', '<0xE4>', '<0xB8>', '<0xAD>']);
    expect(pieces('a😀')).toEqual(['▁a', '<0xF0>', '<0x9F>', '<0x98>', '<0x80>']);
    expect(pieces('\t')).toEqual(['▁', '<0x09>']);
    expect(pieces('é')).toEqual(['▁', 'é']); // in the vocabulary: no fallback
    expect(stories.decode(stories.encode('naïve 中文 😀!'))).toBe('naïve 中文 😀!');
    const bytes = (s: string) => [...new TextEncoder().encode(s)].map((b) => b + 3);
    expect(stories.decode(bytes('中').slice(0, 2))).toBe('\uFFFD\uFFFD'); // a cut character: one U+FFFD a byte
    expect(stories.decode([...bytes('中'), 403])).toBe('中 Once');
  });

  it('replaces lone UTF-16 surrogates by U+FFFD (with a literal ▁, the inputs that do not round-trip)', () => {
    expect(llama2.encode('a\ud800b')).toEqual(llama2.encode('a\ufffdb'));
    expect(llama2.decode(llama2.encode('x\udc00'))).toBe('x\ufffd');
  });

  it('adds BOS/EOS only when asked', () => {
    const ids = stories.encode('Once upon a time');
    expect(ids[0]).not.toBe(1);
    expect(stories.encode('Once upon a time', { addBos: true, addEos: true })).toEqual([1, ...ids, 2]);
    expect(stories.decode([1, ...ids, 2])).toBe('Once upon a time');
    // Control pieces in the text are plain text, as in sentencepiece.
    expect(stories.encode('<s>')).not.toContain(1);
    const noBos = fromSentencePieceModel(STORIES_MODEL, { bos: null });
    expect(() => noBos.encode('a', { addBos: true })).toThrow(InputError);
    expect(() => noBos.encode('a', { addBos: true })).toThrow(/addBos needs a bos token/);
  });

  it('decodes the greedy story of SOURCE.md to the text in llama-logits.safetensors', () => {
    const source = readFileSync(join(STORIES_DIR, 'SOURCE.md'), 'utf8');
    const list = /gives ids\s+([\d,\s]+)\s+=/.exec(source)![1];
    const ids = list.split(',').map((s) => Number(s.trim()));
    expect(ids.length).toBe(41);
    expect(ids[0]).toBe(1);
    const st = readFileSync(join(ROOT, 'test/fixtures/llama-logits.safetensors'));
    const headerLength = Number(st.readBigUInt64LE(0));
    const header = JSON.parse(st.subarray(8, 8 + headerLength).toString('utf8'));
    const [begin, end] = header.greedy_ids.data_offsets;
    const stored = new Int32Array(
      st.buffer.slice(st.byteOffset + 8 + headerLength + begin, st.byteOffset + 8 + headerLength + end),
    );
    expect([...stored]).toEqual(ids.slice(1));
    const greedy: string = header.__metadata__.greedy_text;
    expect(greedy.startsWith(' Once upon a time, there was a little girl named Lily.')).toBe(true);
    // The fixture text is the raw pieces ('▁' → ' '); decode drops the dummy-prefix space, as
    // sentencepiece does.
    expect(
      ids
        .slice(1)
        .map((id) => stories.idToToken(id)!.replaceAll('▁', ' '))
        .join(''),
    ).toBe(greedy);
    expect(stories.decode(ids)).toBe(greedy.slice(1));
    expect(stories.decode(ids.slice(1))).toBe(greedy.slice(1));
    expect(stories.encode(greedy.slice(1))).toEqual(ids.slice(1));
  });

  it('encodes a long text (one segment for BPE, no pre-splitting) and round-trips it', () => {
    const text = fixtureModel('stories260K')
      .encode.map((c) => c.text.replaceAll('▁', '_'))
      .join(' ')
      .repeat(40); // ~170 000 chars
    const ids = llama2.encode(text);
    expect(llama2.decode(ids)).toBe(text);
  });

  it('rejects bad ids and bad special-token options', () => {
    expect(() => stories.decode([1, 512])).toThrow(InputError);
    expect(() => stories.decode([1, 512])).toThrow(
      /ids\[1\] is not a token id, expected an integer in \[0, 512\), got 512/,
    );
    expect(() => stories.decode([-1])).toThrow(/got -1/);
    expect(() => stories.decode([0.5])).toThrow(/got 0\.5/);
    expect(() => fromSentencePieceModel(STORIES_MODEL, { eos: 600 })).toThrow(
      /options\.eos: not a token.*got 600/,
    );
    expect(fromSentencePieceModel(STORIES_MODEL, { eos: '</s>', bos: 0 })).toMatchObject({
      eosId: 2,
      bosId: 0,
    });
  });
});

describe('SentencePiece tokenizer.model errors name the file', () => {
  const bytes = (...parts: (Uint8Array | number[])[]): Uint8Array =>
    Uint8Array.from(parts.flatMap((p) => [...p]));
  const parse = (data: Uint8Array) => () => parseSentencePieceModel(data, 'x/tokenizer.model');

  it('on a truncated file', () => {
    expect(parse(STORIES_MODEL.subarray(0, 5000))).toThrow(WeightsError);
    expect(parse(STORIES_MODEL.subarray(0, 5000))).toThrow(
      /^x\/tokenizer\.model: protobuf is truncated inside field 1/,
    );
    expect(parse(STORIES_MODEL.subarray(0, 1))).toThrow(
      /^x\/tokenizer\.model: protobuf is truncated inside a varint/,
    );
    expect(parse(new Uint8Array(0))).toThrow(/^x\/tokenizer\.model pieces: no pieces/);
  });

  it('on a wrong wire type', () => {
    expect(STORIES_MODEL[0]).toBe(0x0a); // field 1, length-delimited
    const fixed32 = bytes([0x0d], STORIES_MODEL.subarray(1));
    expect(parse(fixed32)).toThrow(
      /^x\/tokenizer\.model: field 1 \(pieces\) has the wrong protobuf wire type, expected 2 \(length-delimited\), got 5 \(fixed32\)/,
    );
    expect(parse(bytes([0x0b], STORIES_MODEL.subarray(1)))).toThrow(
      /bad protobuf wire type for field 1 at byte 0.*got 3/,
    );
    const badPiece = bytes([0x0a, 0x02, 0x10, 0x01]); // piece with score (field 2) as a varint
    expect(parse(badPiece)).toThrow(
      /^x\/tokenizer\.model pieces\[0\]: field 2 \(score\) has the wrong protobuf wire type/,
    );
  });

  it('on unsupported settings (appended fields override, as protobuf merges them)', () => {
    expect(parse(bytes(STORIES_MODEL, [0x12, 0x02, 0x18, 0x03]))).toThrow(
      /trainer_spec\.model_type: unsupported model type, expected 1 \(UNIGRAM\) or 2 \(BPE\), got 3/,
    );
    expect(parse(bytes(STORIES_MODEL, [0x1a, 0x05, 0x12, 0x03, 1, 2, 3]))).toThrow(
      /normalizer_spec\.precompiled_charsmap: unsupported normalization rules.*got 3 bytes \(normalizer "identity"\)/,
    );
    expect(parse(bytes(STORIES_MODEL, [0x12, 0x03, 0xc0, 0x01, 0x01]))).toThrow(/treat_whitespace_as_suffix/);
    expect(parse(bytes(STORIES_MODEL, [0x0a, 0x05, 0x0a, 0x03, 0x3c, 0x73, 0x3e]))).toThrow(
      /pieces\[512\]: piece defined twice.*"<s>" = id 1 and 512/,
    );
    expect(parse(bytes(STORIES_MODEL, [0x0a, 0x02, 0x18, 0x09]))).toThrow(
      /pieces\[512\]\.type: unknown piece type.*got 9/,
    );
  });

  it('through loadTokenizer, with the folder path', async () => {
    const dir = tmpFolder({ 'tokenizer.model': STORIES_MODEL.subarray(0, 100) });
    await expect(loadTokenizer(dir)).rejects.toThrow(WeightsError);
    await expect(loadTokenizer(dir)).rejects.toThrow(
      `${join(dir, 'tokenizer.model')}: protobuf is truncated`,
    );
  });
});

describe('loadTokenizer with SentencePiece files', () => {
  it('loads stories260K-hf (tokenizer.model) with bos/eos from config.json', async () => {
    const tok = await loadTokenizer(STORIES_DIR);
    expect(tok).toBeInstanceOf(SentencePieceTokenizer);
    expect([tok.vocabSize, tok.bosId, tok.eosId]).toEqual([512, 1, 2]);
    for (const { text, ids } of fixtureModel('stories260K').encode) expect(tok.encode(text)).toEqual(ids);
  });

  it('takes bos/eos ids from config.json, and names config.json when they are bad', async () => {
    const model = { 'tokenizer.model': STORIES_MODEL };
    const tok = await loadTokenizer(
      tmpFolder({ ...model, 'config.json': '{"bos_token_id": 2, "eos_token_id": [0, 2]}' }),
    );
    expect([tok.bosId, tok.eosId]).toEqual([2, 0]);
    const named = await loadTokenizer(
      tmpFolder({ ...model, 'tokenizer_config.json': '{"eos_token": "<unk>"}' }),
    );
    expect(named.eosId).toBe(0);
    const bad = tmpFolder({ ...model, 'config.json': '{"eos_token_id": 4096}' });
    await expect(loadTokenizer(bad)).rejects.toThrow(/config\.json eos_token_id: not a token.*got 4096/);
  });

  it('prefers tokenizer.json, and reads a Llama-style one as SentencePiece', async () => {
    const json = JSON.stringify(llamaTokenizerJson(llama2Bytes));
    const dir = tmpFolder({
      'tokenizer.json': json,
      'tokenizer.model': STORIES_MODEL,
      'config.json': '{"eos_token_id": 2}',
    });
    const tok = await loadTokenizer(dir);
    expect(tok).toBeInstanceOf(SentencePieceTokenizer);
    expect([tok.bosId, tok.eosId]).toEqual([1, 2]);
    // A tokenizer.json normalizer keeps every space.
    expect(tok.encode('  two  spaces')).toEqual(llama2.encode('  two  spaces'));
    const bad = tmpFolder({ 'tokenizer.json': json.replace('"Prepend"', '"Metaspace"') });
    await expect(loadTokenizer(bad)).rejects.toThrow(
      `${join(bad, 'tokenizer.json')}: normalizer is not supported`,
    );
  });

  it('keeps the GPT-2 paths', async () => {
    expect(await loadTokenizer(join(ROOT, 'assets/gpt2-shakespeare'))).toBeInstanceOf(Gpt2Tokenizer);
  });

  it('add_bos_token: SentencePiece yes and GPT-2 no by default, tokenizer_config.json overrides, bad values named', async () => {
    const model = { 'tokenizer.model': STORIES_MODEL };
    expect((await loadTokenizer(STORIES_DIR)).addBosToken).toBe(true);
    expect((await loadTokenizer(join(ROOT, 'assets/gpt2-shakespeare'))).addBosToken).toBe(false);
    const off = await loadTokenizer(
      tmpFolder({ ...model, 'tokenizer_config.json': '{"add_bos_token": false}' }),
    );
    expect(off.addBosToken).toBe(false);
    expect(modelInput(off, [5, 6])).toEqual([5, 6]);
    expect(modelInput(await loadTokenizer(tmpFolder(model)), [5, 6])).toEqual([1, 5, 6]);
    const bad = tmpFolder({ ...model, 'tokenizer_config.json': '{"add_bos_token": "yes"}' });
    await expect(loadTokenizer(bad)).rejects.toThrow(
      `${join(bad, 'tokenizer_config.json')} add_bos_token: not a boolean, expected true or false, got "yes"`,
    );
    const noBos = tmpFolder({
      ...model,
      'tokenizer_config.json': '{"add_bos_token": true, "bos_token": null}',
    });
    const none = await loadTokenizer(noBos); // bos_token null leaves the model's <s>
    expect(none.bosId).toBe(1);
    const gpt2 = join(ROOT, 'assets/gpt2-shakespeare');
    const vocab = readFileSync(join(gpt2, 'vocab.json'), 'utf8');
    const merges = readFileSync(join(gpt2, 'merges.txt'), 'utf8');
    expect(() => new Gpt2Tokenizer(vocab, merges, { bos: null, addBosToken: true })).toThrow(
      'Gpt2Tokenizer options.addBosToken: add_bos_token is true but there is no BOS token',
    );
  });
});

describe('fromLlamaTokenizerJson', () => {
  const json = llamaTokenizerJson(llama2Bytes);
  const tok = fromLlamaTokenizerJson(json);
  const reference = fixtureModel('stories260K-llama2');

  it('gives the sentencepiece ids of the model it was converted from', () => {
    expect([tok.vocabSize, tok.bosId, tok.eosId]).toEqual([512, 1, 2]);
    let compared = 0;
    for (const { text, ids } of reference.encode) {
      if (/<s>|<\/s>|<unk>/.test(text)) continue; // added tokens: matched whole, below
      expect(tok.encode(text), JSON.stringify(text)).toEqual(ids);
      compared++;
    }
    expect(compared).toBeGreaterThan(60);
  });

  it('matches added tokens whole unless allowSpecial is false (Hugging Face rules)', () => {
    const hi = llama2.encode('hi');
    expect(tok.encode('<s>hi</s>')).toEqual([1, ...hi, 2]);
    expect(tok.encode('<s>hi', { allowSpecial: false })).toEqual(llama2.encode('<s>hi'));
    // Each part of the text around an added token gets its own ▁.
    expect(tok.encode('a<unk>b')).toEqual([...llama2.encode('a'), 0, ...llama2.encode('b')]);
  });

  it('decodes like the Llama decoder: added tokens printed, one leading space stripped', () => {
    const ids = llama2.encode('Once upon a time');
    expect(tok.decode(ids)).toBe('Once upon a time');
    expect(tok.decode([1, ...ids, 2])).toBe('<s> Once upon a time</s>');
    expect(tok.decode([0xe4 + 3, 0xb8 + 3, 0xad + 3])).toBe('中');
    expect(tok.decode([0xe4 + 3, 0xb8 + 3, ...ids])).toBe('\uFFFD\uFFFD Once upon a time');
    // Round trip, except literal '▁' and after an added token: the text that follows gets its own '▁' (HF's
    // legacy rule).
    for (const { text } of reference.encode.filter((c) => !/▁|<s>|<\/s>|<unk>/.test(c.text))) {
      expect(tok.decode(tok.encode(text)), JSON.stringify(text)).toBe(text);
    }
    expect(tok.decode(tok.encode('a<s>b'))).toBe('a<s> b');
  });

  it('rejects other tokenizer.json shapes, naming the field', () => {
    const edit = (f: (j: LlamaJson) => void) => () => {
      const j = structuredClone(json);
      f(j);
      return fromLlamaTokenizerJson(JSON.stringify(j), { file: 'tj.json' });
    };
    expect(edit(() => {})).not.toThrow();
    expect(edit((j) => (j.model.type = 'Unigram'))).toThrow(
      /^tj\.json: model\.type is not supported, expected "BPE", got "Unigram"/,
    );
    expect(edit((j) => (j.normalizer = { type: 'NFKC' }))).toThrow(
      /^tj\.json: normalizer is not supported, expected Sequence\[Prepend\("▁"\), Replace\(" ", "▁"\)\].*got NFKC$/,
    );
    expect(edit((j) => (j.pre_tokenizer = { type: 'Metaspace' }))).toThrow(
      /pre_tokenizer is not supported, expected null, got Metaspace/,
    );
    expect(edit((j) => j.decoder.decoders.pop())).toThrow(
      /decoder is not supported.*got Sequence\[Replace\("▁", " "\), ByteFallback, Fuse\]/,
    );
    expect(edit((j) => (j.model.merges[5] = '▁ zz'))).toThrow(
      /^tj\.json model\.merges\[5\]: bad merge.*got "▁ zz"/,
    );
    expect(edit((j) => delete j.model.vocab['<0x41>'])).toThrow(
      /a vocabulary with holes is not supported.*no token for id 68/,
    );
    expect(edit((j) => (j.model.vocab['<0x41>'] = 1))).toThrow(/model\.vocab: bad id for "<0x41>".*got 1/);
    expect(edit((j) => (j.model.unk_token = '<nope>'))).toThrow(
      /model\.unk_token is not supported.*got "<nope>"/,
    );
    expect(edit((j) => (j.model.dropout = 0.1))).toThrow(/model\.dropout/);
    expect(() => fromLlamaTokenizerJson('{')).toThrow(/^tokenizer\.json: not valid JSON/);
  });
});
