// The whole SFT job from files (what `webgpu-sft train` runs): load model, tokenizer and data, build the job
// (job.ts, shared with the demo page), evaluate before, train with checkpoints, evaluate after and on the test split,
// with a sample reply before/after.
import { existsSync } from 'node:fs';
import { appendFile, readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Gpu } from '../gpu/gpu.ts';
import { metaLimitsOf } from '../gpu/meta-device.ts';
import { InputError } from '../util/errors.ts';
import { loadModelAndTokenizerFromFolder, openWeights, readConfigJson } from '../models/load-node.ts';
import { fileMatrixDtype } from '../models/weights-plan.ts';
import { readSafetensorsPath } from '../io/safetensors-node.ts';
import { readJsonlFile } from './dataset-node.ts';
import { splitByRatios } from './splits.ts';
import { type DataRow, type JsonlData } from './jsonl.ts';
import { countParameters, type Strategy } from './finetune-modes.ts';
import { buildJob } from './job.ts';
import type { WeightDtype } from '../nn/weight-dtype.ts';
import { describePlan, planMemory } from './memory-plan.ts';
import { Trainer, type Metrics, type TrainEvent, type TrainerOptions } from './trainer.ts';
import { loadResumeState, saveCheckpoint } from './checkpoint-node.ts';
import { prepareOutFolder } from './checkpoint-folder-node.ts';
import { ADAPTER_WEIGHTS, readAdapterConfig, readAdapterWeights } from './adapter-node.ts';
import { exportAdapter, loadAdapterTensors, type LoraSettings } from './lora.ts';

/** Write the head's checkpoints of evaluations at most this often (the final one always). */
const HEAD_CHECKPOINT_SECONDS = 30;

