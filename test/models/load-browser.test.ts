// loadModelFromFiles, the browser loader, run in Node on Blobs and Files: GPT-2 and Llama give the same logits and
// tokens as the Node folder loader, a sharded checkpoint loads from Blobs, and errors name what is missing. Also:
// nothing the loader imports reaches a `node:` module (the library bundle must not).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import {
  InputError,
  loadGpt2FromFiles,
  loadModelFromFiles,
  noGrad,
  readSafetensors,
  serializeSafetensors,
  Tensor,
  WeightsError,
  type LanguageModel,
} from '../../src/advanced.ts';
import { loadModel } from '../../src/models/load-node.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';

const gpuPromise = testGpu();
const GPT2 = 'assets/gpt2-shakespeare';
const GPT2_FILES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'];
const LLAMA = 'assets/stories260K-hf';
const LLAMA_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.model'];
const ENCODED: { text: string; ids: number[] }[] = JSON.parse(
  readFileSync('test/fixtures/gpt2-tokenizer.json', 'utf8'),
);
const TEXT = 'Once upon a time, a little girl named Lily found a needle.';

const blobs = (folder: string, names: string[]) =>
  new Map(names.map((n): [string, Blob] => [n, new Blob([readFileSync(join(folder, n))])]));

async function logitsOf(model: LanguageModel, ids: number[]): Promise<Float32Array> {
  const gpu = model.gpu;
  using _s = gpu.scope('logits');
  const x = Tensor.from(gpu, Int32Array.from(ids), [1, ids.length], { label: 'ids' });
  return noGrad(gpu, () => model.eval().forward(x)).readF32();
}

describe('the same model and tokenizer as loadModel / loadTokenizer from the folder', () => {
  it('GPT-2 from a Map of Blobs: logits bit-identical, tokenizer ids equal the fixture', async () => {
    const gpu = await gpuPromise;
    const { model, tokenizer } = await loadModelFromFiles(gpu, blobs(GPT2, GPT2_FILES));
    const reference = await loadModel(gpu, GPT2);
    try {
      expect(model.kind).toBe('gpt2');
      for (const { text, ids } of ENCODED.slice(0, 20))
        expect(tokenizer.encode(text), JSON.stringify(text)).toEqual(ids);
      expect(tokenizer.eosId).toBe(50256);
      const ids = tokenizer.encode('ROMEO:\nWhat light through yonder');
      const got = await logitsOf(model, ids);
      expect(got.length).toBe(ids.length * 50257);
      expect(got.every(Number.isFinite)).toBe(true);
      expect(got).toEqual(await logitsOf(reference, ids));
    } finally {
      model.dispose();
      reference.dispose();
    }
  });

  it('Llama (stories260K, tokenizer.model) from Files in any order: logits and ids equal', async () => {
    const gpu = await gpuPromise;
    const files = [...LLAMA_FILES].reverse().map((n) => new File([readFileSync(join(LLAMA, n))], n));
    const { model, tokenizer } = await loadModelFromFiles(gpu, files);
    const reference = await loadModel(gpu, LLAMA);
    try {
      expect(model.kind).toBe('llama');
      const folderTokenizer = await loadTokenizer(LLAMA);
      const ids = tokenizer.encode(TEXT);
      expect(ids).toEqual(folderTokenizer.encode(TEXT));
      expect([tokenizer.bosId, tokenizer.eosId]).toEqual([1, 2]);
      expect(tokenizer.decode(ids)).toBe(TEXT);
      const got = await logitsOf(model, [1, ...ids]);
      expect(got.length).toBe((ids.length + 1) * 512);
      expect(got.every(Number.isFinite)).toBe(true);
      expect(got).toEqual(await logitsOf(reference, [1, ...ids]));
    } finally {
      model.dispose();
      reference.dispose();
    }
  });

  it('a sharded checkpoint (index + 2 shard Blobs) gives the same logits as the single file', async () => {
    const gpu = await gpuPromise;
    const single = await readSafetensors(readFileSync(join(LLAMA, 'model.safetensors')), 'model.safetensors');
    const names = [...single.tensors.keys()].sort();
    const files = blobs(LLAMA, ['config.json', 'tokenizer.model']);
    const weightMap: Record<string, string> = {};
    for (const [shard, part] of [names.slice(0, 7), names.slice(7)].entries()) {
      const file = `model-0000${shard + 1}-of-00002.safetensors`;
      const tensors = [];
      for (const name of part) {
        const info = single.tensors.get(name)!;
        tensors.push({ name, dtype: 'F32' as const, shape: info.shape, data: await single.getF32(name) });
        weightMap[name] = file;
      }
      files.set(file, new Blob([serializeSafetensors(tensors)]));
    }
    files.set('model.safetensors.index.json', new Blob([JSON.stringify({ weight_map: weightMap })]));
    const { model } = await loadModelFromFiles(gpu, files);
    const reference = await loadModel(gpu, LLAMA);
    try {
      expect(await logitsOf(model, [1, 400, 30, 7])).toEqual(await logitsOf(reference, [1, 400, 30, 7]));
    } finally {
      model.dispose();
      reference.dispose();
    }
  });

  it('loadGpt2FromFiles returns the GPT-2 model and its parsed config', async () => {
    const gpu = await gpuPromise;
    const { model, config } = await loadGpt2FromFiles(gpu, blobs(GPT2, GPT2_FILES));
    expect(config.nLayer).toBe(4);
    expect(model.config).toBe(config);
    model.dispose();
  });
});

