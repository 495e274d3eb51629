// saveFineTuned (webgpu-sft/node's saveCheckpoint): fineTune's result as a checkpoint folder, written as one unit (checkpoint.ts): model.safetensors with
// Hugging Face names, config.json, the tokenizer files of the folder the model came from and training_args.json.
import type { Module } from '../nn/module.ts';
import { saveCheckpoint } from './checkpoint-node.ts';
import { prepareOutFolder } from './checkpoint-folder-node.ts';

export interface SaveOptions {
  /** What was trained: fineTune's `module`. */
  module: Module;
  /** fineTune's `config`. */
  config: Record<string, unknown>;
  /** The folder the model was loaded from: its tokenizer files are copied. */
  sourceFolder: string;
  /** Saved as training_args.json (fineTune's `settings`). */
  settings?: object;
  /** Replace a checkpoint already in `folder` (otherwise a non-empty folder is refused). */
  overwrite?: boolean;
}

export async function saveFineTuned(folder: string, o: SaveOptions): Promise<void> {
  await prepareOutFolder(folder, {
    resume: false,
    overwrite: o.overwrite ?? false,
    flag: 'saveCheckpoint: folder',
  });
  await saveCheckpoint(folder, {
    model: o.module,
    config: o.config,
    sourceFolder: o.sourceFolder,
    trainingArgs: { ...o.settings, model: o.sourceFolder, engine: 'webgpu-sft' },
  });
}
