// The command line's flags: each command's table (defaults from src/sft/defaults.ts), and their conversion into the
// arguments of a training run. Bad values throw a UsageError naming the flag.
import { existsSync } from 'node:fs';
import { unescapeFlag, UsageError, type FlagSpec, type Flags } from './args.ts';
import { type SftArgs } from '../sft/run-node.ts';
import { LORA_DEFAULTS, type LoraSettings } from '../sft/lora.ts';
import type { Strategy } from '../sft/finetune-modes.ts';
import { HEAD_DEFAULTS, SFT_DEFAULTS as D } from '../sft/defaults.ts';
import { WEIGHT_DTYPES, type WeightDtype } from '../nn/weight-dtype.ts';
import type { LrSchedule } from '../sft/schedule.ts';

export const DEFAULT_MODEL = 'assets/gpt2-shakespeare';

// --strategy head: its defaults (src/sft/defaults.ts) for the flags the command line leaves out.
const kebab = (field: string) => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const HEAD_FLAG_DEFAULTS = Object.entries(HEAD_DEFAULTS).map(
  ([field, value]) => [kebab(field), value as number | string] as const,
);

export const TRAIN_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'Hugging Face model folder' },
  train: { type: 'string', help: 'training JSONL (prompt/completion, messages, text, or text/label)' },
  val: { type: 'string', help: 'validation JSONL' },
  test: { type: 'string', help: 'test JSONL' },
  'val-ratio': {
    type: 'number',
    default: D.valRatio,
    min: 0,
    max: 1,
    open: 'max',
    help: 'held-out fraction of --train when no --val/--test',
  },
  'test-ratio': {
    type: 'number',
    default: D.testRatio,
    min: 0,
    max: 1,
    open: 'max',
    help: 'held-out fraction of --train when no --val/--test',
  },
  out: {
    type: 'string',
    default: 'out/sft',
    help: 'checkpoint folder (loads in transformers); must be new or empty',
  },
  overwrite: { type: 'boolean', default: false, help: 'replace the earlier checkpoint in --out' },
  strategy: {
    type: 'string',
    default: D.strategy,
    choices: ['full', 'freeze', 'head', 'lora'],
    help: `what is trained (head: ${HEAD_FLAG_DEFAULTS.map(([flag, value]) => `--${flag} ${value}`).join(' ')} unless given; lora: adapters in peft's layout)`,
  },
  'lora-r': { type: 'int', default: LORA_DEFAULTS.r, min: 1, max: 4096, help: 'lora: rank of the adapters' },
  'lora-alpha': {
    type: 'number',
    default: LORA_DEFAULTS.alpha,
    min: 0,
    open: 'min',
    help: 'lora: scale alpha / r',
  },
  'lora-dropout': {
    type: 'number',
    default: LORA_DEFAULTS.dropout,
    min: 0,
    max: 1,
    open: 'max',
    help: "lora: dropout on the adapters' input",
  },
  'lora-targets': {
    type: 'string',
    help: "lora: comma-separated layer names or all-linear (default: peft's, c_attn for GPT-2, q_proj,v_proj for Llama)",
  },
  'lora-layers': { type: 'string', help: 'lora: comma-separated block indices to adapt (default: all)' },
  'lora-rslora': { type: 'boolean', default: false, help: 'lora: scale alpha / sqrt(r) (rsLoRA)' },
  adapter: { type: 'string', help: 'lora: a peft LoRA adapter folder to go on training' },
  'freeze-layers': {
    type: 'int',
    default: D.freezeLayers,
    min: 0,
    help: 'freeze: embeddings + the first N blocks',
  },
  trainable: { type: 'string', help: 'only parameters whose name matches this regex' },
  dtype: {
    type: 'string',
    default: D.dtype,
    choices: [...WEIGHT_DTYPES],
    help: "frozen weight matrices on the GPU: auto = the file's dtype (F16/BF16 stay 16-bit), or convert; trained weights are float32",
  },
  template: {
    type: 'string',
    default: D.template,
    help: 'head: how texts are shown to the model (\\n, \\t escapes)',
  },
  epochs: { type: 'int', default: D.epochs, min: 1, help: 'passes over the training data' },
  'max-steps': {
    type: 'int',
    default: D.maxSteps,
    min: 0,
    help: 'stop after N optimizer steps (0 = all epochs)',
  },
  'batch-size': { type: 'int', default: D.batchSize, min: 1, help: 'examples per micro-batch' },
  'grad-accum': { type: 'int', default: D.gradAccum, min: 1, help: 'micro-batches per optimizer step' },
  lr: { type: 'number', default: D.lr, min: 0, open: 'min', help: 'peak learning rate' },
  'lr-schedule': {
    type: 'string',
    default: D.lrSchedule,
    choices: ['constant', 'linear', 'cosine'],
    help: 'decay after warmup',
  },
  'warmup-steps': { type: 'int', default: D.warmupSteps, min: 0, help: 'linear warmup steps' },
  'weight-decay': {
    type: 'number',
    default: D.weightDecay,
    min: 0,
    help: 'AdamW decay (matrices and embeddings only)',
  },
  beta1: { type: 'number', default: D.beta1, min: 0, max: 1, open: 'max', help: 'AdamW beta1' },
  beta2: { type: 'number', default: D.beta2, min: 0, max: 1, open: 'max', help: 'AdamW beta2' },
  eps: { type: 'number', default: D.eps, min: 0, open: 'min', help: 'AdamW epsilon' },
  'clip-grad-norm': {
    type: 'number',
    default: D.clipGradNorm,
    min: 0,
    help: 'global gradient norm clip (0 = off)',
  },
  dropout: {
    type: 'number',
    min: 0,
    max: 1,
    open: 'max',
    help: 'override every dropout probability of the config',
  },
  'max-length': {
    type: 'int',
    default: D.maxLength,
    min: 2,
    help: 'tokens per example (capped at the model context)',
  },
  packing: { type: 'boolean', default: D.packing, help: 'pack short examples into full rows' },
  'gradient-checkpointing': {
    type: 'boolean',
    default: D.gradientCheckpointing,
    help: 'keep only block inputs; recompute each block in the backward (less memory)',
  },
  seed: { type: 'int', default: D.seed, min: 0, max: 2 ** 32 - 1, help: 'shuffling, dropout and head init' },
  'no-shuffle': { type: 'boolean', default: !D.shuffle, help: 'keep file order' },
  'eval-every': {
    type: 'int',
    default: D.evalEvery,
    min: 0,
    help: 'evaluate every N steps (0 = at epoch ends)',
  },
  patience: {
    type: 'int',
    default: D.patience,
    min: 0,
    help: 'early stopping after N evaluations without improvement (0 = off)',
  },
  resume: {
    type: 'boolean',
    default: false,
    help: 'continue the run checkpointed in --out (its model, tokenizer and settings)',
  },
  'sample-tokens': {
    type: 'int',
    default: D.sampleTokens,
    min: 0,
    help: 'tokens of the sample reply before/after (0 = none)',
  },
  json: { type: 'boolean', default: false, help: 'one JSON object per event on stdout' },
};

