// A model folder read file by file, by base name: on disk (named-files-node.ts) or as Blobs a page holds (picked
// Files, fetched files). The model and tokenizer loaders choose and open files through it, the same way for both.
import { InputError, WeightsError } from '../util/errors.ts';
import { parseJsonText } from './json-text.ts';
import { show } from './quote.ts';
import { readSafetensors, readShardedIndex, type TensorStore } from './safetensors.ts';

export interface NamedFiles {
  /** The folder as messages name it: a path, or a phrase such as 'picked files'. */
  readonly where: string;
  /** The base names present, sorted. */
  readonly names: readonly string[];
  has(name: string): boolean;
  /** A file as messages name it: its path in a folder, the bare name among Blobs. */
  path(name: string): string;
  text(name: string): Promise<string>;
  bytes(name: string): Promise<Uint8Array>;
  /** One safetensors file: the header now, each tensor on demand. */
  safetensors(name: string): Promise<TensorStore>;
  /** A sharded checkpoint from its index, the shards found among the same files. */
  shardedIndex(name: string): Promise<TensorStore>;
}

/** Blobs keyed by file name; `where` names them in messages. */
export function blobFiles(files: ReadonlyMap<string, Blob>, where = 'picked files'): NamedFiles {
  const names = [...files.keys()].sort();
  const get = (name: string): Blob => {
    const blob = files.get(name);
    if (!blob) throw new InputError(`${where}: file '${name}', expected it, got [${names.join(', ')}]`);
    return blob;
  };
  return {
    where,
    names,
    has: (name) => files.has(name),
    path: (name) => name,
    text: async (name) => get(name).text(),
    bytes: async (name) => new Uint8Array(await get(name).arrayBuffer()),
    safetensors: async (name) => readSafetensors(get(name), name),
    shardedIndex: async (name) => readShardedIndex(get(name), files, name),
  };
}

/** A JSON file whose top level must be an object (config.json, tokenizer_config.json). */
export async function readJsonObject(files: NamedFiles, name: string): Promise<Record<string, unknown>> {
  const path = files.path(name);
  const fail = (what: string, got: string) =>
    new WeightsError(`${path}: ${what}, expected a JSON object, got ${got}`);
  const value = parseJsonText(await files.text(name), fail);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail('not a JSON object', show(value));
  }
  return value as Record<string, unknown>;
}
