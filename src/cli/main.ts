// webgpu-sft: train | eval | generate | selftest | bench. Bad flags and paths print one line and exit with code 2.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createDevice } from '../gpu/device.ts';
import { DeviceError, InputError, ShapeError, WeightsError } from '../util/errors.ts';
import { parseFlags, unescapeFlag, usage, UsageError, type FlagSpec, type Flags } from './args.ts';
import { reporter } from './progress.ts';
import { runSft, type SftArgs } from '../sft/run-node.ts';
import { loadModelAndTokenizerFromFolder, readConfigJson } from '../models/load-node.ts';
import { modelKind } from '../models/load-model.ts';
import { loadAdapter, mergeAdapter } from '../sft/adapter-node.ts';
import { LORA_DEFAULTS, type LoraSettings } from '../sft/lora.ts';
import { modelInput, type Tokenizer } from '../tokenizers/tokenizer.ts';
import { chatTemplateFor, FALLBACK_NOTE } from '../sft/chat-template.ts';
import { chatPromptIds } from '../sft/dataset.ts';
import { generate } from '../models/generate.ts';
import { formatSelftestRow, runSelftest, SELFTEST_HEADER } from '../check/selftest.ts';
import type { Strategy } from '../sft/finetune-modes.ts';
import { HEAD_DEFAULTS, SFT_DEFAULTS as D } from '../sft/defaults.ts';
import { WEIGHT_DTYPES, type WeightDtype } from '../nn/weight-dtype.ts';
import type { LrSchedule } from '../sft/schedule.ts';
import { fsReason, isUserFsError, MANIFEST, prepareOutFolder, recoverCheckpointFolder, verifyCheckpoint } from '../sft/checkpoint-folder-node.ts';

const DEFAULT_MODEL = 'assets/gpt2-shakespeare';

// --strategy head: its defaults (src/sft/defaults.ts) for the flags the command line leaves out.
const kebab = (field: string) => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const HEAD_FLAG_DEFAULTS = Object.entries(HEAD_DEFAULTS).map(([field, value]) => [kebab(field), value as number | string] as const);

