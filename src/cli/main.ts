// webgpu-sft: train | eval | generate | selftest | bench. Bad flags and paths print one line and exit with code 2.
import { existsSync } from 'node:fs';
import { createDevice } from '../gpu/device.ts';
import { DeviceError, InputError, ShapeError, WeightsError } from '../gpu/errors.ts';
import { parseFlags, unescapeFlag, usage, UsageError, type FlagSpec, type Flags } from './args.ts';
import { reporter } from './progress.ts';
import { runSft, type SftArgs } from '../sft/run-node.ts';
import { loadModel } from '../models/load-node.ts';
import { loadTokenizer } from '../tokenizers/load-node.ts';
import { modelInput } from '../tokenizers/tokenizer.ts';
import { generate } from '../models/generate.ts';
import { formatSelftestRow, runSelftest, SELFTEST_HEADER } from '../check/selftest.ts';
import type { Strategy } from '../sft/finetune-modes.ts';
import type { LrSchedule } from '../sft/schedule.ts';

const DEFAULT_MODEL = 'assets/gpt2-shakespeare';

const TRAIN_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'Hugging Face model folder' },
  train: { type: 'string', help: 'training JSONL (prompt/completion, messages, text, or text/label)' },
  val: { type: 'string', help: 'validation JSONL' },
  test: { type: 'string', help: 'test JSONL' },
  'val-ratio': { type: 'number', default: 0.1, help: 'held-out fraction of --train when no --val/--test' },
  'test-ratio': { type: 'number', default: 0.1, help: 'held-out fraction of --train when no --val/--test' },
  out: { type: 'string', default: 'out/sft', help: 'checkpoint folder (loads in transformers)' },
  strategy: { type: 'string', default: 'full', choices: ['full', 'freeze', 'head'], help: 'what is trained (head: --epochs 100 --batch-size 512 --lr 3e-2 --lr-schedule constant unless given)' },
  'freeze-layers': { type: 'int', default: 0, help: 'freeze: embeddings + the first N blocks' },
  trainable: { type: 'string', help: 'only parameters whose name matches this regex' },
  template: { type: 'string', default: '{text}', help: 'head: how texts are shown to the model (\\n, \\t escapes)' },
  epochs: { type: 'int', default: 1, help: 'passes over the training data' },
  'max-steps': { type: 'int', default: 0, help: 'stop after N optimizer steps (0 = all epochs)' },
  'batch-size': { type: 'int', default: 8, help: 'examples per micro-batch' },
  'grad-accum': { type: 'int', default: 1, help: 'micro-batches per optimizer step' },
  lr: { type: 'number', default: 3e-4, help: 'peak learning rate' },
  'lr-schedule': { type: 'string', default: 'cosine', choices: ['constant', 'linear', 'cosine'], help: 'decay after warmup' },
  'warmup-steps': { type: 'int', default: 0, help: 'linear warmup steps' },
  'weight-decay': { type: 'number', default: 0.01, help: 'AdamW decay (matrices and embeddings only)' },
  beta1: { type: 'number', default: 0.9, help: 'AdamW beta1' },
  beta2: { type: 'number', default: 0.999, help: 'AdamW beta2' },
  eps: { type: 'number', default: 1e-8, help: 'AdamW epsilon' },
  'clip-grad-norm': { type: 'number', default: 1, help: 'global gradient norm clip (0 = off)' },
  dropout: { type: 'number', help: 'override every dropout probability of the config' },
  'max-length': { type: 'int', default: 1024, help: 'tokens per example (capped at the model context)' },
  packing: { type: 'boolean', default: false, help: 'pack short examples into full rows' },
  seed: { type: 'int', default: 0, help: 'shuffling, dropout and head init' },
  'no-shuffle': { type: 'boolean', default: false, help: 'keep file order' },
  'eval-every': { type: 'int', default: 0, help: 'evaluate every N steps (0 = at epoch ends)' },
  patience: { type: 'int', default: 0, help: 'early stopping after N evaluations without improvement (0 = off)' },
  resume: { type: 'boolean', default: false, help: 'continue the run checkpointed in --out' },
  'sample-tokens': { type: 'int', default: 40, help: 'tokens of the sample reply before/after (0 = none)' },
  json: { type: 'boolean', default: false, help: 'one JSON object per event on stdout' },
};

// --strategy head trains a small head on features computed once (the backbone is frozen), so an epoch costs a few
// small kernels: full-batch steps for many epochs at a higher constant rate are the sensible start (measured on the
// speakers data). They apply to the flags the command line leaves out.
const HEAD_DEFAULTS: Record<string, number | string> = { epochs: 100, 'batch-size': 512, lr: 3e-2, 'lr-schedule': 'constant' };

/** Flags named on the command line (`--name value` or `--name=value`). */
function givenFlags(argv: string[]): Set<string> {
  return new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
}

const EVAL_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'Hugging Face model folder (or a checkpoint)' },
  data: { type: 'string', help: 'JSONL to evaluate on' },
  'max-length': { type: 'int', default: 1024, help: 'tokens per example' },
  'batch-size': { type: 'int', default: 8, help: 'examples per batch' },
};