describe('errors name the missing or wrong file, and a failed load leaves no GPU buffer behind', () => {
  const without = (folder: string, names: string[], name: string) =>
    blobs(
      folder,
      names.filter((n) => n !== name),
    );
  const withFile = (files: Map<string, Blob>, name: string, text: string) =>
    new Map([...files, [name, new Blob([text])]]);
  const gpt2Config = JSON.parse(readFileSync(join(GPT2, 'config.json'), 'utf8')) as Record<string, unknown>;

  const cases: [string, () => Map<string, Blob>, ErrorConstructor | typeof InputError, string][] = [
    [
      'no config.json',
      () => without(GPT2, GPT2_FILES, 'config.json'),
      InputError,
      'picked files: config.json, expected a Hugging Face config file, got [merges.txt, model.safetensors, vocab.json]',
    ],
    [
      'no weights',
      () => without(GPT2, GPT2_FILES, 'model.safetensors'),
      InputError,
      'picked files: weights, expected model.safetensors or model.safetensors.index.json, got [config.json, merges.txt, vocab.json]',
    ],
    [
      'GPT-2 without merges.txt',
      () => without(GPT2, GPT2_FILES, 'merges.txt'),
      InputError,
      'picked files: no tokenizer files, expected tokenizer.json, vocab.json + merges.txt or tokenizer.model, got [config.json, model.safetensors, vocab.json]',
    ],
    [
      'Llama without tokenizer.model',
      () => without(LLAMA, LLAMA_FILES, 'tokenizer.model'),
      InputError,
      'picked files: no tokenizer files, expected tokenizer.json, vocab.json + merges.txt or tokenizer.model, got [config.json, generation_config.json, model.safetensors]',
    ],
    [
      'config.json not JSON',
      () => withFile(blobs(GPT2, GPT2_FILES), 'config.json', '{"model_type": "gpt2",'),
      WeightsError,
      'config.json: not valid JSON, expected a JSON object, got ',
    ],
    [
      'an unknown model_type',
      () =>
        withFile(
          blobs(GPT2, GPT2_FILES),
          'config.json',
          JSON.stringify({ ...gpt2Config, model_type: 'bert' }),
        ),
      WeightsError,
      `config.json: field 'model_type', expected one of gpt2, llama, qwen2, qwen3, got "bert"`,
    ],
    [
      'a tokenizer larger than vocab_size',
      () =>
        withFile(blobs(GPT2, GPT2_FILES), 'config.json', JSON.stringify({ ...gpt2Config, vocab_size: 1000 })),
      WeightsError,
      'picked files: tokenizer vocabulary size, expected at most config.json vocab_size 1000, got 50257',
    ],
    [
      'a shard the index names but nobody picked',
      () =>
        withFile(
          without(LLAMA, LLAMA_FILES, 'model.safetensors'),
          'model.safetensors.index.json',
          JSON.stringify({ weight_map: { 'model.norm.weight': 'model-00001-of-00001.safetensors' } }),
        ),
      WeightsError,
      "model.safetensors.index.json: shard 'model-00001-of-00001.safetensors' was not given",
    ],
  ];
  for (const [name, files, kind, message] of cases) {
    it(name, async () => {
      const gpu = await gpuPromise;
      const before = gpu.stats().liveBuffers;
      const load = loadModelFromFiles(gpu, files());
      await expect(load).rejects.toThrow(kind);
      await expect(load).rejects.toThrow(message);
      expect(gpu.stats().liveBuffers).toBe(before);
    });
  }

  it('weights that do not match config.json: the tensor and both shapes, and the model is disposed', async () => {
    const gpu = await gpuPromise;
    const config = JSON.parse(readFileSync(join(LLAMA, 'config.json'), 'utf8')) as Record<string, unknown>;
    const files = withFile(
      blobs(LLAMA, LLAMA_FILES),
      'config.json',
      JSON.stringify({ ...config, num_key_value_heads: 8 }),
    );
    const before = gpu.stats().liveBuffers;
    await expect(loadModelFromFiles(gpu, files)).rejects.toThrow(
      "model.safetensors: tensor 'model.layers.0.self_attn.k_proj.weight' has shape [32, 64], expected [64, 64]",
    );
    expect(gpu.stats().liveBuffers).toBe(before);
  });

  it('loadGpt2FromFiles refuses a Llama folder by its model_type', async () => {
    const gpu = await gpuPromise;
    await expect(loadGpt2FromFiles(gpu, blobs(LLAMA, LLAMA_FILES))).rejects.toThrow(
      `config.json: field 'model_type', expected 'gpt2', got "llama"`,
    );
  });
});

it('the loader reaches no node: module through its static imports', () => {
  const seen = new Set<string>();
  const nodeImports: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const [, spec] of source.matchAll(/^(?:import|export) (?!type )[^;]*? from '([^']+)';/gms)) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else if (spec.startsWith('node:')) nodeImports.push(`${file}: ${spec}`);
    }
  };
  visit(resolve('src/models/load-browser.ts'));
  expect(seen.size).toBeGreaterThan(10);
  expect(nodeImports).toEqual([]);
});
