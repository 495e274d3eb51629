// The whole SFT job from files (what `webgpu-sft train` runs): load model, tokenizer and data, apply the strategy,
// evaluate before, train with checkpoints, evaluate after and on the test split, with a sample reply before/after.
import { existsSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Gpu } from '../gpu/gpu.ts';
import { InputError } from '../gpu/errors.ts';
import { loadModel } from '../models/load-node.ts';
import { readSafetensorsPath } from '../io/safetensors-node.ts';
import { loadTokenizer } from '../tokenizers/load-node.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import type { LanguageModel } from '../models/language-model.ts';
import { generate } from '../models/generate.ts';
import { readJsonlFile } from './dataset-node.ts';
import { splitByRatios, tokenizeRows, truncateExamples, type DataRow, type JsonlData } from './dataset.ts';
import { epochBatches, lmBatches } from './batching.ts';
import { classificationData, majorityBaseline, TEXT_PLACEHOLDER, type ClassificationData } from './classification.ts';
import { applyStrategy, countParameters, type Strategy } from './finetune-modes.ts';
import { SequenceClassifier } from './classifier.ts';
import { featureBatches, lastTokenFeatures } from './feature-cache.ts';
import { HeadTask, LmTask, type Task } from './tasks.ts';
import { Trainer, type Metrics, type TrainEvent } from './trainer.ts';
import { loadResumeState, saveCheckpoint } from './checkpoint.ts';
import type { LrSchedule } from './schedule.ts';
import type { Module } from '../nn/module.ts';

export interface SftArgs {
  model: string;
  train: string;
  val?: string;
  test?: string;
  /** With no --val/--test files, the fractions of --train held out. */
  valRatio: number;
  testRatio: number;
  out: string;
  strategy: Strategy;
  freezeLayers: number;
  trainable?: string;
  epochs: number;
  maxSteps: number;
  batchSize: number;
  gradAccum: number;
  lr: number;
  lrSchedule: LrSchedule;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  clipGradNorm: number;
  dropout: number | null;
  maxLength: number;
  packing: boolean;
  seed: number;
  shuffle: boolean;
  evalEvery: number;
  patience: number;
  resume: boolean;
  /** Tokens of the sample reply generated before and after (0 = none). */
  sampleTokens: number;
  /** Head only: how each text is presented to the model, `{text}` standing for it (default `{text}`). */
  template?: string;
}

export type SftEvent =
  | { type: 'info'; message: string }
  | { type: 'before' | 'after' | 'test'; metrics: Metrics; baseline?: number }
  | { type: 'sample'; when: 'before' | 'after'; prompt: string; reply: string }
  | TrainEvent;

export interface SftResult {
  before: Metrics | null;
  after: Metrics | null;
  test: Metrics | null;
  steps: number;
  reason: string;
}

async function readSplits(args: SftArgs): Promise<{ train: JsonlData; val: DataRow[]; test: DataRow[] }> {
  const train = await readJsonlFile(args.train);
  if (args.val || args.test) {
    const val = args.val ? (await readJsonlFile(args.val)).rows : [];
    const test = args.test ? (await readJsonlFile(args.test)).rows : [];
    return { train, val, test };
  }
  const s = splitByRatios(train.rows, { val: args.valRatio, test: args.testRatio, seed: args.seed });
  return { train: { ...train, rows: s.train }, val: s.val, test: s.test };
}

