// fineTune: one call from a loaded model, its tokenizer and rows (plain objects or JSONL text) to a trained model and
// its metrics, the same in Node, a browser page and a Worker. Every setting has the CLI's default (defaults.ts); the
// job (job.ts) and the Trainer do the work, as in the CLI's runSft minus files and samples.
import { InputError } from '../util/errors.ts';
import type { LanguageModel } from '../models/language-model.ts';
import type { Module } from '../nn/module.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { parseJsonl, parseRows, type DataRow } from './jsonl.ts';
import { defaultsFor, SFT_DEFAULTS, type SftDefaults } from './defaults.ts';
import { buildJob } from './job.ts';
import { Trainer, type Metrics, type TrainEvent } from './trainer.ts';
import { exportAdapter, LORA_DEFAULTS, type LoraSettings } from './lora.ts';
import { WEIGHT_DTYPES } from '../nn/weight-dtype.ts';
import { metaLimitsOf } from '../gpu/meta-device.ts';
import { describePlan, planMemory } from './memory-plan.ts';

/** Rows as plain objects ({prompt, completion}, {messages}, {text} or {text, label}) or as JSONL text. */
export type Rows = string | readonly object[];

/** What fineTune's options may set; the CLI-only ones (held-out ratios, the sample reply) are left out. */
export type FineTuneSettings = Omit<SftDefaults, 'valRatio' | 'testRatio' | 'sampleTokens'> & {
  /** A regular expression: only parameters whose name matches train (full and freeze). */
  trainable?: string;
  /** strategy lora: the adapters' settings (LORA_DEFAULTS, peft's, for those not given). */
  lora?: LoraSettings;
};

export interface FineTuneOptions extends Partial<Omit<FineTuneSettings, 'lora'>> {
  /** strategy lora: the adapters' settings, each defaulting to LORA_DEFAULTS (peft's). */
  lora?: Partial<LoraSettings>;
  model: LanguageModel;
  tokenizer: Tokenizer;
  train: Rows;
  val?: Rows;
  test?: Rows;
  /** Every TrainEvent as it happens: a step's loss, an evaluation, the end. */
  onEvent?(event: TrainEvent): void;
  /** Aborting ends the run after the current step (the result then says reason 'stopped'). */
  signal?: AbortSignal;
  /** Notes on the run (chat rows with the fallback template, truncated examples), one line each. */
  onInfo?(message: string): void;
}

export interface FineTuneResult {
  /** What was trained, on the GPU: the model itself, or (strategy head) a classifier over it (dispose it). */
  module: Module;
  /** config.json of what was trained (a head adds its labels). */
  config: Record<string, unknown>;
  /** The settings the run used, defaults filled in. */
  settings: FineTuneSettings;
  steps: number;
  reason: 'epochs' | 'max-steps' | 'early-stop' | 'stopped' | 'nonfinite';
  /** Validation metrics before and after training, test metrics after; null without those rows. */
  before: Metrics | null;
  after: Metrics | null;
  test: Metrics | null;
  /**
   * strategy lora: the adapter in peft's layout, to save as adapter_config.json and adapter_model.safetensors
   * (serializeSafetensors); `module` keeps the adapters attached, for generation.
   */
  adapter?: {
    config: Record<string, unknown>;
    tensors: { name: string; shape: number[]; data: Float32Array }[];
  };
  /** Language-model strategies: the chat template chat rows were rendered with (a saved model's chat_template). */
  chatTemplate?: string;
}

const REQUIRED = ['model', 'tokenizer', 'train'] as const;
const HOOKS = ['val', 'test', 'onEvent', 'onInfo', 'signal', 'trainable', 'lora'];
const CHOICES: Partial<Record<keyof FineTuneSettings, readonly string[]>> = {
  strategy: ['full', 'freeze', 'head', 'lora'],
  lrSchedule: ['constant', 'linear', 'cosine'],
  dtype: WEIGHT_DTYPES,
};
const COUNTS = ['epochs', 'batchSize', 'gradAccum', 'maxLength'];
const SETTINGS = Object.keys(SFT_DEFAULTS).filter(
  (k) => !['valRatio', 'testRatio', 'sampleTokens'].includes(k),
);

