// The demo's engine, in a module Worker: the GPU device, the loaded model, the job and the trainer live here, so the
// page stays responsive while a step's work is encoded and the data tokenized. The page talks to it through the
// messages of engine-protocol.ts; each request gets one reply, progress streams as notes.
import {
  checkpointTokenizerConfig,
  chatTemplateFor,
  withDtype,
  exportAdapter,
  countParameters,
  createDevice,
  InputError,
  loadModelFromFiles,
  runSelftest,
  serializeSafetensors,
  SFT_DEFAULTS,
  Trainer,
  type AnyModel,
  type DataRow,
  type Gpu,
  type SelftestRow,
  type Tokenizer,
} from '../src/advanced.ts';
import type { FromWorker, Note, Request, Results, ToWorker, TrainSettings } from './engine-protocol.ts';
import { buildJob, type Job } from './train-job.ts';

// The weights as of the last evaluation (the trainer's checkpoint points), copied off the GPU so that a lost device
// does not lose the run. For a LoRA job, the adapter (peft's names) and its adapter_config.json.
interface SavedWeights {
  tensors: Awaited<ReturnType<Job['module']['exportTensors']>>;
  adapterConfig: Record<string, unknown> | null;
}

let gpu: Gpu | null = null;
let loaded: {
  model: AnyModel;
  tokenizer: Tokenizer;
  name: string;
  tokenizerConfig: Record<string, unknown> | undefined; // the picked tokenizer_config.json, if any
} | null = null;
let job: Job | null = null;
let lastGood: (SavedWeights & { step: number }) | null = null;
let deviceLost = false;
let stopRequested = false;

const post = (message: FromWorker, transfer: Transferable[] = []): void => postMessage(message, { transfer });
const note = (n: Note): void => post(n);
const status = (text: string): void => note({ note: 'status', text });

function device(): Gpu {
  if (!gpu) throw new Error('engine: GPU device, expected one opened by "open", got none');
  return gpu;
}

async function open(): Promise<Results['open']> {
  gpu = await createDevice({ log: null });
  // The page never destroys its device, so any loss (a driver reset, the GPU gone; destroy() in the tests) ends the
  // session: the weights of the last evaluation stay downloadable.
  void gpu.device.lost.then((info) => {
    deviceLost = true;
    stopRequested = true;
    note({
      note: 'device-lost',
      message: `${info.reason}${info.message ? `: ${info.message}` : ''}`,
      lastGoodStep: lastGood?.step ?? null,
    });
  });
  return { description: gpu.description, software: gpu.software };
}

async function selftest(filters: string[]): Promise<Results['selftest']> {
  const rows: SelftestRow[] = [];
  let seed: number | undefined;
  for (const filter of filters.length ? filters : ['']) {
    status(`running ${filter || 'every check'}…`);
    const result = await runSelftest(device(), {
      filter,
      seed,
      onRow: (row) => note({ note: 'selftest-row', row }),
    });
    seed = result.seed;
    if (!result.rows.length)
      throw new InputError(`self-test: filter "${filter}", expected to match a kernel, got none`);
    rows.push(...result.rows);
  }
  return { rows, seed: seed! };
}

async function loadModel(files: [string, Blob][], name: string): Promise<Results['load-model']> {
  status(`loading ${name}…`);
  job?.dispose();
  job = null;
  loaded?.model.dispose();
  loaded = null;
  const { model, tokenizer } = await loadModelFromFiles(device(), new Map(files));
  const picked = files.find(([file]) => file === 'tokenizer_config.json')?.[1];
  const tokenizerConfig = picked ? (JSON.parse(await picked.text()) as Record<string, unknown>) : undefined; // loaded above
  loaded = { model, tokenizer, name, tokenizerConfig };
  const params = countParameters(model.parameters());
  const [arch, heads] =
    model.kind === 'gpt2'
      ? ['GPT-2', `${model.config.nHead} heads`]
      : [model.hfClasses.causalLm.replace('ForCausalLM', ''), `${model.config.numHeads} heads over ${model.config.numKvHeads} KV heads`];
  status(`${name} loaded`);
  return {
    info:
      `${name}: ${arch}, ${(params.trainable + params.frozen).toLocaleString('en-US')} parameters, ` +
      `${model.numLayers} blocks, C=${model.hiddenSize}, ${heads}, context ${model.contextLength}, ` +
      `vocabulary ${model.vocabSize}`,
  };
}

/** What Download saves for a job: the model's tensors, or for LoRA the adapter in peft's layout with its config. */
async function weightsToSave(current: Job | null): Promise<SavedWeights> {
  const model = loaded!.model;
  if (!current?.adapter)
    return { tensors: await (current?.module ?? model).exportTensors(), adapterConfig: null };
  const { config, tensors } = await exportAdapter(model, current.adapter, loaded!.name);
  return { tensors: tensors.map((t) => ({ ...t, dtype: 'F32' as const })), adapterConfig: config };
}