/** Flags named on the command line (`--name value` or `--name=value`). */
export function givenFlags(argv: string[]): Set<string> {
  return new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
}

export const EVAL_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'Hugging Face model folder (or a checkpoint)' },
  data: { type: 'string', help: 'JSONL to evaluate on' },
  adapter: { type: 'string', help: 'a peft LoRA adapter folder applied to --model' },
  'max-length': { type: 'int', default: D.maxLength, min: 2, help: 'tokens per example' },
  'batch-size': { type: 'int', default: D.batchSize, min: 1, help: 'examples per batch' },
  dtype: {
    type: 'string',
    default: D.dtype,
    choices: [...WEIGHT_DTYPES],
    help: "weight matrices on the GPU: auto = the file's dtype (F16/BF16 stay 16-bit), or convert",
  },
};

export const GENERATE_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'Hugging Face model folder (or a checkpoint)' },
  adapter: { type: 'string', help: 'a peft LoRA adapter folder applied to --model' },
  prompt: { type: 'string', default: '', help: 'text to continue (empty: start from BOS/EOS)' },
  chat: {
    type: 'boolean',
    default: false,
    help: "--prompt is one user message, rendered with the model's chat template (or the Role:\\ncontent fallback) up to the assistant's reply",
  },
  'max-new-tokens': {
    type: 'int',
    default: 60,
    min: 1,
    help: 'tokens to generate (at most to the context length)',
  },
  temperature: { type: 'number', default: 0, min: 0, help: '0 = greedy' },
  'top-k': { type: 'int', default: 0, min: 0, help: 'sample among the k most likely (0 = all)' },
  'top-p': { type: 'number', default: 1, min: 0, max: 1, open: 'min', help: 'nucleus sampling mass' },
  seed: { type: 'int', default: 0, min: 0, max: 2 ** 32 - 1, help: 'sampling seed' },
  dtype: {
    type: 'string',
    default: D.dtype,
    choices: [...WEIGHT_DTYPES],
    help: "weight matrices on the GPU: auto = the file's dtype (F16/BF16 stay 16-bit), or convert",
  },
};

