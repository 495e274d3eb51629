// The one table of fine-tuning defaults: the CLI's flag defaults, fineTune's options, the demo page and the tests all
// read it, so a default changes in one place.
import type { Strategy } from './finetune-modes.ts';
import type { TrainerOptions } from './trainer.ts';
import type { WeightDtype } from '../nn/weight-dtype.ts';

/** Every trainer option (trainer.ts) but restoreBest, which the job decides, plus the job's and the CLI's settings. */
export interface SftDefaults extends Omit<TrainerOptions, 'restoreBest'> {
  strategy: Strategy;
  /** freeze: embeddings + the first N blocks. */
  freezeLayers: number;
  /** Head only: how each text is shown to the model, `{text}` standing for it. */
  template: string;
  batchSize: number;
  /** Dropout probability set on the model; null keeps the config's. */
  dropout: number | null;
  maxLength: number;
  packing: boolean;
  /** Keep only each block's input and recompute the block during the backward (less memory, ~1.3× the compute). */
  gradientCheckpointing: boolean;
  shuffle: boolean;
  /** Held-out fractions of the training rows when no validation or test rows are given (CLI, page). */
  valRatio: number;
  testRatio: number;
  /** Tokens of the sample reply before and after (CLI, page). */
  sampleTokens: number;
  /** How frozen weight matrices are stored: auto keeps the file's dtype (F16/BF16 stay 16-bit); trained ones are f32. */
  dtype: WeightDtype;
}

export const SFT_DEFAULTS: Readonly<SftDefaults> = Object.freeze({
  strategy: 'full',
  freezeLayers: 0,
  template: '{text}',
  epochs: 1,
  maxSteps: 0,
  batchSize: 8,
  gradAccum: 1,
  lr: 3e-4,
  lrSchedule: 'cosine',
  warmupSteps: 0,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  clipGradNorm: 1,
  dropout: null,
  maxLength: 1024,
  packing: false,
  gradientCheckpointing: false,
  seed: 0,
  shuffle: true,
  evalEvery: 0,
  patience: 0,
  valRatio: 0.1,
  testRatio: 0.1,
  sampleTokens: 40,
  dtype: 'auto',
});

/**
 * The head strategy trains a small head on features computed once (the backbone is frozen), so an epoch costs a few
 * small kernels: full-batch steps for many epochs at a higher constant rate are the sensible start (measured on the
 * speakers data). They replace the defaults above for the settings a caller leaves out.
 */
export const HEAD_DEFAULTS: Readonly<Partial<SftDefaults>> = Object.freeze({
  epochs: 100,
  batchSize: 512,
  lr: 3e-2,
  lrSchedule: 'constant',
});

/** The defaults for a strategy: SFT_DEFAULTS, with HEAD_DEFAULTS over them for the head. */
export function defaultsFor(strategy: Strategy): SftDefaults {
  return { ...SFT_DEFAULTS, ...(strategy === 'head' ? HEAD_DEFAULTS : {}), strategy };
}
