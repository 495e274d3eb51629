// Property-based tests (fast-check, fixed seeds) of every parser that reads user files: random bytes, and valid
// files (the real ones in assets/ as seeds) with bytes flipped, inserted or deleted, cut short, or JSON fragments
// spliced in. Each input must parse, or be refused with one of the engine's own errors whose message is one
// printable line (plus a hint line); never a TypeError, RangeError or stack overflow, and never slowly.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError, ShapeError, WeightsError } from '../../src/util/errors.ts';
import { blobFiles, readJsonObject } from '../../src/io/named-files.ts';
import { readSafetensors, readShardedIndex, serializeSafetensors } from '../../src/io/safetensors.ts';
import { parseGpt2Config } from '../../src/models/gpt2/config.ts';
import { parseLlamaConfig } from '../../src/models/llama/config.ts';
import { tokenizeRows } from '../../src/sft/dataset.ts';
import { parseJsonl } from '../../src/sft/jsonl.ts';
import { fromTokenizerJson } from '../../src/tokenizers/byte-level-bpe-json.ts';
import { loadTokenizerFrom } from '../../src/tokenizers/load-tokenizer.ts';
import { fromLlamaTokenizerJson, fromSentencePieceModel } from '../../src/tokenizers/sentencepiece.ts';
import type { Tokenizer } from '../../src/tokenizers/tokenizer.ts';

const ASSETS = join(import.meta.dirname, '../../assets');
const asset = (path: string): Uint8Array => new Uint8Array(readFileSync(join(ASSETS, path)));
const utf8 = new TextEncoder();
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

const SEED = Number(process.env.FUZZ_SEED ?? 20250611);
// FUZZ_RUNS / FUZZ_SEED override both, for longer local campaigns.
const RUNS = Number(process.env.FUZZ_RUNS ?? 500); // per property: about 2 s for the file
const CASE_MS = 3000; // one input, parse and use included
const OWN_ERRORS = [WeightsError, InputError, ShapeError];
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

// Runs one input through a reader: success, or an engine error with a clean message, in bounded time.
async function check(read: () => unknown): Promise<void> {
  const t0 = performance.now();
  try {
    await read();
  } catch (e) {
    if (!OWN_ERRORS.some((E) => e instanceof E)) throw e;
    const [message, ...rest] = (e as Error).message.split('\n');
    if (CONTROL.test(message) || rest.length > 1 || (rest.length === 1 && !rest[0].startsWith('hint: '))) {
      throw new Error(`message is not one printable line (+ hint): ${JSON.stringify((e as Error).message)}`);
    }
    if (message.length > 1000) throw new Error(`message of ${message.length} characters`);
  }
  const ms = performance.now() - t0;
  if (ms > CASE_MS) throw new Error(`one input took ${ms.toFixed(0)} ms`);
}

// ---- mutations ----

const FRAGMENTS = [
  '{', '}', '[', ']', '"', ',', ':', 'null', 'true', '-1', '0', '1e309', '-0', '1.5', '9007199254740993',
  '"__proto__"', '{"__proto__": {}}', '"constructor"', '""', '"\\u0000"', '"\\ud800"', '[]', '{}',
  '{"a":'.repeat(300), '['.repeat(2000), '"F8_E4M3"', '"BOOL"', '"I64"', '[0, 18446744073709551615]',
  '"\u001b[2J"', '\u0000', '\uffff', '"\u202e"', '"x"'.repeat(50), '"Ġ"', '"<0x41>"', '"▁"',
]; // prettier-ignore

type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; at: number; length: number; fragment: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('splice' as const),
    at: fc.nat(),
    length: fc.integer({ min: 0, max: 20 }),
    fragment: fc.constantFrom(...FRAGMENTS),
  }),
);

