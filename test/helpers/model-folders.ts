// Model folders made for a test: a real model's files linked into a temp folder next to an edited config.json, or
// with rewritten weights.
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';
import { serializeSafetensors } from '../../src/io/safetensors.ts';

export const GPT2 = 'assets/gpt2-shakespeare';

export const readConfig = (folder: string) =>
  JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;

/** A folder holding `folder`'s files as links, with config.json replaced by the edited one. */
export function withConfig(folder: string, patch: Record<string, unknown>, skip: string[] = []): string {
  const out = mkdtempSync(join(tmpdir(), 'load-checks-'));
  for (const name of ['model.safetensors', 'vocab.json', 'merges.txt', 'tokenizer.model']) {
    if (!skip.includes(name)) {
      try {
        symlinkSync(resolve(folder, name), join(out, name));
      } catch {
        // not every folder has every file
      }
    }
  }
  writeFileSync(join(out, 'config.json'), JSON.stringify({ ...readConfig(folder), ...patch }));
  return out;
}

/** assets/gpt2-shakespeare with vocab_size V and wte cut to its first V rows, so weights and config agree. */
export async function smallerVocabulary(V: number): Promise<string> {
  const source = await readSafetensorsPath(join(GPT2, 'model.safetensors'));
  const tensors = [];
  for (const [name, info] of source.tensors) {
    const data = await source.getF32(name);
    const cut = name === 'transformer.wte.weight';
    const shape = cut ? [V, info.shape[1]] : info.shape;
    tensors.push({ name, dtype: 'F32' as const, shape, data: cut ? data.slice(0, V * info.shape[1]) : data });
  }
  const dir = withConfig(GPT2, { vocab_size: V }, ['model.safetensors']);
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(tensors));
  return dir;
}
