// Browser loader: any supported model and its tokenizer from files the user picked (an <input type=file multiple>
// FileList) or Blobs the page fetched, keyed by file name: config.json, model.safetensors (or a sharded index and
// its shards), and tokenizer.json, vocab.json + merges.txt or tokenizer.model. Blobs are read in place, in slices;
// nothing is uploaded. The choices are load-model.ts's, the same as the Node folder loader's.
import type { Gpu } from '../gpu/gpu.ts';
import { blobFiles } from '../io/named-files.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import type { Gpt2Config } from './gpt2/config.ts';
import type { Gpt2Model } from './gpt2/model.ts';
import { loadModelAndTokenizer, type AnyModel } from './load-model.ts';

/** What an <input type=file> gives: a FileList, or any array of Files. */
export type FileListLike = ArrayLike<File> | Iterable<File>;

export interface LoadedModel {
  /** Gpt2Model or LlamaModel: `model.kind` narrows it. */
  model: AnyModel;
  tokenizer: Tokenizer;
  /** The files by name, for a later download of config and tokenizer files next to new weights. */
  files: ReadonlyMap<string, Blob>;
}

export interface LoadedGpt2 extends LoadedModel {
  model: Gpt2Model;
  config: Gpt2Config;
}

/** Files by name (File.name is the base name, also when a whole folder was picked). */
export function filesByName(files: Map<string, Blob> | FileListLike): Map<string, Blob> {
  if (files instanceof Map) return files;
  return new Map(Array.from(files, (f): [string, Blob] => [f.name, f]));
}

export async function loadModelFromFiles(
  gpu: Gpu,
  files: Map<string, Blob> | FileListLike,
): Promise<LoadedModel> {
  const byName = filesByName(files);
  return { ...(await loadModelAndTokenizer(gpu, blobFiles(byName))), files: byName };
}

/** GPT-2 only: a config.json whose model_type is another architecture is refused. */
export async function loadGpt2FromFiles(
  gpu: Gpu,
  files: Map<string, Blob> | FileListLike,
): Promise<LoadedGpt2> {
  const byName = filesByName(files);
  const { model, tokenizer } = await loadModelAndTokenizer(gpu, blobFiles(byName), 'gpt2');
  return { model, tokenizer, config: model.config, files: byName };
}
