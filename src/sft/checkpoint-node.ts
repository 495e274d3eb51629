// Checkpoint folders a user can load back here and in Hugging Face transformers: model.safetensors (HF names),
// config.json, tokenizer files, training_args.json, metrics.jsonl, plus optimizer.safetensors and trainer_state.json
// for --resume, best.safetensors (the trainable tensors of the best validation loss, with early stopping or a kept
// best head) and, when model.safetensors holds restored best weights, resume.safetensors (what a resume goes on from).
// A checkpoint is one unit: every file is written into a fresh folder beside the target, checkpoint.json (step, sizes,
// SHA-256) last, and the folder is switched in by two renames. A kill at any point leaves the old checkpoint or the
// new one, which checkpoint-folder-node.ts recovers and --resume verifies.
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../util/errors.ts';
import { serializeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { readSafetensorsPath } from '../io/safetensors-node.ts';
import type { Module } from '../nn/module.ts';
import type { AdamWState } from '../optim/adamw.ts';
import type { TrainerState } from './trainer.ts';
import { loadTokenizer } from '../tokenizers/load-node.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { checkpointTokenizerConfig } from './tokenizer-config.ts';
import { chatTemplateFor } from './chat-template.ts';
import { withDtype } from './config-dtype.ts';
import {
  copySynced,
  MANIFEST,
  siblingPath,
  syncFolder,
  verifyCheckpoint,
  writeManifest,
  writeSynced,
  type FileDigest,
} from './checkpoint-folder-node.ts';

/** The files beside the weights a model folder carries over: tokenizer and generation settings. */
export const TOKENIZER_FILES = [
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
  /** The chat template trained with (the job's); by default the tokenizer's own, else the fallback. */
  chatTemplate?: string;
  trainingArgs: Record<string, unknown>;
  optimizer?: AdamWState;
  trainerState?: TrainerState;
  /** The best trainable tensors, when they changed since the last checkpoint (best.safetensors). */
  best?: Map<string, Float32Array> | null;
  /** The trainable tensors at trainerState.step when the model holds restored best weights (resume.safetensors). */
  resumeWeights?: Map<string, Float32Array> | null;
  /**
   * LoRA: the checkpoint is the adapter in peft's layout (adapter_config.json, adapter_model.safetensors), not the
   * frozen base (no model.safetensors; config.json only for a classifier's, with its labels).
   */
  adapter?: {
    config: Record<string, unknown>;
    tensors: { name: string; shape: number[]; data: Float32Array }[];
  };
  /** Lines for metrics.jsonl since the previous checkpoint (appended to that one's). */
  metricsLines?: readonly string[];
  /**
   * The checkpoint already in the folder belongs to this run: its best.safetensors and metrics.jsonl carry over and
   * its tokenizer files are linked instead of copied again. False for a run's first checkpoint (a folder being
   * replaced with --overwrite holds another run's).
   */
  continues?: boolean;
}

const BEST_FILE = 'best.safetensors';
const RESUME_FILE = 'resume.safetensors';
const METRICS_FILE = 'metrics.jsonl';

function weightsFile(weights: Map<string, Float32Array>): Uint8Array {
  return serializeSafetensors(
    [...weights].map(([name, data]) => ({ name, dtype: 'F32' as const, shape: [data.length], data })),
  );
}

function optimizerFile(optimizer: AdamWState): Uint8Array {
  const tensors: TensorToWrite[] = [];
  for (const [name, m] of Object.entries(optimizer.m)) {
    tensors.push({ name: `${name}.exp_avg`, dtype: 'F32', shape: [m.length], data: m });
    tensors.push({ name: `${name}.exp_avg_sq`, dtype: 'F32', shape: [m.length], data: optimizer.v[name] });
  }
  return serializeSafetensors(tensors, { step: String(optimizer.step) });
}

const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';

async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new InputError(`${path}: expected JSON, got text that does not parse`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError(
      `${path}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`,
    );
  return value as Record<string, unknown>;
}

/** Write a whole checkpoint into `folder` as one unit (see the file comment). */
export async function saveCheckpoint(folder: string, c: CheckpointContent): Promise<void> {
  const partial = siblingPath(folder, 'partial');
  await mkdir(partial, { recursive: true });
  try {
    const digests = new Map<string, FileDigest>();
    const put = async (name: string, data: Uint8Array | string) =>
      digests.set(name, await writeSynced(join(partial, name), data));
    const previous = c.continues && existsSync(join(folder, MANIFEST)) ? folder : null;

    if (c.adapter) {
      const tensors = c.adapter.tensors.map((t) => ({ ...t, dtype: 'F32' as const }));
      await put('adapter_model.safetensors', serializeSafetensors(tensors));
      await put('adapter_config.json', json(c.adapter.config));
      // A classifier's adapter: its labels (id2label) in the classifier's config.json, as the head strategy saves.
      if (c.adapter.config.task_type === 'SEQ_CLS')
        await put('config.json', json(withDtype(c.config, tensors)));
    } else {
      const tensors = await c.model.exportTensors();
      await put('model.safetensors', serializeSafetensors(tensors));
      await put('config.json', json(withDtype(c.config, tensors)));
    }
    const has = (name: string) => existsSync(join(c.sourceFolder, name));
    for (const name of TOKENIZER_FILES) {
      if (!has(name) || name === 'tokenizer_config.json') continue;
      const linked = previous !== null && existsSync(join(previous, name)); // copied once, then linked
      const from = join(linked ? previous : c.sourceFolder, name);
      digests.set(name, await copySynced(from, join(partial, name), { link: linked }));
    }
    if (['vocab.json', 'tokenizer.json', 'tokenizer.model'].some(has)) {
      const tokenizer = c.tokenizer ?? (await loadTokenizer(c.sourceFolder));
      const source = has('tokenizer_config.json')
        ? await readJsonFile(join(c.sourceFolder, 'tokenizer_config.json'))
        : undefined;
      const template = c.chatTemplate ?? chatTemplateFor(tokenizer).source;
      const where = join(folder, 'config.json');
      await put(
        'tokenizer_config.json',
        json(checkpointTokenizerConfig(source, c.config, tokenizer, template, where)),
      );
    }
    await put('training_args.json', json(c.trainingArgs));
    if (c.optimizer) await put('optimizer.safetensors', optimizerFile(c.optimizer));
    if (c.best) await put(BEST_FILE, weightsFile(c.best));
    else if (previous && existsSync(join(previous, BEST_FILE))) {
      digests.set(
        BEST_FILE,
        await copySynced(join(previous, BEST_FILE), join(partial, BEST_FILE), { link: true }),
      );
    }
    if (c.resumeWeights) await put(RESUME_FILE, weightsFile(c.resumeWeights));
    if (c.trainerState) await put('trainer_state.json', json(trainerStateJson(c.trainerState)));
    if (c.metricsLines) {
      // A log, not state: left out of the manifest, so lines after the last checkpoint may be appended in place.
      const before =
        previous && existsSync(join(previous, METRICS_FILE))
          ? await readFile(join(previous, METRICS_FILE), 'utf8')
          : '';
      await writeSynced(join(partial, METRICS_FILE), before + c.metricsLines.map((l) => l + '\n').join(''));
    }
    await writeManifest(partial, c.trainerState?.step ?? null, digests);
    await syncFolder(partial);
    await switchIn(folder, partial);
  } catch (e) {
    await rm(partial, { recursive: true, force: true });
    throw e;
  }
}

/** Replace `folder` by the complete `partial`: a kill between the renames leaves both beside it, for recovery. */
async function switchIn(folder: string, partial: string): Promise<void> {
  if (!existsSync(folder)) {
    await rename(partial, folder);
  } else {
    const old = siblingPath(folder, 'old');
    await rename(folder, old);
    await rename(partial, folder);
    await rm(old, { recursive: true, force: true });
  }
  await syncFolder(join(folder, '..'));
}

/** JSON has no Infinity: a best loss not yet set is written as null and read back as Infinity. */
function trainerStateJson(state: TrainerState): Record<string, unknown> {
  return { ...state, bestLoss: Number.isFinite(state.bestLoss) ? state.bestLoss : null };
}

const STATE_COUNTS = [
  'step',
  'epoch',
  'batchInEpoch',
  'randomOffset',
  'bestStep',
  'evalsWithoutBetter',
] as const;

export function parseTrainerState(text: string, file: string): TrainerState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError(`${file}: expected JSON, got text that does not parse`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new InputError(
      `${file}: expected a JSON object, got ${Array.isArray(raw) ? 'an array' : typeof raw}`,
    );
  const o = raw as Record<string, unknown>;
  const state: Record<string, number> = {};
  for (const key of STATE_COUNTS) {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw new InputError(
        `${file}: field '${key}', expected an integer ≥ 0, got ${typeof v === 'number' ? v : typeof v}`,
      );
    state[key] = v;
  }
  const best = o.bestLoss;
  if (best !== null && (typeof best !== 'number' || !(best >= 0)))
    throw new InputError(
      `${file}: field 'bestLoss', expected a number ≥ 0 or null, got ${typeof best === 'number' ? best : typeof best}`,
    );
  return { ...(state as Omit<TrainerState, 'bestLoss'>), bestLoss: best ?? Infinity };
}

async function readWeights(path: string): Promise<Map<string, Float32Array> | undefined> {
  if (!existsSync(path)) return undefined;
  const file = await readSafetensorsPath(path);
  const out = new Map<string, Float32Array>();
  for (const name of file.tensors.keys()) out.set(name, await file.getF32(name));
  return out;
}

/** The optimizer and trainer state of a checkpoint folder, for --resume, after verifying it is one checkpoint. */
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
  const manifest = await verifyCheckpoint(folder, { hash: true });
  const trainerState = parseTrainerState(await readFile(statePath, 'utf8'), statePath);
  if (manifest.step !== trainerState.step)
    throw new InputError(
      `${statePath}: step, expected ${manifest.step} as ${MANIFEST} records, got ${trainerState.step}`,
    );
  const file = await readSafetensorsPath(optPath);
  const optimizer: AdamWState = { step: Number(file.metadata.step ?? 0), m: {}, v: {} };
  if (!Number.isSafeInteger(optimizer.step) || optimizer.step < 0)
    throw new InputError(`${optPath}: metadata 'step', expected an integer ≥ 0, got a value that is not`);
  for (const key of file.tensors.keys()) {
    const m = /^(.*)\.(exp_avg|exp_avg_sq)$/.exec(key);
    if (!m) continue;
    (m[2] === 'exp_avg' ? optimizer.m : optimizer.v)[m[1]] = await file.getF32(key);
  }
  const [best, current] = [
    await readWeights(join(folder, BEST_FILE)),
    await readWeights(join(folder, RESUME_FILE)),
  ];
  return { optimizer, trainerState, best, current };
}