const TRAIN_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'Hugging Face model folder' },
  train: { type: 'string', help: 'training JSONL (prompt/completion, messages, text, or text/label)' },
  val: { type: 'string', help: 'validation JSONL' },
  test: { type: 'string', help: 'test JSONL' },
  'val-ratio': { type: 'number', default: D.valRatio, min: 0, max: 1, open: 'max', help: 'held-out fraction of --train when no --val/--test' },
  'test-ratio': { type: 'number', default: D.testRatio, min: 0, max: 1, open: 'max', help: 'held-out fraction of --train when no --val/--test' },
  out: { type: 'string', default: 'out/sft', help: 'checkpoint folder (loads in transformers); must be new or empty' },
  overwrite: { type: 'boolean', default: false, help: 'replace the earlier checkpoint in --out' },
  strategy: { type: 'string', default: D.strategy, choices: ['full', 'freeze', 'head', 'lora'], help: `what is trained (head: ${HEAD_FLAG_DEFAULTS.map(([flag, value]) => `--${flag} ${value}`).join(' ')} unless given; lora: adapters in peft's layout)` },
  'lora-r': { type: 'int', default: LORA_DEFAULTS.r, min: 1, max: 4096, help: 'lora: rank of the adapters' },
  'lora-alpha': { type: 'number', default: LORA_DEFAULTS.alpha, min: 0, open: 'min', help: 'lora: scale alpha / r' },
  'lora-dropout': { type: 'number', default: LORA_DEFAULTS.dropout, min: 0, max: 1, open: 'max', help: 'lora: dropout on the adapters\' input' },
  'lora-targets': { type: 'string', help: 'lora: comma-separated layer names or all-linear (default: peft\'s, c_attn for GPT-2, q_proj,v_proj for Llama)' },
  'lora-layers': { type: 'string', help: 'lora: comma-separated block indices to adapt (default: all)' },
  'lora-rslora': { type: 'boolean', default: false, help: 'lora: scale alpha / sqrt(r) (rsLoRA)' },
  adapter: { type: 'string', help: 'lora: a peft LoRA adapter folder to go on training' },
  'freeze-layers': { type: 'int', default: D.freezeLayers, min: 0, help: 'freeze: embeddings + the first N blocks' },
  trainable: { type: 'string', help: 'only parameters whose name matches this regex' },
  dtype: { type: 'string', default: D.dtype, choices: [...WEIGHT_DTYPES], help: 'frozen weight matrices on the GPU: auto = the file\'s dtype (F16/BF16 stay 16-bit), or convert; trained weights are float32' },
  template: { type: 'string', default: D.template, help: 'head: how texts are shown to the model (\\n, \\t escapes)' },
  epochs: { type: 'int', default: D.epochs, min: 1, help: 'passes over the training data' },
  'max-steps': { type: 'int', default: D.maxSteps, min: 0, help: 'stop after N optimizer steps (0 = all epochs)' },
  'batch-size': { type: 'int', default: D.batchSize, min: 1, help: 'examples per micro-batch' },
  'grad-accum': { type: 'int', default: D.gradAccum, min: 1, help: 'micro-batches per optimizer step' },
  lr: { type: 'number', default: D.lr, min: 0, open: 'min', help: 'peak learning rate' },
  'lr-schedule': { type: 'string', default: D.lrSchedule, choices: ['constant', 'linear', 'cosine'], help: 'decay after warmup' },
  'warmup-steps': { type: 'int', default: D.warmupSteps, min: 0, help: 'linear warmup steps' },
  'weight-decay': { type: 'number', default: D.weightDecay, min: 0, help: 'AdamW decay (matrices and embeddings only)' },
  beta1: { type: 'number', default: D.beta1, min: 0, max: 1, open: 'max', help: 'AdamW beta1' },
  beta2: { type: 'number', default: D.beta2, min: 0, max: 1, open: 'max', help: 'AdamW beta2' },
  eps: { type: 'number', default: D.eps, min: 0, open: 'min', help: 'AdamW epsilon' },
  'clip-grad-norm': { type: 'number', default: D.clipGradNorm, min: 0, help: 'global gradient norm clip (0 = off)' },
  dropout: { type: 'number', min: 0, max: 1, open: 'max', help: 'override every dropout probability of the config' },
  'max-length': { type: 'int', default: D.maxLength, min: 2, help: 'tokens per example (capped at the model context)' },
  packing: { type: 'boolean', default: D.packing, help: 'pack short examples into full rows' },
  'gradient-checkpointing': { type: 'boolean', default: D.gradientCheckpointing, help: 'keep only block inputs; recompute each block in the backward (less memory)' },
  seed: { type: 'int', default: D.seed, min: 0, max: 2 ** 32 - 1, help: 'shuffling, dropout and head init' },
  'no-shuffle': { type: 'boolean', default: !D.shuffle, help: 'keep file order' },
  'eval-every': { type: 'int', default: D.evalEvery, min: 0, help: 'evaluate every N steps (0 = at epoch ends)' },
  patience: { type: 'int', default: D.patience, min: 0, help: 'early stopping after N evaluations without improvement (0 = off)' },
  resume: { type: 'boolean', default: false, help: 'continue the run checkpointed in --out (its model, tokenizer and settings)' },
  'sample-tokens': { type: 'int', default: D.sampleTokens, min: 0, help: 'tokens of the sample reply before/after (0 = none)' },
  json: { type: 'boolean', default: false, help: 'one JSON object per event on stdout' },
};

/** Flags named on the command line (`--name value` or `--name=value`). */
function givenFlags(argv: string[]): Set<string> {
  return new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
}

const EVAL_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'Hugging Face model folder (or a checkpoint)' },
  data: { type: 'string', help: 'JSONL to evaluate on' },
  adapter: { type: 'string', help: 'a peft LoRA adapter folder applied to --model' },
  'max-length': { type: 'int', default: D.maxLength, min: 2, help: 'tokens per example' },
  'batch-size': { type: 'int', default: D.batchSize, min: 1, help: 'examples per batch' },
  dtype: { type: 'string', default: D.dtype, choices: [...WEIGHT_DTYPES], help: 'weight matrices on the GPU: auto = the file\'s dtype (F16/BF16 stay 16-bit), or convert' },
};

