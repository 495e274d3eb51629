// Browser loader: a GPT-2 model and its tokenizer from files the user picked (an <input type=file multiple>
// FileList) or Blobs the page fetched, keyed by file name: config.json, model.safetensors (or a sharded index and
// its shards), tokenizer.json or vocab.json + merges.txt. Nothing is uploaded: Blobs are read in place, in slices.
import type { Gpu } from '../gpu/gpu.ts';
import { InputError, WeightsError } from '../gpu/errors.ts';
import { readSafetensors, readShardedIndex, type TensorStore } from '../io/safetensors.ts';
import { fromTokenizerJson, Gpt2Tokenizer } from '../tokenizers/gpt2-bpe.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { parseGpt2Config, type Gpt2Config } from './gpt2/config.ts';
import { Gpt2Model } from './gpt2/model.ts';
import { loadGpt2Weights } from './gpt2/weights.ts';

/** What an <input type=file> gives: a FileList, or any array of Files. */
export type FileListLike = ArrayLike<File> | Iterable<File>;

export interface LoadedGpt2 {
  model: Gpt2Model;
  tokenizer: Tokenizer;
  config: Gpt2Config;
  /** The files by name, for a later download of config and tokenizer files next to new weights. */
  files: ReadonlyMap<string, Blob>;
}

/** Files by name (File.name is the base name, also when a whole folder was picked). */
export function filesByName(files: Map<string, Blob> | FileListLike): Map<string, Blob> {
  if (files instanceof Map) return files;
  return new Map(Array.from(files, (f): [string, Blob] => [f.name, f]));
}

async function jsonOf(name: string, blob: Blob): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await blob.text());
  } catch (e) {
    throw new WeightsError(`${name}: not valid JSON, expected a JSON object, got ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WeightsError(
      `${name}: top level, expected an object, got ${JSON.stringify(value)?.slice(0, 40)}`,
    );
  }
  return value as Record<string, unknown>;
}

function missing(what: string, files: Map<string, Blob>): InputError {
  return new InputError(
    `loadGpt2FromFiles: ${what}, got [${[...files.keys()].join(', ')}]`,
    'pick every file of the model folder: config.json, model.safetensors, vocab.json and merges.txt',
  );
}

async function openWeights(files: Map<string, Blob>): Promise<TensorStore> {
  const single = files.get('model.safetensors');
  if (single) return readSafetensors(single, 'model.safetensors');
  const index = files.get('model.safetensors.index.json');
  if (index) return readShardedIndex(index, files);
  throw missing('weights, expected model.safetensors or model.safetensors.index.json', files);
}

async function openTokenizer(files: Map<string, Blob>, config: Gpt2Config): Promise<Tokenizer> {
  const eos = config.eosTokenId ?? undefined;
  const bos = config.bosTokenId ?? undefined;
  const names = { eos: 'config.json eos_token_id', bos: 'config.json bos_token_id' };
  const json = files.get('tokenizer.json');
  if (json) return fromTokenizerJson(await json.text(), { file: 'tokenizer.json', eos, bos, names });
  const vocab = files.get('vocab.json');
  const merges = files.get('merges.txt');
  if (vocab && merges) return new Gpt2Tokenizer(await vocab.text(), await merges.text(), { eos, bos, names });
  throw missing('tokenizer, expected tokenizer.json or vocab.json + merges.txt', files);
}

export async function loadGpt2FromFiles(
  gpu: Gpu,
  files: Map<string, Blob> | FileListLike,
): Promise<LoadedGpt2> {
  const byName = filesByName(files);
  const configBlob = byName.get('config.json');
  if (!configBlob) throw missing('config.json, expected a Hugging Face config file', byName);
  const config = parseGpt2Config(await jsonOf('config.json', configBlob), 'config.json');
  const tokenizer = await openTokenizer(byName, config);
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new WeightsError(
      `tokenizer: vocabulary size, expected at most config.json vocab_size ${config.vocabSize}, ` +
        `got ${tokenizer.vocabSize}`,
      'are the tokenizer files from the same model as config.json?',
    );
  }
  const store = await openWeights(byName);
  const model = new Gpt2Model(gpu, config);
  try {
    await loadGpt2Weights(model, store);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, tokenizer, config, files: byName };
}
