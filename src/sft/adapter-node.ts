// LoRA adapter folders in peft's layout on disk: read one onto a loaded model (`--adapter` for generate, eval and
// train), and merge one into its base model as a plain Hugging Face folder (`webgpu-sft merge`, on the CPU).
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { WeightsError } from '../util/errors.ts';
import { withDtype } from './config-dtype.ts';
import { TOKENIZER_FILES } from './checkpoint-node.ts';
import { folderFiles } from '../io/named-files-node.ts';
import { readJsonObject } from '../io/named-files.ts';
import { serializeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { readSafetensorsPath, writeFileAtomic } from '../io/safetensors-node.ts';
import type { LanguageModel } from '../models/language-model.ts';
import type { Linear } from '../nn/layers.ts';
import {
  adapterHasHead,
  attachLora,
  loadAdapterTensors,
  loraScale,
  mergedWeight,
  parseAdapterConfig,
  peftKey,
  peftTensors,
  type LoraSettings,
} from './lora.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

export async function readAdapterConfig(
  folder: string,
): Promise<{ settings: LoraSettings; head: boolean; raw: Record<string, unknown> }> {
  const files = await folderFiles(folder, 'adapter');
  if (!files.has(ADAPTER_CONFIG))
    throw new WeightsError(`${folder}: ${ADAPTER_CONFIG}, expected a peft LoRA adapter folder, got none`);
  const raw = await readJsonObject(files, ADAPTER_CONFIG);
  const file = join(folder, ADAPTER_CONFIG);
  return { settings: parseAdapterConfig(raw, file), head: adapterHasHead(raw, file), raw };
}

/** Every tensor of adapter_model.safetensors as f32, by name. */
export async function readAdapterWeights(folder: string): Promise<Map<string, Float32Array>> {
  const path = join(folder, ADAPTER_WEIGHTS);
  if (!existsSync(path))
    throw new WeightsError(`${folder}: ${ADAPTER_WEIGHTS}, expected the adapter's weights, got none`);
  const file = await readSafetensorsPath(path);
  const out = new Map<string, Float32Array>();
  for (const name of file.tensors.keys()) out.set(name, await file.getF32(name));
  return peftTensors(out);
}

/**
 * Attach the adapter of `folder` to `model` (its settings from adapter_config.json) and load its weights; a
 * classifier's adapter loads its `score` head into `head`.
 */
export async function loadAdapter(
  model: LanguageModel,
  folder: string,
  head: Linear | null = null,
): Promise<LoraSettings> {
  const { settings } = await readAdapterConfig(folder);
  attachLora(model, settings, 0, join(folder, ADAPTER_CONFIG));
  loadAdapterTensors(model, await readAdapterWeights(folder), join(folder, ADAPTER_WEIGHTS), head);
  return settings;
}

const MODEL_FILES = ['config.json', ...TOKENIZER_FILES];

/**
 * A full model folder from a base and an adapter: every base tensor, each adapted weight W + scale·B·A (transposed
 * for GPT-2's Conv1D), config and tokenizer files copied. No GPU: the base is read and written tensor by tensor.
 */
export async function mergeAdapter(
  base: string,
  adapter: string,
  out: string,
  kind: LanguageModel['kind'],
): Promise<number> {
  const { settings } = await readAdapterConfig(adapter);
  const weights = await readAdapterWeights(adapter);
  const fanInFanOut = kind === 'gpt2';
  const scale = loraScale(settings);
  const file = await readSafetensorsPath(join(base, 'model.safetensors'));
  const tensors: TensorToWrite[] = [];
  let merged = 0;
  for (const [name, info] of file.tensors) {
    let data = await file.getF32(name);
    const module = name.replace(/\.weight$/, '');
    const A = weights.get(peftKey(`${module}.lora_A.weight`));
    const B = weights.get(peftKey(`${module}.lora_B.weight`));
    if (A && B && name.endsWith('.weight') && info.shape.length === 2) {
      const [d0, d1] = info.shape;
      const [inFeatures, outFeatures] = fanInFanOut ? [d0, d1] : [d1, d0];
      const r = A.length / inFeatures;
      if (!Number.isInteger(r) || r !== settings.r || B.length !== outFeatures * r)
        throw new WeightsError(
          `${join(adapter, ADAPTER_WEIGHTS)}: '${module}' factors, expected A (${settings.r}, ${inFeatures}) and B (${outFeatures}, ${settings.r}), got ${A.length} and ${B.length} values`,
        );
      data = mergedWeight(data, A, B, { r, inFeatures, outFeatures, scale, fanInFanOut });
      merged++;
    }
    tensors.push({ name, dtype: 'F32', shape: [...info.shape], data });
  }
  if (merged * 2 !== weights.size)
    throw new WeightsError(
      `${join(adapter, ADAPTER_WEIGHTS)}: tensors, expected each pair to adapt a weight of ${base}, got ${weights.size / 2 - merged} pair(s) without one`,
    );
  await mkdir(out, { recursive: true });
  await writeFileAtomic(join(out, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
  for (const name of MODEL_FILES) {
    // The adapter's own tokenizer_config.json (an engine checkpoint's: the chat template trained with, a pad token).
    const from = name === 'tokenizer_config.json' && existsSync(join(adapter, name)) ? adapter : base;
    if (!existsSync(join(from, name))) continue;
    if (name === 'config.json') {
      const config = JSON.parse(await readFile(join(from, name), 'utf8')) as Record<string, unknown>;
      await writeFileAtomic(join(out, name), JSON.stringify(withDtype(config, tensors), null, 2) + '\n'); // float32 now
    } else await copyFile(join(from, name), join(out, name));
  }
  return merged;
}