const GENERATE_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'Hugging Face model folder (or a checkpoint)' },
  adapter: { type: 'string', help: 'a peft LoRA adapter folder applied to --model' },
  prompt: { type: 'string', default: '', help: 'text to continue (empty: start from BOS/EOS)' },
  chat: { type: 'boolean', default: false, help: "--prompt is one user message, rendered with the model's chat template (or the Role:\\ncontent fallback) up to the assistant's reply" },
  'max-new-tokens': { type: 'int', default: 60, min: 1, help: 'tokens to generate (at most to the context length)' },
  temperature: { type: 'number', default: 0, min: 0, help: '0 = greedy' },
  'top-k': { type: 'int', default: 0, min: 0, help: 'sample among the k most likely (0 = all)' },
  'top-p': { type: 'number', default: 1, min: 0, max: 1, open: 'min', help: 'nucleus sampling mass' },
  seed: { type: 'int', default: 0, min: 0, max: 2 ** 32 - 1, help: 'sampling seed' },
  dtype: { type: 'string', default: D.dtype, choices: [...WEIGHT_DTYPES], help: 'weight matrices on the GPU: auto = the file\'s dtype (F16/BF16 stay 16-bit), or convert' },
};

function requirePath(command: string, flag: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`${command}: --${flag}, expected a path, got nothing`);
  if (!existsSync(value)) throw new UsageError(`${command}: --${flag}, expected an existing path, got '${value}'`);
  return value;
}

const MERGE_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', help: 'the base model folder the adapter was trained on' },
  adapter: { type: 'string', help: 'a peft LoRA adapter folder' },
  out: { type: 'string', help: 'where the merged model folder goes (new or empty)' },
};

/** A comma-separated list of names (or integers). */
function list(command: string, flag: string, value: unknown, ints = false): string[] {
  if (value === undefined) return [];
  const items = String(value).split(',').map((x) => x.trim());
  if (items.some((x) => x === '' || (ints && !/^\d+$/.test(x))))
    throw new UsageError(`${command}: --${flag}, expected comma-separated ${ints ? 'block indices' : 'names'}, got '${String(value)}'`);
  return items;
}

function loraSettings(f: Flags): LoraSettings {
  const layers = list('train', 'lora-layers', f['lora-layers'], true).map(Number);
  return {
    r: f['lora-r'] as number, alpha: f['lora-alpha'] as number, dropout: f['lora-dropout'] as number, rslora: f['lora-rslora'] as boolean,
    targets: list('train', 'lora-targets', f['lora-targets']), layers: layers.length ? layers : null,
  };
}

function sftArgs(f: Flags): SftArgs {
  const num = (k: string) => f[k] as number;
  if (num('val-ratio') + num('test-ratio') >= 1)
    throw new UsageError(`train: --val-ratio + --test-ratio, expected a sum below 1 (rows left to train on), got ${num('val-ratio') + num('test-ratio')}`);
  const resume = f.resume as boolean;
  return {
    model: resume ? String(f.model) : requirePath('train', 'model', f.model), train: requirePath('train', 'train', f.train),
    val: f.val === undefined ? undefined : requirePath('train', 'val', f.val), test: f.test === undefined ? undefined : requirePath('train', 'test', f.test),
    valRatio: num('val-ratio'), testRatio: num('test-ratio'), out: f.out as string, strategy: f.strategy as Strategy,
    freezeLayers: num('freeze-layers'), trainable: f.trainable as string | undefined, epochs: num('epochs'), maxSteps: num('max-steps'),
    batchSize: num('batch-size'), gradAccum: num('grad-accum'), lr: num('lr'), lrSchedule: f['lr-schedule'] as LrSchedule,
    warmupSteps: num('warmup-steps'), weightDecay: num('weight-decay'), beta1: num('beta1'), beta2: num('beta2'), eps: num('eps'),
    clipGradNorm: num('clip-grad-norm'), dropout: (f.dropout as number | undefined) ?? null, maxLength: num('max-length'),
    packing: f.packing as boolean, gradientCheckpointing: f['gradient-checkpointing'] as boolean, seed: num('seed'), shuffle: !f['no-shuffle'], evalEvery: num('eval-every'), patience: num('patience'),
    lora: f.strategy === 'lora' ? loraSettings(f) : undefined, adapter: f.adapter === undefined ? undefined : requirePath('train', 'adapter', f.adapter),
    resume, overwrite: f.overwrite as boolean, sampleTokens: num('sample-tokens'), dtype: f.dtype as WeightDtype, template: unescapeFlag('train', 'template', f.template as string),
  };
}

