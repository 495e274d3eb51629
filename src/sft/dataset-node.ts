// Node loader for JSONL data files: clear errors for a missing path, a directory or an empty file, then
// parseJsonl.

import { readFile, stat } from 'node:fs/promises';
import { InputError } from '../util/errors.ts';
import { parseJsonl, type JsonlData } from './jsonl.ts';

export async function readJsonlFile(path: string): Promise<JsonlData> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT'
        ? `${path}: no such file, expected a JSONL data file, got a path that does not exist`
        : `${path}: cannot read, expected a JSONL data file, got ${(e as Error).message}`,
    );
  }
  if (info.isDirectory()) {
    throw new InputError(
      `${path}: is a directory, expected a JSONL data file, got a directory`,
      'name the .jsonl file itself',
    );
  }
  if (info.size === 0) throw new InputError(`${path}: empty file, expected JSONL rows, got 0 bytes`);
  return parseJsonl(await readFile(path, 'utf8'), path);
}
