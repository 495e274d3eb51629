// loadModel(folder): a Hugging Face model folder from disk (config.json + model.safetensors, or a sharded index),
// architecture chosen by config.json's model_type.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Gpu } from '../gpu/gpu.ts';
import { InputError, WeightsError } from '../gpu/errors.ts';
import { readSafetensorsPath, readShardedIndexPath } from '../io/safetensors-node.ts';
import type { TensorStore } from '../io/safetensors.ts';
import { parseGpt2Config } from './gpt2/config.ts';
import { Gpt2Model } from './gpt2/model.ts';
import { loadGpt2Weights } from './gpt2/weights.ts';
import { parseLlamaConfig } from './llama/config.ts';
import { LlamaModel } from './llama/model.ts';
import { loadLlamaWeights } from './llama/weights.ts';
import type { LanguageModel } from './language-model.ts';

export async function readConfigJson(folder: string): Promise<Record<string, unknown>> {
  const path = join(folder, 'config.json');
  if (!existsSync(folder)) throw new InputError(`${folder}: model folder, expected a directory, got a path that does not exist`);
  if (!existsSync(path)) throw new InputError(`${folder}: config.json, expected a Hugging Face config file, got none`, 'a model folder holds config.json and model.safetensors');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new WeightsError(`${path}: JSON, expected a valid config, got a parse error: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new WeightsError(`${path}: top level, expected an object, got ${JSON.stringify(raw)?.slice(0, 40)}`);
  return raw as Record<string, unknown>;
}

export async function openWeights(folder: string): Promise<TensorStore> {
  const single = join(folder, 'model.safetensors');
  const index = join(folder, 'model.safetensors.index.json');
  if (existsSync(single)) return readSafetensorsPath(single);
  if (existsSync(index)) return readShardedIndexPath(index);
  throw new InputError(`${folder}: weights, expected model.safetensors or model.safetensors.index.json, got neither`, 'only safetensors checkpoints are read (no pytorch_model.bin)');
}

export async function loadGpt2(gpu: Gpu, folder: string): Promise<Gpt2Model> {
  const config = parseGpt2Config(await readConfigJson(folder), join(folder, 'config.json'));
  const model = new Gpt2Model(gpu, config);
  try {
    await loadGpt2Weights(model, await openWeights(folder));
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

export async function loadLlama(gpu: Gpu, folder: string): Promise<LlamaModel> {
  const config = parseLlamaConfig(await readConfigJson(folder), join(folder, 'config.json'));
  const model = new LlamaModel(gpu, config);
  try {
    await loadLlamaWeights(model, await openWeights(folder));
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Any supported causal LM from a Hugging Face folder, chosen by config.json's model_type. */
export async function loadModel(gpu: Gpu, folder: string): Promise<LanguageModel> {
  const raw = await readConfigJson(folder);
  switch (raw.model_type) {
    case 'gpt2':
      return loadGpt2(gpu, folder);
    case 'llama':
      return loadLlama(gpu, folder);
    default:
      throw new WeightsError(`${join(folder, 'config.json')}: field 'model_type', expected one of gpt2, llama, got ${JSON.stringify(raw.model_type)}`);
  }
}