function mutate(seed: Uint8Array, mutations: readonly Mutation[], from = 0, to = seed.length): Uint8Array {
  let bytes = seed.slice();
  for (const m of mutations) {
    const span = Math.max(1, Math.min(to, bytes.length) - from);
    const at = Math.min(bytes.length, from + (m.at % span));
    const join = (...parts: Uint8Array[]) => {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
      return out;
    };
    if (m.kind === 'flip' && at < bytes.length) bytes[at] = m.value;
    if (m.kind === 'insert') bytes = join(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
    if (m.kind === 'delete') bytes = join(bytes.subarray(0, at), bytes.subarray(at + m.length));
    if (m.kind === 'truncate') bytes = bytes.slice(0, at);
    if (m.kind === 'splice')
      bytes = join(bytes.subarray(0, at), utf8.encode(m.fragment), bytes.subarray(at + m.length));
  }
  return bytes;
}

const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });
// Either random bytes, or a mutated seed.
const inputFrom = (seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
    { weight: 1, arbitrary: fc.json().map((j) => utf8.encode(j)) },
    {
      weight: 6,
      arbitrary: fc.tuple(fc.constantFrom(...seeds), mutations).map(([seed, ms]) => mutate(seed, ms)),
    },
  );

const property = (arb: fc.Arbitrary<Uint8Array>, read: (bytes: Uint8Array) => unknown) =>
  fc.assert(
    fc.asyncProperty(arb, (bytes) => check(() => read(bytes))),
    { seed: SEED, numRuns: RUNS },
  );

// Uses a tokenizer the way training does, so a tokenizer that loads but cannot encode is caught too.
const SAMPLE = 'Hello wörld <|endoftext|> 中文 😀 \u0000 lowest newer';
function exercise(tokenizer: Tokenizer): void {
  const ids = tokenizer.encode(SAMPLE);
  tokenizer.decode(ids);
}

// ---- seeds ----