export async function runSft(gpu: Gpu, args: SftArgs, emit: (e: SftEvent) => void): Promise<SftResult> {
  const info = (message: string) => emit({ type: 'info', message });
  if (args.resume && !existsSync(join(args.out, 'trainer_state.json'))) {
    throw new InputError(`--resume: ${args.out}, expected a checkpoint folder from an earlier run (trainer_state.json), got none`);
  }
  const source = args.resume ? args.out : args.model;
  const model = await loadModel(gpu, source);
  const tokenizer = await loadTokenizer(args.model);
  const data = await readSplits(args);
  const maxLength = Math.min(args.maxLength, model.contextLength);
  if (args.dropout !== null) model.setDropout(args.dropout);
  const report = applyStrategy(model, args.strategy, { freezeLayers: args.freezeLayers, trainable: args.trainable });
  info(`model ${source}: ${model.kind}, ${(report.trainable + report.frozen).toLocaleString('en-US')} parameters, ${model.numLayers} blocks, context ${model.contextLength}`);
  info(`data: ${data.train.rows.length} train, ${data.val.length} val, ${data.test.length} test rows (${data.train.format}), max length ${maxLength}`);
  const padId = tokenizer.eosId ?? 0;
  const job =
    args.strategy === 'head'
      ? await headJob(gpu, model, tokenizer, data, args, maxLength, padId, emit)
      : lmJob(model, tokenizer, data, args, maxLength, padId, info);
  const params = countParameters(job.module.parameters());
  info(`strategy ${args.strategy}: ${params.trainable.toLocaleString('en-US')} trainable parameters in ${params.trainableTensors} tensors, ${params.frozen.toLocaleString('en-US')} frozen (no gradient, no optimizer state)`);

  const trainer = new Trainer(gpu, job.module, job.task as Task<unknown>, {
    epochs: args.epochs, maxSteps: args.maxSteps, gradAccum: args.gradAccum, lr: args.lr, lrSchedule: args.lrSchedule,
    warmupSteps: args.warmupSteps, weightDecay: args.weightDecay, beta1: args.beta1, beta2: args.beta2, eps: args.eps,
    clipGradNorm: args.clipGradNorm, seed: args.seed, evalEvery: args.evalEvery, patience: args.patience,
    restoreBest: args.strategy === 'head',
  });
  info(`GPU memory: ${(gpu.stats().liveBytes / 2 ** 20).toFixed(1)} MiB live (weights), optimizer state ${(trainer.optimizer.stateBytes / 2 ** 20).toFixed(1)} MiB`);
  if (args.resume) {
    const state = await loadResumeState(args.out);
    trainer.resume(state.trainerState, state.optimizer);
    info(`resumed from ${args.out} at step ${state.trainerState.step}`);
  }
  const sample = async (when: 'before' | 'after') => {
    if (!job.samplePrompt || args.sampleTokens <= 0) return;
    const ids = tokenizer.encode(job.samplePrompt, { allowSpecial: false }).slice(-Math.floor(model.contextLength / 2));
    model.eval();
    const out = await generate(model, ids, { maxNewTokens: args.sampleTokens, temperature: 0, eosId: tokenizer.eosId });
    model.train();
    emit({ type: 'sample', when, prompt: job.samplePrompt, reply: tokenizer.decode(out.filter((id) => id !== tokenizer.eosId)) });
  };
  const before = job.val.length && !args.resume ? await trainer.evaluate(job.val) : null;
  if (before) emit({ type: 'before', metrics: before, baseline: job.baseline });
  if (!args.resume) await sample('before');

  await mkdir(args.out, { recursive: true });
  const metricsFile = join(args.out, 'metrics.jsonl');
  const trainingArgs = { ...args, model: args.model, engine: 'webgpu-sft', device: gpu.description };
  let metricsWrites = Promise.resolve();
  let lastCheckpoint = performance.now();
  const done = await trainer.train({
    trainBatches: job.trainBatches as (epoch: number) => unknown[],
    valBatches: job.val,
    onEvent: (e) => {
      emit(e);
      metricsWrites = metricsWrites.then(() => appendFile(metricsFile, JSON.stringify(e) + '\n'));
    },
    onCheckpoint: async (trainerState, optimizer, reason) => {
      if (reason === 'eval' && job.checkpointSeconds && performance.now() - lastCheckpoint < job.checkpointSeconds * 1000) return;
      lastCheckpoint = performance.now();
      await saveCheckpoint(args.out, { model: job.module, config: job.config, sourceFolder: args.model, trainingArgs, optimizer, trainerState });
    },
  });
  await metricsWrites;
  if (args.strategy === 'head' && trainer.state.bestStep > 0) info(`head: kept the head of step ${trainer.state.bestStep}, the best validation loss (${trainer.state.bestLoss.toFixed(4)})`);
  const after = job.val.length ? await trainer.evaluate(job.val) : null;
  if (after) emit({ type: 'after', metrics: after, baseline: job.baseline });
  const test = job.test.length ? await trainer.evaluate(job.test) : null;
  if (test) emit({ type: 'test', metrics: test, baseline: job.testBaseline });
  await sample('after');
  trainer.dispose();
  job.module.dispose();
  return { before, after, test, steps: done.step, reason: done.reason };
}

const HEAD_CHECKPOINT_SECONDS = 30;

interface Job {
  module: Module;
  task: Task<never>;
  trainBatches: (epoch: number) => unknown[];
  val: unknown[];
  test: unknown[];
  config: Record<string, unknown>;
  samplePrompt?: string;
  baseline?: number;
  testBaseline?: number;
  /** Write the checkpoints of evaluations at most this often (the final one always). */
  checkpointSeconds?: number;
}