export function requirePath(command: string, flag: string, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    throw new UsageError(`${command}: --${flag}, expected a path, got nothing`);
  if (!existsSync(value))
    throw new UsageError(`${command}: --${flag}, expected an existing path, got '${value}'`);
  return value;
}

export const MERGE_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', help: 'the base model folder the adapter was trained on' },
  adapter: { type: 'string', help: 'a peft LoRA adapter folder' },
  out: { type: 'string', help: 'where the merged model folder goes (new or empty)' },
};

/** A comma-separated list of names (or integers). */
export function list(command: string, flag: string, value: unknown, ints = false): string[] {
  if (value === undefined) return [];
  const items = String(value)
    .split(',')
    .map((x) => x.trim());
  if (items.some((x) => x === '' || (ints && !/^\d+$/.test(x))))
    throw new UsageError(
      `${command}: --${flag}, expected comma-separated ${ints ? 'block indices' : 'names'}, got '${String(value)}'`,
    );
  return items;
}

export function loraSettings(f: Flags): LoraSettings {
  const layers = list('train', 'lora-layers', f['lora-layers'], true).map(Number);
  return {
    r: f['lora-r'] as number,
    alpha: f['lora-alpha'] as number,
    dropout: f['lora-dropout'] as number,
    rslora: f['lora-rslora'] as boolean,
    targets: list('train', 'lora-targets', f['lora-targets']),
    layers: layers.length ? layers : null,
  };
}

export function sftArgs(f: Flags): SftArgs {
  const num = (k: string) => f[k] as number;
  if (num('val-ratio') + num('test-ratio') >= 1)
    throw new UsageError(
      `train: --val-ratio + --test-ratio, expected a sum below 1 (rows left to train on), got ${num('val-ratio') + num('test-ratio')}`,
    );
  const resume = f.resume as boolean;
  return {
    model: resume ? String(f.model) : requirePath('train', 'model', f.model),
    train: requirePath('train', 'train', f.train),
    val: f.val === undefined ? undefined : requirePath('train', 'val', f.val),
    test: f.test === undefined ? undefined : requirePath('train', 'test', f.test),
    valRatio: num('val-ratio'),
    testRatio: num('test-ratio'),
    out: f.out as string,
    strategy: f.strategy as Strategy,
    freezeLayers: num('freeze-layers'),
    trainable: f.trainable as string | undefined,
    epochs: num('epochs'),
    maxSteps: num('max-steps'),
    batchSize: num('batch-size'),
    gradAccum: num('grad-accum'),
    lr: num('lr'),
    lrSchedule: f['lr-schedule'] as LrSchedule,
    warmupSteps: num('warmup-steps'),
    weightDecay: num('weight-decay'),
    beta1: num('beta1'),
    beta2: num('beta2'),
    eps: num('eps'),
    clipGradNorm: num('clip-grad-norm'),
    dropout: (f.dropout as number | undefined) ?? null,
    maxLength: num('max-length'),
    packing: f.packing as boolean,
    gradientCheckpointing: f['gradient-checkpointing'] as boolean,
    seed: num('seed'),
    shuffle: !f['no-shuffle'],
    evalEvery: num('eval-every'),
    patience: num('patience'),
    lora: f.strategy === 'lora' ? loraSettings(f) : undefined,
    adapter: f.adapter === undefined ? undefined : requirePath('train', 'adapter', f.adapter),
    resume,
    overwrite: f.overwrite as boolean,
    sampleTokens: num('sample-tokens'),
    dtype: f.dtype as WeightDtype,
    template: unescapeFlag('train', 'template', f.template as string),
  };
}
