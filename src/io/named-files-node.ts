// A model folder on disk as NamedFiles (named-files.ts): names from one directory listing, paths in messages.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../util/errors.ts';
import type { NamedFiles } from './named-files.ts';
import { readSafetensorsPath, readShardedIndexPath } from './safetensors-node.ts';

/** `what` says what the folder should hold ('model', 'tokenizer'), for the error when it cannot be listed. */
export async function folderFiles(folder: string, what = 'model'): Promise<NamedFiles> {
  let names: string[];
  try {
    names = (await readdir(folder)).sort();
  } catch (e) {
    throw new InputError(
      `${folder}: cannot read the ${what} folder, expected a directory, got ${(e as Error).message}`,
    );
  }
  const path = (name: string) => join(folder, name);
  return {
    where: folder,
    names,
    has: (name) => names.includes(name),
    path,
    text: (name) => readFile(path(name), 'utf8'),
    bytes: async (name) => new Uint8Array(await readFile(path(name))),
    safetensors: (name) => readSafetensorsPath(path(name)),
    shardedIndex: (name) => readShardedIndexPath(path(name)),
  };
}