const TINY = 'hf-fixtures/tiny_gpt2';
const tinyVocab = asset(`${TINY}/vocab.json`);
const tinyMerges = asset(`${TINY}/merges.txt`);
const tinyTokenizerConfig = asset(`${TINY}/tokenizer_config.json`);
const tinyConfig = asset(`${TINY}/config.json`);
const gpt2TokenizerJson = utf8.encode(
  JSON.stringify({
    version: '1.0',
    added_tokens: [{ id: 20, content: '<|endoftext|>', special: true, lstrip: false, rstrip: false }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      vocab: JSON.parse(text(tinyVocab)) as unknown,
      merges: text(tinyMerges).split('\n').slice(1).filter(Boolean),
    },
  }),
);
// A small tokenizer.json of the Llama kind: byte fallback, the Llama normalizer and decoder.
const bytePieces = Array.from(
  { length: 256 },
  (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`,
);
const llamaVocab = ['<unk>', '<s>', '</s>', ...bytePieces, '▁', 'a', 'b', '▁a', 'ab', '▁ab'];
const llamaTokenizerJson = utf8.encode(
  JSON.stringify({
    version: '1.0',
    added_tokens: [0, 1, 2].map((id) => ({ id, content: llamaVocab[id], special: true })),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
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
      unk_token: '<unk>',
      fuse_unk: true,
      byte_fallback: true,
      vocab: Object.fromEntries(llamaVocab.map((t, id) => [t, id])),
      merges: ['▁ a', 'a b', '▁a b'],
    },
  }),
);
const spModel = asset('stories260K-hf/tokenizer.model');
const configs = ['gpt2-shakespeare/config.json', 'stories260K-hf/config.json', `${TINY}/config.json`].map(
  asset,
);
const tinyWeights = asset(`${TINY}/model.safetensors`);
const tinyHeaderEnd = 8 + Number(new DataView(tinyWeights.buffer).getBigUint64(0, true));
const shard = (names: string[]) =>
  serializeSafetensors(names.map((name) => ({ name, dtype: 'F32', shape: [2], data: new Float32Array(2) })));
const shards = new Map([
  ['model-00001-of-00002.safetensors', shard(['a', 'b'])],
  ['model-00002-of-00002.safetensors', shard(['c'])],
]);
const shardIndex = utf8.encode(
  JSON.stringify({
    metadata: { total_size: 24 },
    weight_map: {
      a: 'model-00001-of-00002.safetensors',
      b: 'model-00001-of-00002.safetensors',
      c: 'model-00002-of-00002.safetensors',
    },
  }),
);
const jsonl = ['sft/dialogue/train.jsonl', 'sft/speakers/train.jsonl'].map((path) =>
  asset(path).subarray(0, 1200),
);
const messagesJsonl = utf8.encode(
  `${JSON.stringify({
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ],
  })}\n`,
);

const files = (entries: [string, Uint8Array][]) =>
  blobFiles(new Map(entries.map(([name, bytes]) => [name, new Blob([new Uint8Array(bytes)])])));

describe('fuzzed inputs parse or give an engine error, never a crash', () => {
  it('safetensors: the header reader, and reading every tensor of a file it accepts', async () => {
    const headerOnly = fc.tuple(mutations, fc.boolean()).map(([ms, fixLength]) => {
      const bytes = mutate(tinyWeights, ms, 8, tinyHeaderEnd);
      const grown = bytes.length - tinyWeights.length;
      if (fixLength && bytes.length >= 8) {
        new DataView(bytes.buffer).setBigUint64(0, BigInt(Math.max(0, tinyHeaderEnd - 8 + grown)), true);
      }
      return bytes;
    });
    await property(fc.oneof(inputFrom([tinyWeights, shard(['x', 'y'])]), headerOnly), async (bytes) => {
      const file = await readSafetensors(bytes, 'model.safetensors');
      for (const [name, info] of file.tensors) {
        await file.getRaw(name);
        if (info.dtype === 'F32' || info.dtype === 'F16') await file.getF32(name);
      }
    });
  });

  it('the sharded index (model.safetensors.index.json)', async () => {
    await property(inputFrom([shardIndex]), async (bytes) => {
      const view = await readShardedIndex(text(bytes), shards);
      for (const name of view.tensors.keys()) await view.getF32(name);
    });
  });

  it('config.json through readJsonObject, parseGpt2Config and parseLlamaConfig', async () => {
    await property(inputFrom(configs), async (bytes) => {
      const raw = await readJsonObject(files([['config.json', bytes]]), 'config.json');
      if (raw.model_type === 'llama') parseLlamaConfig(raw);
      else parseGpt2Config(raw);
    });
  });

  it('vocab.json + merges.txt + tokenizer_config.json + config.json folders', async () => {
    const folder = fc.tuple(
      inputFrom([tinyVocab]),
      inputFrom([tinyMerges]),
      inputFrom([tinyTokenizerConfig]),
      fc.nat(3),
    );
    await fc.assert(
      fc.asyncProperty(folder, ([vocab, merges, tokenizerConfig, pick]) =>
        check(async () => {
          // Mostly one mutated file among valid ones, so the later checks are reached too.
          const entries: [string, Uint8Array][] = [
            ['vocab.json', pick === 0 || pick === 3 ? vocab : tinyVocab],
            ['merges.txt', pick === 1 || pick === 3 ? merges : tinyMerges],
            ['tokenizer_config.json', pick === 2 || pick === 3 ? tokenizerConfig : tinyTokenizerConfig],
            ['config.json', tinyConfig],
          ];
          exercise(await loadTokenizerFrom(files(entries)));
        }),
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('tokenizer.json of the GPT-2 and the Llama kind, read directly and through loadTokenizerFrom', async () => {
    await property(inputFrom([gpt2TokenizerJson, llamaTokenizerJson]), async (bytes) => {
      for (const read of [fromTokenizerJson, fromLlamaTokenizerJson]) {
        try {
          exercise(read(text(bytes)));
        } catch (e) {
          if (!(e instanceof WeightsError || e instanceof InputError)) throw e;
        }
      }
      exercise(await loadTokenizerFrom(files([['tokenizer.json', bytes]])));
    });
  });

  it('tokenizer.model (SentencePiece protobuf)', async () => {
    await property(inputFrom([spModel]), (bytes) => exercise(fromSentencePieceModel(bytes)));
  });

  it('JSONL rows, parsed and tokenized', async () => {
    const tokenizer = await loadTokenizerFrom(
      files([
        ['vocab.json', tinyVocab],
        ['merges.txt', tinyMerges],
        ['tokenizer_config.json', tinyTokenizerConfig],
      ]),
    );
    await property(inputFrom([...jsonl, messagesJsonl]), (bytes) => {
      const data = parseJsonl(text(bytes), 'train.jsonl');
      if (data.format !== 'text-label') tokenizeRows(data.rows, tokenizer);
    });
  });

  it('check() itself fails on a foreign error and on a message with a control character', async () => {
    await expect(check(() => (null as unknown as { f: () => void }).f())).rejects.toThrow(TypeError);
    await expect(
      check(() => {
        throw new WeightsError('x: bad \u0000');
      }),
    ).rejects.toThrow(/one printable line/);
  });
});
