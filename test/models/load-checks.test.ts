// What loading refuses before it allocates: config fields out of range, configs that disagree with the safetensors
// header (the tensor and the field behind it), tensors over the device's buffer limits, weights holding NaN or Inf,
// and tokenizers whose ids the model's embedding does not have. Configs are edited copies next to the real weights.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { GPT2, readConfig, smallerVocabulary, withConfig } from '../helpers/model-folders.ts';
import { WeightsError } from '../../src/util/errors.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';
import { serializeSafetensors, type TensorInfo, type TensorStore } from '../../src/io/safetensors.ts';
import { parseGpt2Config } from '../../src/models/gpt2/config.ts';
import { Gpt2Model } from '../../src/models/gpt2/model.ts';
import { gpt2Parameters, planGpt2Weights } from '../../src/models/gpt2/weights.ts';
import { parseLlamaConfig } from '../../src/models/llama/config.ts';
import { LlamaModel } from '../../src/models/llama/model.ts';
import { llamaParameters } from '../../src/models/llama/weights.ts';
import { checkTokenizerFits } from '../../src/models/load-model.ts';
import { loadModel, loadModelAndTokenizerFromFolder } from '../../src/models/load-node.ts';
import { checkBufferLimits, planWeights, type ExpectedTensor } from '../../src/models/weights-plan.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import type { Module } from '../../src/nn/module.ts';
import type { Tokenizer } from '../../src/tokenizers/tokenizer.ts';

const LLAMA = 'assets/stories260K-hf';
const TINY = 'assets/hf-fixtures/tiny_gpt2';
const gpuPromise = testGpu();