// Flags that say how this invocation runs, not what the run is: never taken from a checkpoint.
const INVOCATION_FLAGS = new Set(['out', 'resume', 'overwrite', 'json', 'help', 'adapter']);
// A resumed LoRA run's adapter settings are its checkpoint's adapter_config.json.
const ADAPTER_FLAGS = ['adapter', 'lora-r', 'lora-alpha', 'lora-dropout', 'lora-targets', 'lora-layers', 'lora-rslora'];
const camel = (flag: string) => flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
const escapeFlag = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t');

/**
 * --resume goes on with the checkpoint's run: every flag the command line leaves out takes its value from the
 * folder's training_args.json (a larger --max-steps or more --epochs extend the run); a --model other than the run's
 * is an error, since the checkpoint holds the model being trained.
 */
async function resumeFlags(flags: Flags, given: Set<string>): Promise<void> {
  const adapterFlag = ADAPTER_FLAGS.find((f) => given.has(f));
  if (adapterFlag)
    throw new UsageError(`train: --${adapterFlag} with --resume, expected none (the checkpoint's adapter and its settings go on), got one`);
  const path = join(flags.out as string, 'training_args.json');
  if (!existsSync(path)) throw new UsageError(`train: --resume, expected ${path} from an earlier run, got no such file`);
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new UsageError(`${path}: expected JSON, got text that does not parse`);
  }
  if (typeof saved !== 'object' || saved === null) throw new UsageError(`${path}: expected a JSON object, got ${typeof saved}`);
  if (given.has('model') && typeof saved.model === 'string' && resolve(flags.model as string) !== resolve(saved.model))
    throw new UsageError(`train: --model, expected the checkpoint's model '${saved.model}' or no --model with --resume, got '${String(flags.model)}'`);
  for (const [flag, spec] of Object.entries(TRAIN_FLAGS)) {
    if (given.has(flag) || INVOCATION_FLAGS.has(flag)) continue;
    const field = flag === 'no-shuffle' ? 'shuffle' : camel(flag);
    let value = saved[field];
    if (value === undefined || value === null) continue;
    if (flag === 'no-shuffle' && typeof value === 'boolean') value = !value;
    if (flag === 'template' && typeof value === 'string') value = escapeFlag(value);
    const type = spec.type === 'int' ? 'number' : spec.type;
    if (typeof value !== type) throw new UsageError(`${path}: field '${field}', expected a ${type} for --${flag}, got ${typeof value}`);
    flags[flag] = value as string | number | boolean;
  }
}