function lmJob(model: LanguageModel, tokenizer: Tokenizer, data: { train: JsonlData; val: DataRow[]; test: DataRow[] }, args: SftArgs, maxLength: number, padId: number, info: (m: string) => void): Job {
  if (args.template !== undefined && args.template !== TEXT_PLACEHOLDER) {
    throw new InputError(`--template: ${JSON.stringify(args.template)} with --strategy ${args.strategy}, expected --strategy head (templates present classification texts)`);
  }
  if (data.train.format === 'text-label') {
    throw new InputError(`${args.train}: format text-label, expected prompt/completion, messages or text for --strategy ${args.strategy}`, 'labelled text trains a classifier: use --strategy head');
  }
  const prepare = (rows: DataRow[], name: string) => {
    const t = truncateExamples(tokenizeRows(rows, tokenizer), maxLength);
    if (t.truncated || t.dropped) info(`${name}: ${t.truncated} examples truncated to ${maxLength} tokens, ${t.dropped} left with no target dropped`);
    return t.examples;
  };
  const options = { batchSize: args.batchSize, maxLength, packing: args.packing, shuffle: args.shuffle, seed: args.seed, padId };
  const evalOptions = { ...options, shuffle: false };
  const first = data.val[0] ?? data.train.rows[0];
  return {
    module: model,
    task: new LmTask(model) as Task<never>,
    trainBatches: epochBatches(lmBatches, prepare(data.train.rows, 'train'), options),
    val: lmBatches(prepare(data.val, 'val'), evalOptions),
    test: lmBatches(prepare(data.test, 'test'), evalOptions),
    config: { ...model.rawConfig, architectures: [model.kind === 'gpt2' ? 'GPT2LMHeadModel' : 'LlamaForCausalLM'] },
    samplePrompt: first?.format === 'prompt-completion' ? first.prompt : undefined,
  };
}

async function headJob(gpu: Gpu, model: LanguageModel, tokenizer: Tokenizer, data: { train: JsonlData; val: DataRow[]; test: DataRow[] }, args: SftArgs, maxLength: number, padId: number, emit: (e: SftEvent) => void): Promise<Job> {
  const info = (message: string) => emit({ type: 'info', message });
  if (args.dropout) {
    throw new InputError(`--dropout: ${args.dropout} with --strategy head, expected 0 or unset (the frozen backbone runs in eval mode, its features computed once)`);
  }
  const template = args.template ?? TEXT_PLACEHOLDER;
  const options = { maxLength, template };
  const train = classificationData(data.train.rows, tokenizer, options);
  const names = train.labels.names;
  const val = classificationData(data.val, tokenizer, { ...options, labels: names });
  const test = classificationData(data.test, tokenizer, { ...options, labels: names });
  const classifier = new SequenceClassifier(gpu, model, names.length, args.seed);
  if (args.resume) {
    const file = await readSafetensorsPath(join(args.out, 'model.safetensors'));
    classifier.load('score.weight', await file.getF32('score.weight'));
  }
  const trainLabel = majorityBaseline(train.examples).label;
  const baseline = (split: ClassificationData) => (split.examples.length ? majorityBaseline(split.examples, trainLabel).accuracy : undefined);
  const percent = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);
  info(`labels: ${names.join(', ')}; majority baseline accuracy (always ${names[trainLabel]}) ${percent(baseline(val))} on val, ${percent(baseline(test))} on test`);
  if (template !== TEXT_PLACEHOLDER) info(`template: each text presented as ${JSON.stringify(template)}`);
  const started = performance.now();
  // Rows are length-sorted, so larger forward batches save little padding; a training batch bounds the memory.
  const cacheOptions = { batchSize: Math.min(args.batchSize, 32), padId };
  const cache = (split: ClassificationData) => lastTokenFeatures(classifier, split.examples, cacheOptions);
  const cached = { train: await cache(train), val: await cache(val), test: await cache(test) };
  const rows = cached.train.length + cached.val.length + cached.test.length;
  info(`head: the backbone is frozen and runs in eval mode, so each text's last-token features were computed once (${rows} texts in ${((performance.now() - started) / 1000).toFixed(1)} s); every epoch trains the head on them, with checkpoints at most every ${HEAD_CHECKPOINT_SECONDS} s and at the end`);
  const batches = { batchSize: args.batchSize, shuffle: args.shuffle, seed: args.seed };
  const arch = model.kind === 'gpt2' ? 'GPT2ForSequenceClassification' : 'LlamaForSequenceClassification';
  return {
    module: classifier,
    task: new HeadTask(classifier) as Task<never>,
    trainBatches: epochBatches(featureBatches, cached.train, batches),
    val: featureBatches(cached.val, { ...batches, shuffle: false }),
    test: featureBatches(cached.test, { ...batches, shuffle: false }),
    config: {
      ...model.rawConfig, architectures: [arch], id2label: train.labels.id2label, label2id: train.labels.label2id, num_labels: names.length, pad_token_id: padId,
      ...(template !== TEXT_PLACEHOLDER ? { text_template: template } : {}),
    },
    baseline: baseline(val),
    testBaseline: baseline(test),
    // An epoch on cached features is a few small kernels; rewriting the whole backbone after each would dominate.
    checkpointSeconds: HEAD_CHECKPOINT_SECONDS,
  };
}
