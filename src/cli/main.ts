// webgpu-sft: train | eval | generate | selftest | bench. Bad flags and paths print one line and exit with code 2.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createDevice } from '../gpu/device.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { DeviceError, InputError, ShapeError, WeightsError } from '../util/errors.ts';
import { parseFlags, usage, UsageError, type FlagSpec, type Flags } from './args.ts';
import { reporter } from './progress.ts';
import { runSft } from '../sft/run-node.ts';
import type { WeightDtype } from '../nn/weight-dtype.ts';
import { loadModelAndTokenizerFromFolder, readConfigJson } from '../models/load-node.ts';
import { modelKind } from '../models/load-model.ts';
import { loadAdapter, mergeAdapter } from '../sft/adapter-node.ts';
import { modelInput, type Tokenizer } from '../tokenizers/tokenizer.ts';
import { chatTemplateFor, FALLBACK_NOTE } from '../sft/chat-template.ts';
import { chatPromptIds } from '../sft/dataset.ts';
import { generate } from '../models/generate.ts';
import { formatSelftestRow, runSelftest, SELFTEST_HEADER } from '../check/selftest.ts';
import {
  fsReason,
  isUserFsError,
  MANIFEST,
  prepareOutFolder,
  recoverCheckpointFolder,
  verifyCheckpoint,
} from '../sft/checkpoint-folder-node.ts';
import {
  EVAL_FLAGS,
  GENERATE_FLAGS,
  givenFlags,
  HEAD_FLAG_DEFAULTS,
  MERGE_FLAGS,
  requirePath,
  sftArgs,
  TRAIN_FLAGS,
} from './flags.ts';

// Flags that say how this invocation runs, not what the run is: never taken from a checkpoint.
const INVOCATION_FLAGS = new Set(['out', 'resume', 'overwrite', 'json', 'help', 'adapter']);
// A resumed LoRA run's adapter settings are its checkpoint's adapter_config.json.
const ADAPTER_FLAGS = [
  'adapter',
  'lora-r',
  'lora-alpha',
  'lora-dropout',
  'lora-targets',
  'lora-layers',
  'lora-rslora',
];
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
    throw new UsageError(
      `train: --${adapterFlag} with --resume, expected none (the checkpoint's adapter and its settings go on), got one`,
    );
  const path = join(flags.out as string, 'training_args.json');
  if (!existsSync(path))
    throw new UsageError(`train: --resume, expected ${path} from an earlier run, got no such file`);
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new UsageError(`${path}: expected JSON, got text that does not parse`);
  }
  if (typeof saved !== 'object' || saved === null)
    throw new UsageError(`${path}: expected a JSON object, got ${typeof saved}`);
  if (
    given.has('model') &&
    typeof saved.model === 'string' &&
    resolve(flags.model as string) !== resolve(saved.model)
  )
    throw new UsageError(
      `train: --model, expected the checkpoint's model '${saved.model}' or no --model with --resume, got '${String(flags.model)}'`,
    );
  for (const [flag, spec] of Object.entries(TRAIN_FLAGS)) {
    if (given.has(flag) || INVOCATION_FLAGS.has(flag)) continue;
    const field = flag === 'no-shuffle' ? 'shuffle' : camel(flag);
    let value = saved[field];
    if (value === undefined || value === null) continue;
    if (flag === 'no-shuffle' && typeof value === 'boolean') value = !value;
    if (flag === 'template' && typeof value === 'string') value = escapeFlag(value);
    const type = spec.type === 'int' ? 'number' : spec.type;
    if (typeof value !== type)
      throw new UsageError(
        `${path}: field '${field}', expected a ${type} for --${flag}, got ${typeof value}`,
      );
    flags[flag] = value as string | number | boolean;
  }
}

/**
 * Ctrl-C / SIGTERM: once training has started, the first finishes the step and checkpoints; a second exits at once.
 * Exiting at once first destroys the device (`useDevice`): Dawn then waits for the work already submitted, whereas
 * exiting with that work in flight let SwiftShader's threads run into the library's teardown (SIGSEGV, 1 run in 8).
 */