/** A training run: the trainer's options plus where the model and data are and how they are prepared. */
export interface SftArgs extends Omit<TrainerOptions, 'restoreBest'> {
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
  batchSize: number;
  dropout: number | null;
  maxLength: number;
  packing: boolean;
  gradientCheckpointing?: boolean;
  shuffle: boolean;
  resume: boolean;
  /** LoRA: the adapter's settings (sft/lora.ts LORA_DEFAULTS when absent). */
  lora?: LoraSettings;
  /** LoRA: an adapter folder (peft's layout) to go on training, its settings taking the place of `lora`. */
  adapter?: string;
  /** Replace the earlier checkpoint in --out (a fresh run refuses a non-empty folder otherwise). */
  overwrite?: boolean;
  /** Tokens of the sample reply generated before and after (0 = none). */
  sampleTokens: number;
  /** Head only: how each text is presented to the model, `{text}` standing for it (default `{text}`). */
  template?: string;
  /** How frozen weight matrices are stored (nn/weight-dtype.ts; default auto: the file's dtype). */
  dtype?: WeightDtype;
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

/** What identifies a base model folder: config.json's SHA-256 and the weights' size (reading GBs to hash them is not). */
async function baseFingerprint(folder: string): Promise<{ config_sha256: string; weights_bytes: number }> {
  const config = await readFile(join(folder, 'config.json'));
  const weights = ['model.safetensors', 'model.safetensors.index.json']
    .map((f) => join(folder, f))
    .find(existsSync);
  return {
    config_sha256: createHash('sha256').update(config).digest('hex'),
    weights_bytes: weights ? (await stat(weights)).size : 0,
  };
}

export interface SftControl {
  /** Polled between steps: true ends the run after the current step, with a checkpoint (Ctrl-C). */
  shouldStop?(): boolean;
  /** Training has ended and its final checkpoint is written (what follows is evaluation and the sample). */
  trainingDone?(): void;
}

/** Rows too few for one optimizer step, found before the model loads (packing decides only after tokenizing). */
function checkSomeSteps(args: SftArgs, rows: number): void {
  const perStep = args.batchSize * args.gradAccum;
  if (args.packing || args.strategy === 'head' || rows >= perStep - args.batchSize + 1) return;
  throw new InputError(
    `${args.train}: rows, expected at least ${perStep - args.batchSize + 1} for one optimizer step of --grad-accum ${args.gradAccum} batches of --batch-size ${args.batchSize}, got ${rows}`,
    'a run that would take no step is refused; lower --grad-accum or --batch-size',
  );
}

export async function runSft(
  gpu: Gpu,
  args: SftArgs,
  emit: (e: SftEvent) => void,
  control: SftControl = {},
): Promise<SftResult> {
  const info = (message: string) => emit({ type: 'info', message });
  // Recovery first: a run killed between a checkpoint's two renames left the complete checkpoint beside --out.
  for (const note of await prepareOutFolder(args.out, {
    resume: args.resume,
    overwrite: args.overwrite ?? false,
  }))
    info(note);
  if (args.resume && !existsSync(join(args.out, 'trainer_state.json'))) {
    throw new InputError(
      `--resume: ${args.out}, expected a checkpoint folder from an earlier run (trainer_state.json), got none`,
    );
  }
  const data = await readSplits(args);
  checkSomeSteps(args, data.train.rows.length);
  // A resumed run takes model and tokenizer from its checkpoint, which holds both; a LoRA checkpoint holds only the
  // adapter, which goes on the base model of the run (--model, from training_args.json when resuming).
  const lora = args.strategy === 'lora';
  const source = args.resume && !lora ? args.out : args.model;
  const adapterFolder = lora ? (args.resume ? args.out : args.adapter) : undefined;
  if (args.adapter && !lora)
    throw new InputError(
      `--adapter: ${args.adapter}, expected --strategy lora to train an adapter, got --strategy ${args.strategy}`,
    );
  const adapter = adapterFolder ? await readAdapterConfig(adapterFolder) : null;
  // A LoRA checkpoint is only the adapter: resuming on another base (a moved folder, another working directory)
  // would train on weights it was not made for, so the base is fingerprinted and checked.
  const base = lora ? await baseFingerprint(args.model) : undefined;
  if (lora && args.resume) {
    const saved = (
      JSON.parse(await readFile(join(args.out, 'training_args.json'), 'utf8')) as { base?: unknown }
    ).base;
    if (JSON.stringify(saved) !== JSON.stringify(base))
      throw new InputError(
        `--resume: base model ${args.model}, expected the one ${args.out} was trained on (${JSON.stringify(saved)?.slice(0, 120)}), got ${JSON.stringify(base)}`,
        'resume from the working directory of the first run, or give --model as the base it names',
      );
  }
  let planned: number | null = null;
  let passes: { rowsPerPass: number; passLength: number } | undefined;
  if (args.strategy !== 'head' && data.train.format !== 'text-label') {
    // What a step will hold, from the config alone: a batch past a binding limit runs in passes of fewer rows, and a
    // step that cannot fit even one row is refused before loading.
    // --dtype auto plans with the header's dtype (header only: no tensor is read).
    const fileDtype = fileMatrixDtype((await openWeights(source)).tensors.values());
    const plan = await planMemory(
      await readConfigJson(source),
      join(source, 'config.json'),
      {
        ...args,
        strategy: args.strategy,
        lora: adapter?.settings ?? args.lora,
        gradientCheckpointing: args.gradientCheckpointing ?? false,
        fileDtype,
      },
      metaLimitsOf(gpu),
    );
    info(describePlan(plan));
    planned = plan.peak;
    passes = { rowsPerPass: plan.rowsPerPass, passLength: plan.length };
  }
  // Loaded as stored (or widened for float32); the job then makes trained weights f32 and rounds frozen ones.
  const loadDtype = args.dtype === 'float32' ? 'float32' : 'auto';
  const { model, tokenizer } = await loadModelAndTokenizerFromFolder(gpu, source, {
    log: info,
    dtype: loadDtype,
  });
  const maxLength = Math.min(args.maxLength, model.contextLength);
  const total = countParameters(model.parameters());
  info(
    `model ${source}: ${model.kind}, ${(total.trainable + total.frozen).toLocaleString('en-US')} parameters, ${model.numLayers} blocks, context ${model.contextLength}`,
  );
  info(
    `data: ${data.train.rows.length} train, ${data.val.length} val, ${data.test.length} test rows (${data.train.format}), max length ${maxLength}`,
  );
  const head = args.strategy === 'head';
  const headWeight =
    head && args.resume
      ? await (await readSafetensorsPath(join(args.out, 'model.safetensors'))).getF32('score.weight')
      : undefined;
  const job = await buildJob(
    model,
    tokenizer,
    { train: data.train.rows, val: data.val, test: data.test },
    { ...args, maxLength, headWeight, lora: adapter?.settings ?? args.lora, ...passes },
    {
      name: (setting) => `--${setting}`,
      data: args.train,
      info,
    },
  );
  if (job.featureCache)
    info(
      `head: the backbone is frozen and runs in eval mode, so each text's last-token features were computed once (${job.featureCache.texts} texts in ${job.featureCache.seconds.toFixed(1)} s); every epoch trains the head on them, with checkpoints at most every ${HEAD_CHECKPOINT_SECONDS} s and at the end`,
    );
  if (adapterFolder && job.adapter) {
    const weights = await readAdapterWeights(adapterFolder);
    loadAdapterTensors(model, weights, join(adapterFolder, ADAPTER_WEIGHTS), job.adapter.head);
    info(`adapter: ${adapterFolder} (${job.adapter.targets.length} layers, r ${job.adapter.settings.r})`);
  }
  const params = job.report;
  info(
    `strategy ${args.strategy}: ${params.trainable.toLocaleString('en-US')} trainable parameters in ${params.trainableTensors} tensors, ${params.frozen.toLocaleString('en-US')} frozen (no gradient, no optimizer state)`,
  );

  const trainer = new Trainer(gpu, job.module, job.task, {
    epochs: args.epochs,
    maxSteps: args.maxSteps,
    gradAccum: args.gradAccum,
    lr: args.lr,
    lrSchedule: args.lrSchedule,
    warmupSteps: args.warmupSteps,
    weightDecay: args.weightDecay,
    beta1: args.beta1,
    beta2: args.beta2,
    eps: args.eps,
    clipGradNorm: args.clipGradNorm,
    seed: args.seed,
    evalEvery: args.evalEvery,
    patience: args.patience,
    restoreBest: job.restoreBest,
  });
  info(
    `GPU memory: ${(gpu.stats().liveBytes / 2 ** 20).toFixed(1)} MiB live (weights), optimizer state ${(trainer.optimizer.stateBytes / 2 ** 20).toFixed(1)} MiB`,
  );
  if (args.resume) {
    const state = await loadResumeState(args.out);
    // model.safetensors may hold the best weights restored at the end; the run goes on from those of its last step.
    if (state.current) for (const [name, data] of state.current) job.module.load(name, data);
    trainer.resume(state.trainerState, state.optimizer, state.best);
    info(`resumed from ${args.out} at step ${state.trainerState.step}`);
    if (trainer.keepsBest && !state.best && state.trainerState.bestStep > 0)
      info(
        `resume: ${args.out} has no best.safetensors, so the best weights (step ${state.trainerState.bestStep}) cannot be restored; only a better validation loss from now on will be`,
      );
  }
  // The CLI shows a reply only to a real prompt (prompt/completion rows), not to a chat or text excerpt.
  const sample = async (when: 'before' | 'after') => {
    if (job.sampleRow.format !== 'prompt-completion' || args.sampleTokens <= 0) return;
    emit({ type: 'sample', when, prompt: job.sampleInput, reply: await job.sample() });
  };
  const before = job.val.length && !args.resume ? await trainer.evaluate(job.val) : null;
  if (before) emit({ type: 'before', metrics: before, baseline: job.baseline });
  if (!args.resume) await sample('before');

  const metricsFile = join(args.out, 'metrics.jsonl');
  const trainingArgs = { ...args, model: args.model, base, engine: 'webgpu-sft', device: gpu.description };
  // An epoch on cached features is a few small kernels; rewriting the whole backbone after each would dominate.
  const checkpointSeconds = head ? HEAD_CHECKPOINT_SECONDS : 0;
  let metricsLines: string[] = []; // events since the last checkpoint, which writes them into metrics.jsonl
  let continues = args.resume; // the folder holds this run's checkpoint (not another run's, being overwritten)
  let lastCheckpoint = performance.now();
  let pendingBest: Map<string, Float32Array> | null = null; // a new best not yet written (throttled checkpoints)
  const done = await trainer.train({
    trainBatches: job.trainBatches,
    valBatches: job.val,
    shouldStop: control.shouldStop,
    onEvent: (e) => {
      emit(e);
      metricsLines.push(JSON.stringify(e));
    },
    onCheckpoint: async (trainerState, optimizer, reason, weights) => {
      pendingBest = weights.best ?? pendingBest;
      if (reason === 'eval' && performance.now() - lastCheckpoint < checkpointSeconds * 1000) return;
      lastCheckpoint = performance.now();
      await saveCheckpoint(args.out, {
        model: job.module,
        config: job.config,
        sourceFolder: source,
        adapter: job.adapter ? await exportAdapter(model, job.adapter, args.model) : undefined,
        tokenizer, // loaded above: each checkpoint would otherwise parse it again
        chatTemplate: job.chat?.source,
        trainingArgs,
        optimizer,
        trainerState,
        best: pendingBest,
        resumeWeights: weights.current,
        metricsLines,
        continues,
      });
      metricsLines = [];
      continues = true;
      pendingBest = null;
    },
  });
  control.trainingDone?.();
  // Training steps, evaluations and samples since the model loaded: the planner's figure is a step's.
  const peak = gpu.pool.takePeakBytes();
  info(
    `GPU memory: peak ${(peak / 2 ** 20).toFixed(1)} MiB live${planned === null ? '' : ` (planned ${(planned / 2 ** 20).toFixed(1)} MiB)`}`,
  );
  // The events after the final checkpoint ('done'): a log, appended in place. Without a checkpoint, none.
  if (continues && existsSync(metricsFile))
    await appendFile(metricsFile, metricsLines.map((l) => l + '\n').join(''));
  if (done.reason === 'stopped' || done.reason === 'nonfinite') {
    trainer.dispose();
    job.dispose();
    model.dispose();
    return { before, after: null, test: null, steps: done.step, reason: done.reason };
  }
  if (job.restoreBest && trainer.state.bestStep > 0)
    info(
      `head: kept the head of step ${trainer.state.bestStep}, the best validation loss (${trainer.state.bestLoss.toFixed(4)})`,
    );
  const after = job.val.length ? await trainer.evaluate(job.val) : null;
  if (after) emit({ type: 'after', metrics: after, baseline: job.baseline });
  const test = job.test.length ? await trainer.evaluate(job.test) : null;
  if (test) emit({ type: 'test', metrics: test, baseline: job.testBaseline });
  await sample('after');
  trainer.dispose();
  job.dispose();
  model.dispose();
  return { before, after, test, steps: done.step, reason: done.reason };
}
