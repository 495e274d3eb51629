// Node loaders: a Hugging Face model folder on disk (config.json + model.safetensors, or a sharded index), the
// architecture chosen by config.json's model_type, as load-model.ts does for any set of named files.
import type { Gpu } from '../gpu/gpu.ts';
import { folderFiles } from '../io/named-files-node.ts';
import type { TensorStore } from '../io/safetensors.ts';
import type { Gpt2Model } from './gpt2/model.ts';
import type { LanguageModel } from './language-model.ts';
import type { LlamaModel } from './llama/model.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import {
  loadModelAndTokenizer,
  loadModelAs,
  loadModelFrom,
  openModelWeights,
  readModelConfig,
  type AnyModel,
  type LoadOptions,
} from './load-model.ts';

export async function readConfigJson(folder: string): Promise<Record<string, unknown>> {
  return readModelConfig(await folderFiles(folder));
}

export async function openWeights(folder: string): Promise<TensorStore> {
  return openModelWeights(await folderFiles(folder));
}

export async function loadGpt2(gpu: Gpu, folder: string): Promise<Gpt2Model> {
  return loadModelAs(gpu, await folderFiles(folder), 'gpt2');
}

export async function loadLlama(gpu: Gpu, folder: string): Promise<LlamaModel> {
  return loadModelAs(gpu, await folderFiles(folder), 'llama');
}

/** Any supported causal LM from a Hugging Face folder, chosen by config.json's model_type. */
export async function loadModel(gpu: Gpu, folder: string): Promise<LanguageModel> {
  return loadModelFrom(gpu, await folderFiles(folder));
}

/**
 * Model and tokenizer from one folder, checked against each other before the weights are read: every id the
 * tokenizer produces (and BOS, EOS, pad) must be a row of the model's embedding.
 */
export async function loadModelAndTokenizerFromFolder(
  gpu: Gpu,
  folder: string,
  options?: LoadOptions,
): Promise<{ model: AnyModel; tokenizer: Tokenizer }> {
  return loadModelAndTokenizer(gpu, await folderFiles(folder), undefined, options);
}