function stopOnSignals(): { shouldStop(): boolean; trainingDone(): void; useDevice(gpu: Gpu): void } {
  let device: Gpu | undefined;
  let armed = false; // the trainer polls before its first step: until then there is nothing to save
  let requested = false;
  let done = false; // training ended and its final checkpoint is written: nothing left to save
  const onSignal = (signal: NodeJS.Signals) => {
    if (!armed || requested || done) {
      const state = done
        ? '; the final checkpoint is written'
        : armed
          ? '; the last checkpoint written is intact'
          : ', before training started';
      exitNow(`${signal}: stopped at once${state}`, device);
    }
    requested = true;
    process.stderr.write(
      `\n${signal}: finishing the current step and writing a checkpoint (again to quit at once)\n`,
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    shouldStop: () => {
      armed = true;
      return requested;
    },
    trainingDone: () => void (done = true),
    useDevice: (gpu) => void (device = gpu),
  };
}

/** Say `line` and exit 130 now, destroying the device first (Dawn waits for the work already submitted). */
function exitNow(line: string, gpu: Gpu | undefined): never {
  process.stderr.write(`\n${line}\n`);
  gpu?.device.destroy();
  process.exit(130);
}

/**
 * Ctrl-C / SIGTERM in eval, generate and selftest: nothing to save, so stop at once, destroying the device first (as
 * the train command's second signal does: exiting with GPU work in flight can crash in the library's teardown).
 */
function exitOnSignals(gpu: Gpu): Disposable {
  const onSignal = (signal: NodeJS.Signals) => exitNow(`${signal}: stopped`, gpu);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    [Symbol.dispose]: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

// generate --chat: the prompt as one user message up to the assistant's reply, through the model's template.
function chatPrompt(tokenizer: Tokenizer, prompt: string): number[] {
  const chat = chatTemplateFor(tokenizer);
  if (chat.fallback) process.stderr.write(FALLBACK_NOTE + '\n');
  return chatPromptIds(tokenizer, chat, [{ role: 'user', content: prompt }]);
}

/** A checkpoint folder must be one checkpoint; a plain model folder (no checkpoint.json) is taken as it is. */
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
    console.error(
      'bench: expected a checkout of the repository, got the installed package; benchmarks run from a checkout with `npm run bench`',
    );
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
  const specs: Record<string, Record<string, FlagSpec>> = {
    train: TRAIN_FLAGS,
    eval: EVAL_FLAGS,
    generate: GENERATE_FLAGS,
    merge: MERGE_FLAGS,
    selftest: { filter: { type: 'string', help: 'only kernels whose name contains this' } },
  };
  if (command === 'bench') return bench(rest);
  const spec = specs[command];
  if (!spec)
    throw new UsageError(
      `webgpu-sft: command, expected one of train|eval|generate|merge|selftest|bench, got '${command}'`,
    );
  const flags = parseFlags(command, rest, spec);
  if (flags.help) {
    console.log(
      usage(
        command,
        help
          .split('\n')
          .find((l) => l.trim().startsWith(command))
          ?.trim() ?? '',
        spec,
      ),
    );
    return 0;
  }
  // Every flag and path is checked before the device or a model is opened.
  if (command === 'train') {
    const given = givenFlags(rest);
    const mode = flags.json ? 'json' : process.stdout.isTTY ? 'tty' : 'plain';
    const report = reporter(mode);
    // Recovery before --resume reads the folder: a kill between a checkpoint's renames left it beside --out.
    for (const note of await recoverCheckpointFolder(flags.out as string))
      report({ type: 'info', message: note });
    if (flags.resume) await resumeFlags(flags, given);
    else if (flags.strategy === 'head') {
      for (const [name, value] of HEAD_FLAG_DEFAULTS) if (!given.has(name)) flags[name] = value;
    }
    const args = sftArgs(flags);
    for (const note of await prepareOutFolder(args.out, {
      resume: args.resume,
      overwrite: args.overwrite ?? false,
    }))
      report({ type: 'info', message: note });
    const control = stopOnSignals();
    const gpu = await createDevice();
    control.useDevice(gpu);
    try {
      const result = await runSft(gpu, args, report, control);
      if (result.reason === 'stopped') {
        process.stderr.write(
          `interrupted at step ${result.steps}; checkpoint in ${args.out}; continue with --resume\n`,
        );
        return 130;
      }
      const files =
        args.strategy === 'lora'
          ? "adapter_config.json and adapter_model.safetensors in peft's layout"
          : 'model.safetensors, config.json';
      if (mode !== 'json' && result.reason !== 'nonfinite')
        console.log(`checkpoint: ${args.out} (${files}, tokenizer files, training_args.json, metrics.jsonl)`);
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
  using _signals = exitOnSignals(gpu);
  try {
    if (command === 'selftest') {
      console.log(`device: ${gpu.description}${gpu.software ? ' (software)' : ''}\n${SELFTEST_HEADER}`);
      const { rows, seed, passed, skipped } = await runSelftest(gpu, {
        filter: flags.filter as string | undefined,
        onRow: (r) => console.log(formatSelftestRow(r)),
      });
      const failed = rows.filter((r) => !r.pass).length;
      const names = [...new Set(skipped.map((c) => c.kernel))].join(', ');
      const skip = skipped.length
        ? `, ${skipped.length} skipped (not available on this device: ${names})`
        : '';
      console.log(`\n${rows.length - failed} passed, ${failed} failed${skip} (seed ${seed})`);
      return passed ? 0 : 1;
    }
    if (command === 'generate') {
      const { model, tokenizer } = await loadModelAndTokenizerFromFolder(gpu, folder, {
        dtype: flags.dtype as WeightDtype,
      });
      if (adapter) await loadAdapter(model, adapter);
      const start = tokenizer.bosId ?? tokenizer.eosId ?? 0;
      const prompt = flags.chat
        ? chatPrompt(tokenizer, flags.prompt as string)
        : flags.prompt
          ? modelInput(tokenizer, tokenizer.encode(flags.prompt as string))
          : [start];
      // Decode the growing output and print what is new: a token alone can be half a character or lose its space.
      const produced: number[] = [];
      let printed = '';
      const maxNewTokens = flags['max-new-tokens'] as number;
      const ids = await generate(model.eval(), prompt, {
        maxNewTokens,
        temperature: flags.temperature as number,
        topK: flags['top-k'] as number,
        topP: flags['top-p'] as number,
        seed: flags.seed as number,
        eosId: tokenizer.eosId,
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
        process.stderr.write(
          `generate: stopped at the model's context length of ${model.contextLength} tokens (prompt ${prompt.length} + ${ids.length} generated), expected --max-new-tokens ${maxNewTokens}\n`,
        );
      return 0;
    }
    // eval
    const { evaluateFile } = await import('../sft/evaluate-node.ts');
    const metrics = await evaluateFile(gpu, folder, data, {
      maxLength: flags['max-length'] as number,
      batchSize: flags['batch-size'] as number,
      adapter,
      dtype: flags.dtype as WeightDtype,
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
  if (typeof flags.out !== 'string' || flags.out === '')
    throw new UsageError('merge: --out, expected a folder for the merged model, got nothing');
  await prepareOutFolder(flags.out, { resume: false, overwrite: false });
  const kind = modelKind(await readConfigJson(base), join(base, 'config.json'));
  const merged = await mergeAdapter(base, adapter, flags.out, kind);
  console.log(
    `merged ${merged} adapted weights of ${adapter} into ${base}: ${flags.out} (model.safetensors, config.json, tokenizer files)`,
  );
  return 0;
}

/** One line for what the user can fix (exit 2); a trace for a fault in the engine (exit 1). */
function report(e: unknown): number {
  const err = e as Error;
  const userError =
    err instanceof UsageError ||
    err instanceof InputError ||
    err instanceof WeightsError ||
    err instanceof ShapeError;
  if (userError) return (console.error(err.message), 2);
  if (isUserFsError(e)) {
    console.error(
      `${e.path ?? 'file system'}: ${e.syscall}, expected it to succeed, got ${e.code} (${fsReason(e)})`,
    );
    return 2;
  }
  if (err instanceof DeviceError) return (console.error(err.message), 1);
  console.error(err?.stack ?? String(e));
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => process.exit(report(e)),
);