const GENERATE_FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', default: DEFAULT_MODEL, help: 'Hugging Face model folder (or a checkpoint)' },
  prompt: { type: 'string', default: '', help: 'text to continue (empty: start from BOS/EOS)' },
  'max-new-tokens': { type: 'int', default: 60, help: 'tokens to generate' },
  temperature: { type: 'number', default: 0, help: '0 = greedy' },
  'top-k': { type: 'int', default: 0, help: 'sample among the k most likely (0 = all)' },
  'top-p': { type: 'number', default: 1, help: 'nucleus sampling mass' },
  seed: { type: 'int', default: 0, help: 'sampling seed' },
};

function requirePath(command: string, flag: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`${command}: --${flag}, expected a path, got nothing`);
  if (!existsSync(value)) throw new UsageError(`${command}: --${flag}, expected an existing path, got '${value}'`);
  return value;
}

function sftArgs(f: Flags): SftArgs {
  const num = (k: string) => f[k] as number;
  return {
    model: requirePath('train', 'model', f.model), train: requirePath('train', 'train', f.train),
    val: f.val === undefined ? undefined : requirePath('train', 'val', f.val), test: f.test === undefined ? undefined : requirePath('train', 'test', f.test),
    valRatio: num('val-ratio'), testRatio: num('test-ratio'), out: f.out as string, strategy: f.strategy as Strategy,
    freezeLayers: num('freeze-layers'), trainable: f.trainable as string | undefined, epochs: num('epochs'), maxSteps: num('max-steps'),
    batchSize: num('batch-size'), gradAccum: num('grad-accum'), lr: num('lr'), lrSchedule: f['lr-schedule'] as LrSchedule,
    warmupSteps: num('warmup-steps'), weightDecay: num('weight-decay'), beta1: num('beta1'), beta2: num('beta2'), eps: num('eps'),
    clipGradNorm: num('clip-grad-norm'), dropout: (f.dropout as number | undefined) ?? null, maxLength: num('max-length'),
    packing: f.packing as boolean, seed: num('seed'), shuffle: !f['no-shuffle'], evalEvery: num('eval-every'), patience: num('patience'),
    resume: f.resume as boolean, sampleTokens: num('sample-tokens'), template: unescapeFlag('train', 'template', f.template as string),
  };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const help = `webgpu-sft <command> [flags]\n\ncommands:\n  train      fine-tune a model on JSONL data\n  eval       loss, perplexity and accuracy of a model on JSONL data (JSON)\n  generate   continue a prompt\n  selftest   every kernel vs its float64 reference on this GPU\n  bench      kernel benchmarks\n\n'webgpu-sft <command> --help' lists a command's flags.`;
  if (!command || command === '--help' || command === 'help') {
    console.log(help);
    return command ? 0 : 2;
  }
  const specs: Record<string, Record<string, FlagSpec>> = { train: TRAIN_FLAGS, eval: EVAL_FLAGS, generate: GENERATE_FLAGS, selftest: { filter: { type: 'string', help: 'only kernels whose name contains this' } } };
  if (command === 'bench') {
    const { benchNode } = await import('../../bench/node.ts');
    return benchNode(rest);
  }
  const spec = specs[command];
  if (!spec) throw new UsageError(`webgpu-sft: command, expected one of train|eval|generate|selftest|bench, got '${command}'`);
  const flags = parseFlags(command, rest, spec);
  if (flags.help) {
    console.log(usage(command, help.split('\n').find((l) => l.trim().startsWith(command))?.trim() ?? '', spec));
    return 0;
  }
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
    if (command === 'train') {
      if (flags.strategy === 'head') {
        const given = givenFlags(rest);
        for (const [name, value] of Object.entries(HEAD_DEFAULTS)) if (!given.has(name)) flags[name] = value;
      }
      const args = sftArgs(flags);
      const mode = flags.json ? 'json' : process.stdout.isTTY ? 'tty' : 'plain';
      const result = await runSft(gpu, args, reporter(mode));
      if (mode !== 'json') console.log(`checkpoint: ${args.out} (model.safetensors, config.json, tokenizer files, training_args.json, metrics.jsonl)`);
      return result.reason === 'nonfinite' ? 1 : 0;
    }
    if (command === 'generate') {
      const folder = requirePath('generate', 'model', flags.model);
      const model = await loadModel(gpu, folder);
      const tokenizer = await loadTokenizer(folder);
      const start = tokenizer.bosId ?? tokenizer.eosId ?? 0;
      const prompt = flags.prompt ? modelInput(tokenizer, tokenizer.encode(flags.prompt as string)) : [start];
      // Decode the growing output and print what is new: a token alone can be half a character or lose its space.
      const produced: number[] = [];
      let printed = '';
      await generate(model.eval(), prompt, {
        maxNewTokens: flags['max-new-tokens'] as number, temperature: flags.temperature as number, topK: flags['top-k'] as number,
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
      return 0;
    }
    // eval
    const { evaluateFile } = await import('../sft/evaluate-node.ts');
    const metrics = await evaluateFile(gpu, requirePath('eval', 'model', flags.model), requirePath('eval', 'data', flags.data), {
      maxLength: flags['max-length'] as number, batchSize: flags['batch-size'] as number,
    });
    console.log(JSON.stringify(metrics));
    return 0;
  } finally {
    gpu.dispose();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const err = e as Error;
    const userError = err instanceof UsageError || err instanceof InputError || err instanceof WeightsError || err instanceof ShapeError;
    console.error(userError ? err.message : err instanceof DeviceError ? err.message : (err.stack ?? String(err)));
    process.exit(userError ? 2 : 1);
  },
);