/** Ctrl-C / SIGTERM: once training has started, the first finishes the step and checkpoints; a second exits at once. */
function stopOnSignals(): { shouldStop(): boolean; trainingDone(): void } {
  let armed = false; // the trainer polls before its first step: until then there is nothing to save
  let requested = false;
  let done = false; // training ended and its final checkpoint is written: nothing left to save
  const onSignal = (signal: NodeJS.Signals) => {
    if (!armed || requested || done) {
      const state = done ? '; the final checkpoint is written' : armed ? '; the last checkpoint written is intact' : ', before training started';
      process.stderr.write(`\n${signal}: stopped at once${state}\n`);
      process.exit(130);
    }
    requested = true;
    process.stderr.write(`\n${signal}: finishing the current step and writing a checkpoint (again to quit at once)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    shouldStop: () => {
      armed = true;
      return requested;
    },
    trainingDone: () => void (done = true),
  };
}

/** A checkpoint folder must be one checkpoint; a plain model folder (no checkpoint.json) is taken as it is. */
// generate --chat: the prompt as one user message up to the assistant's reply, through the model's template.
function chatPrompt(tokenizer: Tokenizer, prompt: string): number[] {
  const chat = chatTemplateFor(tokenizer);
  if (chat.fallback) process.stderr.write(FALLBACK_NOTE + '\n');
  return chatPromptIds(tokenizer, chat, [{ role: 'user', content: prompt }]);
}

async function checkModelFolder(command: string, folder: string): Promise<string> {
  requirePath(command, 'model', folder);
  if (existsSync(join(folder, MANIFEST))) await verifyCheckpoint(folder, { hash: false });
  return folder;
}

/**
 * The benchmarks compare with TensorFlow.js, a dev dependency: they run from a checkout (this file as TypeScript),
 * not from the installed package's compiled JavaScript. The specifier is computed so the build leaves bench/ out.
 */
async function bench(args: string[]): Promise<number> {
  if (!import.meta.url.endsWith('.ts')) {
    console.error('bench: expected a checkout of the repository, got the installed package; benchmarks run from a checkout with `npm run bench`');
    return 2;
  }
  const path = '../../bench/node.ts';
  const { benchNode } = (await import(path)) as { benchNode(args: string[]): Promise<number> };
  return benchNode(args);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const help = `webgpu-sft <command> [flags]\n\ncommands:\n  train      fine-tune a model on JSONL data\n  merge      merge a LoRA adapter into its base model\n  eval       loss, perplexity and accuracy of a model on JSONL data (JSON)\n  generate   continue a prompt\n  selftest   every kernel vs its float64 reference on this GPU\n  bench      kernel benchmarks\n\n'webgpu-sft <command> --help' lists a command's flags.`;
  if (!command || command === '--help' || command === 'help') {
    console.log(help);
    return command ? 0 : 2;
  }
  const specs: Record<string, Record<string, FlagSpec>> = { train: TRAIN_FLAGS, eval: EVAL_FLAGS, generate: GENERATE_FLAGS, merge: MERGE_FLAGS, selftest: { filter: { type: 'string', help: 'only kernels whose name contains this' } } };
  if (command === 'bench') return bench(rest);
  const spec = specs[command];
  if (!spec) throw new UsageError(`webgpu-sft: command, expected one of train|eval|generate|merge|selftest|bench, got '${command}'`);
  const flags = parseFlags(command, rest, spec);
  if (flags.help) {
    console.log(usage(command, help.split('\n').find((l) => l.trim().startsWith(command))?.trim() ?? '', spec));
    return 0;
  }
  // Every flag and path is checked before the device or a model is opened.
  if (command === 'train') {
    const given = givenFlags(rest);
    const mode = flags.json ? 'json' : process.stdout.isTTY ? 'tty' : 'plain';
    const report = reporter(mode);
    // Recovery before --resume reads the folder: a kill between a checkpoint's renames left it beside --out.
    for (const note of await recoverCheckpointFolder(flags.out as string)) report({ type: 'info', message: note });
    if (flags.resume) await resumeFlags(flags, given);
    else if (flags.strategy === 'head') {
      for (const [name, value] of HEAD_FLAG_DEFAULTS) if (!given.has(name)) flags[name] = value;
    }
    const args = sftArgs(flags);
    for (const note of await prepareOutFolder(args.out, { resume: args.resume, overwrite: args.overwrite ?? false }))
      report({ type: 'info', message: note });
    const control = stopOnSignals();
    const gpu = await createDevice();
    try {
      const result = await runSft(gpu, args, report, control);
      if (result.reason === 'stopped') {
        process.stderr.write(`interrupted at step ${result.steps}; checkpoint in ${args.out}; continue with --resume\n`);
        return 130;
      }
      const files = args.strategy === 'lora' ? 'adapter_config.json and adapter_model.safetensors in peft\'s layout' : 'model.safetensors, config.json';
      if (mode !== 'json' && result.reason !== 'nonfinite') console.log(`checkpoint: ${args.out} (${files}, tokenizer files, training_args.json, metrics.jsonl)`);
      return result.reason === 'nonfinite' ? 1 : 0;
    } finally {
      gpu.dispose();
    }
  }
  if (command === 'merge') return merge(flags);
  const folder = command === 'selftest' ? '' : await checkModelFolder(command, flags.model as string);
  const adapter = flags.adapter === undefined ? undefined : requirePath(command, 'adapter', flags.adapter);
  const data = command === 'eval' ? requirePath('eval', 'data', flags.data) : '';
  const gpu = await createDevice();
  try {
    if (command === 'selftest') {
      console.log(`device: ${gpu.description}${gpu.software ? ' (software)' : ''}\n${SELFTEST_HEADER}`);
      const { rows, seed, passed, skipped } = await runSelftest(gpu, { filter: flags.filter as string | undefined, onRow: (r) => console.log(formatSelftestRow(r)) });
      const failed = rows.filter((r) => !r.pass).length;
      const names = [...new Set(skipped.map((c) => c.kernel))].join(', ');
      const skip = skipped.length ? `, ${skipped.length} skipped (not available on this device: ${names})` : '';
      console.log(`\n${rows.length - failed} passed, ${failed} failed${skip} (seed ${seed})`);
      return passed ? 0 : 1;
    }
    if (command === 'generate') {
      const { model, tokenizer } = await loadModelAndTokenizerFromFolder(gpu, folder, { dtype: flags.dtype as WeightDtype });
      if (adapter) await loadAdapter(model, adapter);
      const start = tokenizer.bosId ?? tokenizer.eosId ?? 0;
      const prompt = flags.chat ? chatPrompt(tokenizer, flags.prompt as string) : flags.prompt ? modelInput(tokenizer, tokenizer.encode(flags.prompt as string)) : [start];
      // Decode the growing output and print what is new: a token alone can be half a character or lose its space.
      const produced: number[] = [];
      let printed = '';
      const maxNewTokens = flags['max-new-tokens'] as number;
      const ids = await generate(model.eval(), prompt, {
        maxNewTokens, temperature: flags.temperature as number, topK: flags['top-k'] as number,
        topP: flags['top-p'] as number, seed: flags.seed as number, eosId: tokenizer.eosId,
        onToken: (id) => {
          if (id === tokenizer.eosId) return;
          produced.push(id);
          const text = tokenizer.decode(produced);
          if (!text.endsWith('\uFFFD')) {
            process.stdout.write(text.slice(printed.length));
            printed = text;
          }
        },
      });
      process.stdout.write('\n');
      if (ids.length < maxNewTokens && ids[ids.length - 1] !== tokenizer.eosId)
        process.stderr.write(`generate: stopped at the model's context length of ${model.contextLength} tokens (prompt ${prompt.length} + ${ids.length} generated), expected --max-new-tokens ${maxNewTokens}\n`);
      return 0;
    }
    // eval
    const { evaluateFile } = await import('../sft/evaluate-node.ts');
    const metrics = await evaluateFile(gpu, folder, data, {
      maxLength: flags['max-length'] as number, batchSize: flags['batch-size'] as number, adapter, dtype: flags.dtype as WeightDtype,
      log: (message) => process.stderr.write(message + '\n'),
    });
    console.log(JSON.stringify(metrics));
    return 0;
  } finally {
    gpu.dispose();
  }
}

/** `merge`: base + adapter → a plain model folder, on the CPU (no device). */
async function merge(flags: Flags): Promise<number> {
  const base = requirePath('merge', 'model', flags.model);
  const adapter = requirePath('merge', 'adapter', flags.adapter);
  if (typeof flags.out !== 'string' || flags.out === '') throw new UsageError('merge: --out, expected a folder for the merged model, got nothing');
  await prepareOutFolder(flags.out, { resume: false, overwrite: false });
  const kind = modelKind(await readConfigJson(base), join(base, 'config.json'));
  const merged = await mergeAdapter(base, adapter, flags.out, kind);
  console.log(`merged ${merged} adapted weights of ${adapter} into ${base}: ${flags.out} (model.safetensors, config.json, tokenizer files)`);
  return 0;
}

/** One line for what the user can fix (exit 2); a trace for a fault in the engine (exit 1). */
function report(e: unknown): number {
  const err = e as Error;
  const userError = err instanceof UsageError || err instanceof InputError || err instanceof WeightsError || err instanceof ShapeError;
  if (userError) return console.error(err.message), 2;
  if (isUserFsError(e)) {
    console.error(`${e.path ?? 'file system'}: ${e.syscall}, expected it to succeed, got ${e.code} (${fsReason(e)})`);
    return 2;
  }
  if (err instanceof DeviceError) return console.error(err.message), 1;
  console.error(err?.stack ?? String(e));
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => process.exit(report(e)),
);
