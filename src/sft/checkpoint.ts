// Checkpoint folders a user can load back here and in Hugging Face transformers: model.safetensors (HF names),
// config.json, tokenizer files, training_args.json, plus optimizer.safetensors and trainer_state.json for --resume,
// best.safetensors (the trainable tensors of the best validation loss, with early stopping or a kept best head) and,
// when model.safetensors holds restored best weights, resume.safetensors (the trainable tensors a resume goes on from).
// Every file is written to a temporary name and renamed, so an interrupted write never leaves a torn file.
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../gpu/errors.ts';
import { serializeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { readSafetensorsPath, writeFileAtomic } from '../io/safetensors-node.ts';
import type { Module } from '../nn/module.ts';
import type { AdamWState } from '../optim/adamw.ts';
import type { TrainerState } from './trainer.ts';
import { loadTokenizer } from '../tokenizers/load-node.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { tokenizerConfigFor } from './tokenizer-config.ts';

const TOKENIZER_FILES = [
  'vocab.json',
  'merges.txt',
  'tokenizer.json',
  'tokenizer.model',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
];

export interface CheckpointContent {
  model: Module;
  config: Record<string, unknown>;
  sourceFolder: string;
  /** The tokenizer of sourceFolder, if already loaded; read from it otherwise. */
  tokenizer?: Tokenizer;
  trainingArgs: Record<string, unknown>;
  optimizer?: AdamWState;
  trainerState?: TrainerState;
  /** The best trainable tensors, when they changed since the last checkpoint (best.safetensors). */
  best?: Map<string, Float32Array> | null;
  /** The trainable tensors at trainerState.step when the model holds restored best weights (resume.safetensors). */
  resumeWeights?: Map<string, Float32Array> | null;
}

const BEST_FILE = 'best.safetensors';
const RESUME_FILE = 'resume.safetensors';

function weightsFile(weights: Map<string, Float32Array>): Uint8Array {
  return serializeSafetensors(
    [...weights].map(([name, data]) => ({ name, dtype: 'F32' as const, shape: [data.length], data })),
  );
}

export async function saveCheckpoint(folder: string, c: CheckpointContent): Promise<void> {
  await mkdir(folder, { recursive: true });
  await writeFileAtomic(
    join(folder, 'model.safetensors'),
    serializeSafetensors(await c.model.exportTensors()),
  );
  await writeFileAtomic(join(folder, 'config.json'), JSON.stringify(c.config, null, 2) + '\n');
  for (const name of TOKENIZER_FILES) {
    const src = join(c.sourceFolder, name);
    if (existsSync(src) && src !== join(folder, name)) await copyFile(src, join(folder, name));
  }
  const has = (name: string) => existsSync(join(c.sourceFolder, name));
  if (!has('tokenizer_config.json') && ['vocab.json', 'tokenizer.json', 'tokenizer.model'].some(has)) {
    const tokenizer = c.tokenizer ?? (await loadTokenizer(c.sourceFolder));
    const tokenizerConfig = tokenizerConfigFor(c.config, tokenizer, join(folder, 'config.json'));
    await writeFileAtomic(
      join(folder, 'tokenizer_config.json'),
      JSON.stringify(tokenizerConfig, null, 2) + '\n',
    );
  }
  await writeFileAtomic(join(folder, 'training_args.json'), JSON.stringify(c.trainingArgs, null, 2) + '\n');
  if (c.optimizer) {
    const tensors: TensorToWrite[] = [];
    for (const [name, m] of Object.entries(c.optimizer.m)) {
      tensors.push({ name: `${name}.exp_avg`, dtype: 'F32', shape: [m.length], data: m });
      tensors.push({
        name: `${name}.exp_avg_sq`,
        dtype: 'F32',
        shape: [m.length],
        data: c.optimizer.v[name],
      });
    }
    await writeFileAtomic(
      join(folder, 'optimizer.safetensors'),
      serializeSafetensors(tensors, { step: String(c.optimizer.step) }),
    );
  }
  if (c.best) await writeFileAtomic(join(folder, BEST_FILE), weightsFile(c.best));
  if (c.resumeWeights) await writeFileAtomic(join(folder, RESUME_FILE), weightsFile(c.resumeWeights));
  else if (c.trainerState) await rm(join(folder, RESUME_FILE), { force: true }); // model.safetensors is current
  if (c.trainerState)
    await writeFileAtomic(join(folder, 'trainer_state.json'), JSON.stringify(c.trainerState, null, 2) + '\n');
}

async function readWeights(path: string): Promise<Map<string, Float32Array> | undefined> {
  if (!existsSync(path)) return undefined;
  const file = await readSafetensorsPath(path);
  const out = new Map<string, Float32Array>();
  for (const name of file.tensors.keys()) out.set(name, await file.getF32(name));
  return out;
}

/** The optimizer and trainer state of a checkpoint folder, for --resume. */
export async function loadResumeState(folder: string): Promise<{
  optimizer: AdamWState;
  trainerState: TrainerState;
  /** The best trainable tensors so far, if the run kept them. */
  best?: Map<string, Float32Array>;
  /** The trainable tensors to go on from, where model.safetensors holds restored best weights instead. */
  current?: Map<string, Float32Array>;
}> {
  const optPath = join(folder, 'optimizer.safetensors');
  const statePath = join(folder, 'trainer_state.json');
  if (!existsSync(optPath) || !existsSync(statePath)) {
    throw new InputError(
      `${folder}: resume, expected optimizer.safetensors and trainer_state.json from an earlier run, got ${existsSync(optPath) ? 'no trainer_state.json' : 'no optimizer.safetensors'}`,
    );
  }
  const file = await readSafetensorsPath(optPath);
  const optimizer: AdamWState = { step: Number(file.metadata.step ?? 0), m: {}, v: {} };
  for (const key of file.tensors.keys()) {
    const m = /^(.*)\.(exp_avg|exp_avg_sq)$/.exec(key);
    if (!m) continue;
    (m[2] === 'exp_avg' ? optimizer.m : optimizer.v)[m[1]] = await file.getF32(key);
  }
  const trainerState = JSON.parse(await readFile(statePath, 'utf8')) as TrainerState;
  const [best, current] = [
    await readWeights(join(folder, BEST_FILE)),
    await readWeights(join(folder, RESUME_FILE)),
  ];
  return { optimizer, trainerState, best, current };
}