// The CLI's defaults (SFT_DEFAULTS), but a constant learning rate and no weight decay: runs here are a few steps long.
function newTrainer(current: Job, settings: TrainSettings): Trainer<unknown> {
  return new Trainer(device(), current.module, current.task, {
    ...SFT_DEFAULTS,
    epochs: Math.ceil(settings.steps / current.trainBatches(0).length),
    maxSteps: settings.steps,
    lr: settings.lr,
    lrSchedule: 'constant',
    weightDecay: 0,
    seed: settings.seed,
    evalEvery: settings.evalEvery,
    patience: 0,
    restoreBest: current.restoreBest,
  });
}

async function train(
  settings: TrainSettings,
  rows: { train: DataRow[]; val: DataRow[] },
): Promise<Results['train']> {
  if (!loaded) throw new InputError('train: model, expected one loaded, got none');
  stopRequested = false;
  lastGood = null;
  const previous = job;
  job = null;
  previous?.dispose();
  const take = <T>(list: T[], n: number) => (n > 0 ? list.slice(0, n) : list);
  const data = { train: take(rows.train, settings.trainRows), val: take(rows.val, settings.valRows) };
  const current = (job = await buildJob(loaded.model, loaded.tokenizer, data, settings, status));
  const trainer = newTrainer(current, settings);
  try {
    const { trainable, frozen } = current.report;
    note({ note: 'train-start', sampleInput: current.sampleInput, trainable, frozen });
    if (settings.replyTokens > 0) note({ note: 'sample', which: 'before', text: await current.sample() });
    status('evaluating before training…');
    const before = await trainer.evaluate(current.val);
    note({ note: 'eval-before', loss: before.loss });
    let lastVal = before.loss;
    const started = performance.now();
    const done = await trainer.train({
      trainBatches: current.trainBatches,
      valBatches: current.val,
      onEvent: (event) => {
        if (event.type === 'eval') lastVal = event.metrics.loss;
        note({ note: 'event', event });
      },
      shouldStop: () => stopRequested,
      onCheckpoint: async (trainerState) => {
        lastGood = { step: trainerState.step, ...(await weightsToSave(current)) };
        note({ note: 'checkpoint', step: trainerState.step });
      },
    });
    const seconds = (performance.now() - started) / 1000;
    if (settings.replyTokens > 0) note({ note: 'sample', which: 'after', text: await current.sample() });
    // The head ends with its best validation loss's weights, which need not be the last evaluated.
    const kept = current.restoreBest && trainer.state.bestStep > 0;
    return {
      reason: done.reason,
      steps: done.step,
      seconds,
      before: before.loss,
      after: kept ? trainer.state.bestLoss : lastVal,
      keptStep: kept ? trainer.state.bestStep : null,
    };
  } finally {
    trainer.dispose();
  }
}

async function weights(): Promise<Results['weights']> {
  if (deviceLost && !lastGood)
    throw new Error(
      'download: weights, expected a copy from an evaluation, got none (the GPU was lost before one)',
    );
  if (!loaded) throw new InputError('download: model, expected one loaded, got none');
  status(
    deviceLost
      ? `the GPU was lost: the weights of step ${lastGood!.step}, the last evaluation…`
      : 'reading weights from the GPU…',
  );
  const saved = deviceLost ? lastGood! : await weightsToSave(job);
  const bytes = serializeSafetensors(saved.tensors);
  return {
    bytes,
    tensors: saved.tensors.length,
    adapterConfig: saved.adapterConfig,
    step: deviceLost ? lastGood!.step : null,
  };
}

function config(): Results['config'] {
  if (!loaded) throw new InputError('download: model, expected one loaded, got none');
  const raw = job?.config ?? loaded.model.rawConfig;
  // dtype as the downloaded weights are stored (frozen 16-bit matrices as loaded, the rest float32).
  const dtypes = { f32: 'F32', f16: 'F16', bf16: 'BF16', i32: 'I32' } as const;
  const stored = loaded.model.parameters().map((p) => ({ dtype: dtypes[p.dtype], shape: p.shape }));
  const { tokenizer, tokenizerConfig } = loaded;
  const chat = chatTemplateFor(tokenizer).source;
  return {
    config: withDtype(raw, stored as unknown as Parameters<typeof withDtype>[1]),
    tokenizerConfig: checkpointTokenizerConfig(tokenizerConfig, raw, tokenizer, chat, 'config.json'),
  };
}

async function handle(request: Request): Promise<unknown> {
  switch (request.op) {
    case 'open':
      return open();
    case 'selftest':
      return selftest(request.filters);
    case 'load-model':
      return loadModel(request.files, request.name);
    case 'train':
      return train(request.settings, request.rows);
    case 'weights':
      return weights();
    case 'config':
      return config();
  }
}

onmessage = async ({ data }: MessageEvent<ToWorker>) => {
  if ('signal' in data) {
    if (data.signal === 'stop') stopRequested = true;
    else gpu?.device.destroy(); // the tests' stand-in for a lost GPU
    return;
  }
  const { id, ...request } = data;
  try {
    const result = await handle(request);
    const transfer = request.op === 'weights' ? [(result as Results['weights']).bytes.buffer] : [];
    post({ id, ok: true, result }, transfer as Transferable[]);
  } catch (e) {
    const error =
      e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
    console.error(e);
    post({ id, ok: false, error });
  }
};
