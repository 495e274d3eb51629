// loadGpt2FromFiles, the browser loader, run in Node on Blobs and Files: the same model and tokenizer as the Node
// folder loader, and errors that name what is missing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { InputError, loadGpt2FromFiles } from '../../src/index.ts';
import { loadGpt2 } from '../../src/models/load-node.ts';

const gpuPromise = testGpu();
const FOLDER = 'assets/gpt2-shakespeare';
const NAMES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'];
const blob = (name: string) => new Blob([readFileSync(join(FOLDER, name))]);
const ENCODED: { text: string; ids: number[] }[] = JSON.parse(
  readFileSync('test/fixtures/gpt2-tokenizer.json', 'utf8'),
);

it('loads the same weights and tokenizer from a Map of Blobs as the Node loader from the folder', async () => {
  const gpu = await gpuPromise;
  const { model, tokenizer } = await loadGpt2FromFiles(gpu, new Map(NAMES.map((n) => [n, blob(n)])));
  const reference = await loadGpt2(gpu, FOLDER);
  try {
    for (const name of [
      'transformer.wpe.weight',
      'transformer.h.3.mlp.c_proj.weight',
      'transformer.ln_f.bias',
    ]) {
      const [got, want] = [model, reference].map((m) => m.namedParameters().find(([n]) => n === name)![1]);
      expect(await got.readF32(), name).toEqual(await want.readF32());
    }
    for (const { text, ids } of ENCODED.slice(0, 20))
      expect(tokenizer.encode(text), JSON.stringify(text)).toEqual(ids);
    expect(tokenizer.eosId).toBe(50256);
  } finally {
    model.dispose();
    reference.dispose();
  }
});

it('takes an array of Files (what an <input type=file multiple> gives) in any order', async () => {
  const gpu = await gpuPromise;
  const files = [...NAMES].reverse().map((n) => new File([readFileSync(join(FOLDER, n))], n));
  const { model, config } = await loadGpt2FromFiles(gpu, files);
  expect(config.nLayer).toBe(4);
  model.dispose();
});

it('names the missing files and lists what it got', async () => {
  const gpu = await gpuPromise;
  const without = (name: string) => new Map(NAMES.filter((n) => n !== name).map((n) => [n, blob(n)]));
  const noMerges =
    'tokenizer, expected tokenizer.json or vocab.json + merges.txt, got [config.json, model.safetensors, vocab.json]';
  await expect(loadGpt2FromFiles(gpu, without('merges.txt'))).rejects.toThrow(noMerges);
  await expect(loadGpt2FromFiles(gpu, without('config.json'))).rejects.toThrow(InputError);
  await expect(loadGpt2FromFiles(gpu, without('model.safetensors'))).rejects.toThrow(
    /expected model.safetensors/,
  );
  const badConfig = new Map([
    ...without('config.json'),
    ['config.json', new Blob(['{"model_type": "gpt2",'])],
  ]);
  await expect(loadGpt2FromFiles(gpu, badConfig)).rejects.toThrow(/config.json: not valid JSON/);
});