/** The numeric settings' ranges, as the CLI's flags check them. */
const count = (n: number) => Number.isSafeInteger(n) && n >= 0;
const RANGES: Record<string, { ok: (n: number) => boolean; expected: string }> = {
  maxSteps: { ok: count, expected: 'an integer ≥ 0' },
  warmupSteps: { ok: count, expected: 'an integer ≥ 0' },
  evalEvery: { ok: count, expected: 'an integer ≥ 0' },
  patience: { ok: count, expected: 'an integer ≥ 0' },
  freezeLayers: { ok: count, expected: 'an integer ≥ 0' },
  seed: { ok: (n) => count(n) && n < 2 ** 32, expected: 'an integer in [0, 2^32)' },
  weightDecay: { ok: (n) => n >= 0 && Number.isFinite(n), expected: 'a number ≥ 0' },
  clipGradNorm: { ok: (n) => n >= 0 && Number.isFinite(n), expected: 'a number ≥ 0' },
  eps: { ok: (n) => n > 0 && Number.isFinite(n), expected: 'a number > 0' },
  beta1: { ok: (n) => n >= 0 && n < 1, expected: 'a number in [0, 1)' },
  beta2: { ok: (n) => n >= 0 && n < 1, expected: 'a number in [0, 1)' },
  dropout: { ok: (n) => n >= 0 && n < 1, expected: 'null or a number in [0, 1)' },
};

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return typeof value === 'function' ? 'a function' : String(value);
}

/** The options checked as a plain-JS caller may pass them: names, required fields, types, choices. */
function checkOptions(options: Record<string, unknown>): FineTuneSettings {
  if (typeof options !== 'object' || options === null)
    throw new InputError(`fineTune: options, expected an object, got ${show(options)}`);
  const known = [...REQUIRED, ...HOOKS, ...SETTINGS];
  for (const key of Object.keys(options)) {
    if (!known.includes(key))
      throw new InputError(`fineTune: unknown option '${key}', expected one of ${known.join(', ')}`);
  }
  for (const key of REQUIRED) {
    if (options[key] === undefined || options[key] === null)
      throw new InputError(
        `fineTune: option '${key}', expected ${key === 'train' ? 'rows' : `a loaded ${key}`}, got ${show(options[key])}`,
      );
  }
  const has = (value: unknown, method: string) =>
    typeof (value as Record<string, unknown>)[method] === 'function';
  if (!has(options.model, 'forward') || !has(options.model, 'parameters'))
    throw new InputError(
      `fineTune: option 'model', expected a loaded model (loadModelFromFiles, loadModel), got ${show(options.model)}`,
    );
  if (!has(options.tokenizer, 'encode') || !has(options.tokenizer, 'decode'))
    throw new InputError(
      `fineTune: option 'tokenizer', expected a loaded tokenizer, got ${show(options.tokenizer)}`,
    );
  const strategy = (options.strategy ?? SFT_DEFAULTS.strategy) as FineTuneSettings['strategy'];
  const defaults = defaultsFor(strategy) as unknown as Record<string, unknown>;
  const settings: Record<string, unknown> = {};
  for (const key of SETTINGS) {
    const value = options[key] ?? defaults[key];
    const expected = key === 'dropout' ? 'number' : typeof defaults[key];
    if (value !== null && typeof value !== expected)
      throw new InputError(`fineTune: option '${key}', expected a ${expected}, got ${show(value)}`);
    const choices = CHOICES[key as keyof FineTuneSettings];
    if (choices && !choices.includes(value as string))
      throw new InputError(
        `fineTune: option '${key}', expected one of ${choices.join(', ')}, got ${show(value)}`,
      );
    if (COUNTS.includes(key) && !(Number.isInteger(value) && (value as number) >= 1))
      throw new InputError(`fineTune: option '${key}', expected a positive integer, got ${show(value)}`);
    if (key === 'lr' && !((value as number) > 0))
      throw new InputError(`fineTune: option 'lr', expected a number above 0, got ${show(value)}`);
    const range = RANGES[key];
    if (range && value !== null && !range.ok(value as number))
      throw new InputError(`fineTune: option '${key}', expected ${range.expected}, got ${show(value)}`);
    settings[key] = value;
  }
  if (options.trainable !== undefined) settings.trainable = options.trainable;
  if (options.lora !== undefined) settings.lora = checkLora(options.lora);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
    throw new InputError(`fineTune: option 'signal', expected an AbortSignal, got ${show(options.signal)}`);
  return settings as FineTuneSettings;
}