describe('a config out of range or at odds with its weights: refused in one line, before any allocation', () => {
  const cases: [string, string, Record<string, unknown>, RegExp][] = [
    ['gpt2', GPT2, { n_layer: 1_000_000 }, /config\.json: field 'n_layer', expected a positive integer ≤ 1024, got 1000000$/],
    ['gpt2', GPT2, { n_layer: 10_000 }, /field 'n_layer', expected a positive integer ≤ 1024, got 10000$/],
    ['gpt2', GPT2, { n_embd: 1e6 }, /field 'n_embd', expected a positive integer ≤ 65536, got 1000000$/],
    ['gpt2', GPT2, { n_positions: 1e9 }, /field 'n_positions', expected a positive integer ≤ 1048576, got 1000000000$/],
    ['gpt2', GPT2, { n_layer: -4 }, /field 'n_layer', expected a positive integer ≤ 1024, got -4$/],
    ['gpt2', GPT2, { n_layer: 2.5 }, /field 'n_layer', expected a positive integer ≤ 1024, got 2.5$/],
    ['gpt2', GPT2, { vocab_size: 1e300 }, /field 'vocab_size', expected a positive integer ≤ 2097152, got 1e\+300$/],
    [
      'gpt2',
      GPT2,
      { n_layer: 6 },
      /model\.safetensors: tensor 'transformer\.h\.4\.ln_1\.weight', expected shape \[64\], got no such tensor \(.*config\.json n_layer 6 asks for it\)$/,
    ],
    [
      'gpt2',
      GPT2,
      { n_layer: 2 },
      /tensor 'transformer\.h\.2\.[a-z_.0-9]+', expected only the layers of .*config\.json n_layer 2, got an unknown tensor$/,
    ],
    [
      'gpt2',
      GPT2,
      { n_embd: 128 },
      /tensor 'transformer\.wte\.weight' has shape \[50257, 64\], expected \[50257, 128\] \(dim 1 is n_embd in .*config\.json\)/,
    ],
    [
      'gpt2',
      GPT2,
      { n_positions: 4096 },
      /tensor 'transformer\.wpe\.weight' has shape \[128, 64\], expected \[4096, 64\] \(dim 0 is n_positions in/,
    ],
    ['llama', LLAMA, { num_hidden_layers: 1_000_000 }, /field 'num_hidden_layers', expected a positive integer ≤ 1024, got 1000000/],
    ['llama', LLAMA, { max_position_embeddings: 1e9 }, /field 'max_position_embeddings', expected a positive integer ≤ 16777216/],
    ['llama', LLAMA, { hidden_size: -64 }, /field 'hidden_size', expected a positive integer ≤ 65536, got -64/],
    [
      'llama',
      LLAMA,
      { intermediate_size: 1000 },
      /tensor 'model\.layers\.0\.mlp\.gate_proj\.weight' has shape \[172, 64\], expected \[1000, 64\] \(dim 0 is intermediate_size in/,
    ],
    [
      'llama',
      LLAMA,
      { num_hidden_layers: 9 },
      /tensor 'model\.layers\.5\.input_layernorm\.weight', expected shape \[64\], got no such tensor \(.*num_hidden_layers 9 asks for it\)/,
    ],
  ];
  for (const [kind, folder, patch, message] of cases) {
    it(`${kind} ${JSON.stringify(patch)}`, async () => {
      const gpu = await gpuPromise;
      const dir = withConfig(folder, patch);
      const [bytes, rss] = [gpu.stats().liveBytes, process.memoryUsage().rss];
      const start = performance.now();
      const error = await loadModel(gpu, dir).then(
        () => null,
        (e: unknown) => e,
      );
      const ms = performance.now() - start;
      expect(error).toBeInstanceOf(WeightsError);
      const text = (error as Error).message.split('\n')[0];
      expect(text).toMatch(message);
      expect(ms, 'refused within seconds (a slow CI machine included)').toBeLessThan(5000);
      expect(gpu.stats().liveBytes, 'no GPU buffer left behind').toBe(bytes);
      // Before the header check, n_layer 10000 grew the process by 3.3 GB before it was refused.
      expect(process.memoryUsage().rss - rss, 'process memory growth').toBeLessThan(256 << 20);
    });
  }
});

describe('the parameter table a config implies is the one the model builds (names, order, shapes)', () => {
  const variants: (readonly [string, (gpu: Gpu) => { model: Module; table: ExpectedTensor[] }])[] = [
    ...[{}, { tie_word_embeddings: false, n_inner: 96, n_layer: 2 }].map((patch) => {
      const config = parseGpt2Config({ ...readConfig(GPT2), ...patch });
      return [`gpt2 ${JSON.stringify(patch)}`, (gpu: Gpu) => ({ model: new Gpt2Model(gpu, config), table: gpt2Parameters(config) })] as const;
    }),
    ...[{}, { tie_word_embeddings: false, attention_bias: true, mlp_bias: true, head_dim: 16 }].map((patch) => {
      const config = parseLlamaConfig({ ...readConfig(LLAMA), ...patch });
      return [`llama ${JSON.stringify(patch)}`, (gpu: Gpu) => ({ model: new LlamaModel(gpu, config), table: llamaParameters(config) })] as const;
    }),
  ];
  for (const [name, build] of variants) {
    it(name, async () => {
      const { model, table } = build(await gpuPromise);
      const built = model.namedParameters().map(([n, t]) => ({ name: n, shape: t.shape }));
      model.dispose();
      expect(table.map((t) => ({ name: t.name, shape: t.shape }))).toEqual(built);
      expect(table.every((t) => t.dims.length === t.shape.length)).toBe(true);
    });
  }
});

describe('device buffer limits and dtypes, from the header alone', () => {
  it('a tensor over maxBufferSize is refused naming it, the limit and its size; one over the binding limit only is not', async () => {
    const plan = planGpt2Weights(parseGpt2Config(readConfig(GPT2)), await readSafetensorsPath(join(GPT2, 'model.safetensors')));
    expect(plan.bytes).toBe(4 * plan.parameters);
    const limits = { maxBufferSize: 1 << 20, maxStorageBufferBindingSize: 1 << 20 };
    expect(() => checkBufferLimits(plan, limits, 'a small device')).toThrow(WeightsError);
    expect(() => checkBufferLimits(plan, limits, 'a small device')).toThrow(
      "tensor 'transformer.wte.weight' [50257, 64] as f32, expected at most 1048576 bytes (maxBufferSize of a small device), got 12865792 bytes",
    );
    // Kernels bind wte in windows (gpu/ranges.ts): a 1 MiB binding limit under a 16 MiB buffer limit loads.
    expect(() => checkBufferLimits(plan, { maxBufferSize: 1 << 24, maxStorageBufferBindingSize: 1 << 20 })).not.toThrow();
  });

  it('an integer tensor where a parameter belongs is refused naming its dtype', () => {
    const info = (name: string, dtype: TensorInfo['dtype'], shape: number[]): [string, TensorInfo] => [
      name,
      { name, dtype, shape, byteOffset: 0, byteLength: 0, file: 'fake.safetensors' },
    ];
    const store = { name: 'fake.safetensors', tensors: new Map([info('w', 'F16', [2, 3]), info('b', 'I64', [3])]) } as unknown as TensorStore;
    const layout = { architecture: 'test', prefix: '', anchor: 'w', ignored: [], tiedHead: false, missingHint: () => undefined, shapeHint: () => '', unknownHint: () => '' };
    const expected = [
      { name: 'w', shape: [2, 3], dims: ['a', 'b'] },
      { name: 'b', shape: [3], dims: ['b'] },
    ];
    expect(() => planWeights(store, expected, layout, 'config.json')).toThrow(
      "fake.safetensors: tensor 'b' dtype, expected one of F32, F16, BF16, F64, got I64",
    );
  });
});

describe('weights holding NaN or Inf: refused at load naming the file, the tensor and the first bad index', () => {
  for (const [dtype, value, shown] of [['F32', NaN, 'NaN'], ['F16', -Infinity, '-Infinity']] as const) {
    it(`${dtype} ${shown}`, async () => {
      const gpu = await gpuPromise;
      const source = await readSafetensorsPath(join(TINY, 'model.safetensors'));
      const tensors = [];
      for (const [name, info] of source.tensors) {
        const data = await source.getF32(name);
        if (name === 'h.0.mlp.c_fc.weight') data[5] = value; // (2, 8): row 0, column 5
        tensors.push({ name, dtype: dtype as 'F32' | 'F16', shape: info.shape, data });
      }
      const dir = withConfig(TINY, {}, ['model.safetensors']);
      writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(tensors));
      const before = gpu.stats().liveBuffers;
      await expect(loadModel(gpu, dir)).rejects.toThrow(WeightsError);
      await expect(loadModel(gpu, dir)).rejects.toThrow(
        `${join(dir, 'model.safetensors')}: tensor 'h.0.mlp.c_fc.weight' [2, 8], expected finite values, got ${shown} at index 5 = [0, 5]`,
      );
      expect(gpu.stats().liveBuffers, 'the half-loaded model is disposed').toBe(before);
    });
  }
});

describe('a tokenizer whose ids the model does not have', () => {
  const tokenizer = (vocabSize: number, bosId: number | null, eosId: number | null) => ({ vocabSize, bosId, eosId }) as Tokenizer;

  it('the vocabulary, the special ids and config.json ids are each checked against vocab_size', () => {
    const check = (t: Tokenizer, raw: Record<string, unknown> = {}) => () => checkTokenizerFits(t, raw, 100, 'model', 'config.json');
    expect(check(tokenizer(100, 0, 99))).not.toThrow();
    expect(check(tokenizer(101, 0, 99))).toThrow('model: tokenizer vocabulary size, expected at most config.json vocab_size 100, got 101');
    expect(check(tokenizer(50, 120, null))).toThrow('model: tokenizer BOS id, expected an id below config.json vocab_size 100, got 120');
    expect(check(tokenizer(50, null, 100))).toThrow('model: tokenizer EOS id, expected an id below config.json vocab_size 100, got 100');
    expect(check(tokenizer(50, 1, 2), { pad_token_id: 100 })).toThrow('config.json pad_token_id, expected an id below');
    expect(check(tokenizer(50, 1, 2), { eos_token_id: [2, 150] })).toThrow('config.json eos_token_id, expected an id below config.json vocab_size 100, got 150');
    expect(check(tokenizer(50, 1, 2), { pad_token_id: -1, bos_token_id: null })).not.toThrow();
  });

  it('a GPT-2 folder whose config and weights agree on a smaller vocabulary than its tokenizer', async () => {
    const gpu = await gpuPromise;
    const dir = await smallerVocabulary(50000);
    const model = await loadModel(gpu, dir); // the weights match the config: the model alone loads
    expect(model.vocabSize).toBe(50000);
    model.dispose();
    const before = gpu.stats().liveBuffers;
    await expect(loadModelAndTokenizerFromFolder(gpu, dir)).rejects.toThrow(
      `${dir}: tokenizer vocabulary size, expected at most ${join(dir, 'config.json')} vocab_size 50000, got 50257`,
    );
    expect(gpu.stats().liveBuffers).toBe(before);
    const { model: again, tokenizer: t } = await loadModelAndTokenizerFromFolder(gpu, GPT2);
    expect([again.vocabSize, t.vocabSize]).toEqual([50257, 50257]);
    again.dispose();
  });
});