/** The lora option: known fields of the right types, in range; the rest from LORA_DEFAULTS. */
function checkLora(value: unknown): LoraSettings {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError(`fineTune: option 'lora', expected an object of LoRA settings, got ${show(value)}`);
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o))
    if (!Object.hasOwn(LORA_DEFAULTS, key))
      throw new InputError(
        `fineTune: unknown option 'lora.${key}', expected one of ${Object.keys(LORA_DEFAULTS).join(', ')}`,
      );
  const s = { ...LORA_DEFAULTS, ...o } as LoraSettings;
  const fail = (key: string, expected: string) =>
    new InputError(`fineTune: option 'lora.${key}', expected ${expected}, got ${show(o[key])}`);
  if (!(Number.isInteger(s.r) && s.r >= 1 && s.r <= 4096)) throw fail('r', 'an integer in [1, 4096]');
  if (!(typeof s.alpha === 'number' && s.alpha > 0)) throw fail('alpha', 'a number above 0');
  if (!(typeof s.dropout === 'number' && s.dropout >= 0 && s.dropout < 1))
    throw fail('dropout', 'a number in [0, 1)');
  if (!(Array.isArray(s.targets) && s.targets.every((t) => typeof t === 'string')))
    throw fail('targets', 'an array of layer names');
  if (typeof s.rslora !== 'boolean') throw fail('rslora', 'true or false');
  if (!(
    s.layers === null ||
    (Array.isArray(s.layers) && s.layers.every((l) => Number.isInteger(l) && l >= 0))
  ))
    throw fail('layers', 'null or an array of block indices');
  return s;
}

function rows(name: string, value: Rows | undefined): DataRow[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? parseJsonl(value, name).rows : parseRows(value, name).rows;
}

/**
 * Fine-tunes `model` in place on `train` rows and returns the metrics and what was trained. The GPU is the
 * model's; evaluation runs on `val` before and after and on `test` at the end.
 */
export async function fineTune(options: FineTuneOptions): Promise<FineTuneResult> {
  const settings = checkOptions(options as unknown as Record<string, unknown>);
  const { model, tokenizer, signal, onEvent } = options;
  const data = {
    train: rows('train', options.train),
    val: rows('val', options.val),
    test: rows('test', options.test),
  };
  // A causal LM step planned first (as the CLI does): a batch past this GPU's binding or buffer limit runs in passes
  // of fewer rows, and a step too large even for one row is refused before training.
  let passes: { rowsPerPass: number; passLength: number } | undefined;
  if (settings.strategy !== 'head' && data.train[0]?.format !== 'text-label') {
    const { strategy } = settings;
    // dtype auto keeps the model's matrices as they were loaded: plan with what it holds, not config.json's dtype.
    const half = model.parameters().find((p) => p.dtype !== 'f32')?.dtype;
    const fileDtype = half === 'bf16' ? 'BF16' : half === 'f16' ? 'F16' : 'F32';
    const plan = await planMemory(
      { model_type: model.kind, ...model.rawConfig },
      'fineTune: the model config',
      { ...settings, strategy, fileDtype },
      metaLimitsOf(model.gpu),
    );
    options.onInfo?.(describePlan(plan));
    passes = { rowsPerPass: plan.rowsPerPass, passLength: plan.length };
  }
  const job = await buildJob(
    model,
    tokenizer,
    data,
    { ...settings, sampleTokens: 0, ...passes },
    { name: (setting) => `fineTune: option '${setting}'`, data: 'train', info: (m) => options.onInfo?.(m) },
  );
  const perEpoch = job.trainBatches(0).length;
  if (Math.floor(perEpoch / settings.gradAccum) === 0) {
    job.dispose();
    throw new InputError(
      `fineTune: optimizer steps, expected at least one, got 0 (${perEpoch} batches of batchSize ${settings.batchSize} per epoch, gradAccum ${settings.gradAccum})`,
      'give more train rows or lower gradAccum',
    );
  }
  const trainer = new Trainer(model.gpu, job.module, job.task, { ...settings, restoreBest: job.restoreBest });
  let finished = false;
  try {
    const before = job.val.length ? await trainer.evaluate(job.val) : null;
    const done = await trainer.train({
      trainBatches: job.trainBatches,
      valBatches: job.val,
      onEvent,
      shouldStop: () => signal?.aborted ?? false,
    });
    const completed = done.reason !== 'stopped' && done.reason !== 'nonfinite';
    const after = completed && job.val.length ? await trainer.evaluate(job.val) : null;
    const test = completed && job.test.length ? await trainer.evaluate(job.test) : null;
    const base = String(model.rawConfig._name_or_path ?? 'base model');
    const adapter = job.adapter && (await exportAdapter(model, job.adapter, base));
    finished = true;
    return {
      ...(adapter ? { adapter } : {}),
      ...(job.chat ? { chatTemplate: job.chat.source } : {}),
      module: job.module,
      config: job.config,
      settings,
      steps: done.step,
      reason: done.reason,
      before,
      after,
      test,
    };
  } finally {
    trainer.dispose();
    // The head is the caller's to dispose; LoRA adapters stay on the model the caller fine-tuned (detachLora
    // removes them), unless the run failed.
    if (settings.strategy !== 'head' && (settings.strategy !== 'lora' || !finished)) job.dispose();
  }
}
