// The demo page: self-test on this GPU, load the bundled GPT-2 or a picked GPT-2 / Llama folder and data, train
// with a live loss chart and a Stop button, compare a sample before and after, download the weights. Every failure
// goes to the error box. `window.demo` mirrors what happened, for the headless tests and the screenshot script.
import {
  adapterConfig,
  adapterTensors,
  countParameters,
  createDevice,
  InputError,
  LORA_DEFAULTS,
  loadModelFromFiles,
  parseJsonl,
  runSelftest,
  serializeSafetensors,
  SFT_DEFAULTS,
  splitByRatios,
  Trainer,
  type AnyModel,
  type DataRow,
  type Gpu,
  type SelftestRow,
  type Strategy,
  type Tokenizer,
  type TrainEvent,
} from '../src/advanced.ts';
import { LossChart, type Point } from './loss-chart.ts';
import { buildJob, type Job } from './train-job.ts';

export interface DemoState {
  phase: 'starting' | 'ready' | 'busy' | 'failed';
  device: string | null;
  software: boolean;
  selftest: { rows: SelftestRow[]; passed: boolean; seconds: number } | null;
  model: string | null;
  data: string | null;
  train: Point[];
  val: Point[];
  sampleBefore: string | null;
  sampleAfter: string | null;
  done: { reason: string; steps: number; seconds: number } | null;
  /** The step of the weights kept on the CPU at the last evaluation, offered for download if the GPU is lost. */
  lastGoodStep: number | null;
  deviceLost: boolean;
  errors: string[];
}

const state: DemoState = {
  phase: 'starting',
  device: null,
  software: false,
  selftest: null,
  model: null,
  data: null,
  train: [],
  val: [],
  sampleBefore: null,
  sampleAfter: null,
  done: null,
  lastGoodStep: null,
  deviceLost: false,
  errors: [],
};
// The weights as of the last evaluation (the trainer's checkpoint points), copied off the GPU so that a lost device
// does not lose the run: Download then offers these.
// For a LoRA job, the adapter (peft's names) and its adapter_config.json.
interface SavedWeights {
  tensors: Awaited<ReturnType<Job['module']['exportTensors']>>;
  adapterConfig: Record<string, unknown> | null;
}
let lastGood: (SavedWeights & { step: number }) | null = null;
(globalThis as unknown as { demo: DemoState }).demo = state;

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page: element #${id}, expected it in index.html, got none`);
  return el as T;
}
const input = (id: string) => $<HTMLInputElement>(id);
const chart = new LossChart($<HTMLCanvasElement>('chart'));
const ACTIONS = [
  'selftest-run',
  'load-bundled',
  'model-files',
  'data-files',
  'train',
  'download',
  'download-config',
];

function showError(e: unknown): void {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  state.errors.push(message);
  const box = $('error');
  box.hidden = false;
  box.textContent = state.errors.slice(-3).join('\n\n');
  console.error(e);
}
window.addEventListener('error', (e) => showError(e.error ?? e.message));
window.addEventListener('unhandledrejection', (e) => showError(e.reason));

const status = (text: string) => ($('status').textContent = text);

let gpu: Gpu | null = null;
let loaded: { model: AnyModel; tokenizer: Tokenizer; name: string } | null = null;
let data: { train: DataRow[]; val: DataRow[]; name: string } | null = null;
let job: Job | null = null;
let stopRequested = false;

/** Runs a page action: other actions disabled meanwhile, errors to the error box. */
async function action(fn: () => Promise<void>): Promise<void> {
  if (state.phase !== 'ready') return;
  state.phase = 'busy';
  for (const id of ACTIONS) ($(id) as HTMLButtonElement).disabled = true;
  try {
    await fn();
  } catch (e) {
    showError(e);
  } finally {
    state.phase = 'ready';
    for (const id of ACTIONS) ($(id) as HTMLButtonElement).disabled = false;
    for (const id of ['download', 'download-config'])
      ($(id) as HTMLButtonElement).disabled = state.deviceLost ? !lastGood : !loaded;
    if (state.deviceLost)
      for (const id of ACTIONS) ($(id) as HTMLButtonElement).disabled = !id.startsWith('download');
    $<HTMLButtonElement>('stop').disabled = true;
  }
}

function on(id: string, event: string, fn: () => Promise<void>): void {
  $(id).addEventListener(event, () => void action(fn));
}

// --- Self-test ----------------------------------------------------------------------------------------------------

const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));

function addSelftestRow(r: SelftestRow): void {
  const tr = document.createElement('tr');
  tr.className = r.pass ? 'pass' : 'fail';
  for (const [text, cls] of [
    [r.kernel],
    [r.size],
    [r.output],
    [fmt(r.relL2), 'num'],
    [fmt(r.bound), 'num'],
    [r.pass ? 'pass' : `FAIL${r.error ? ` ${r.error}` : ''}`],
  ]) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
  }
  $('selftest-rows').append(tr);
  tr.scrollIntoView({ block: 'nearest' });
}

on('selftest-run', 'click', async () => {
  const filters = input('selftest-filter')
    .value.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  $('selftest-rows').replaceChildren();
  $('selftest-table-wrap').hidden = false;
  const started = performance.now();
  const rows: SelftestRow[] = [];
  let seed: number | undefined;
  for (const filter of filters.length ? filters : ['']) {
    $('selftest-summary').textContent = `running ${filter || 'every check'}…`;
    const result = await runSelftest(gpu!, { filter, seed, onRow: addSelftestRow });
    seed = result.seed;
    if (!result.rows.length)
      throw new InputError(`self-test: filter "${filter}", expected to match a kernel, got none`);
    rows.push(...result.rows);
  }
  const failed = rows.filter((r) => !r.pass).length;
  const seconds = (performance.now() - started) / 1000;
  state.selftest = { rows, passed: failed === 0, seconds };
  $('selftest-summary').textContent =
    `${rows.length} outputs, ${failed ? `${failed} FAILED` : 'all pass'} (seed ${seed}, ${seconds.toFixed(1)} s)`;
});

// --- Model and data ----------------------------------------------------------------------------------------

const BUNDLED_MODEL = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'];

async function fetchFiles(folder: string, names: string[]): Promise<Map<string, Blob>> {
  const files = new Map<string, Blob>();
  for (const name of names) {
    const url = `bundled/${folder}/${name}`;
    const response = await fetch(url);
    if (!response.ok) throw new InputError(`${url}: HTTP status, expected 200, got ${response.status}`);
    files.set(name, await response.blob());
  }
  return files;
}

async function loadModel(files: Map<string, Blob> | FileList, name: string): Promise<void> {
  status(`loading ${name}…`);
  job?.dispose();
  job = null;
  loaded?.model.dispose();
  loaded = null;
  const { model, tokenizer } = await loadModelFromFiles(gpu!, files);
  loaded = { model, tokenizer, name };
  const params = countParameters(model.parameters());
  const [arch, heads] =
    model.kind === 'gpt2'
      ? ['GPT-2', `${model.config.nHead} heads`]
      : ['Llama', `${model.config.numHeads} heads over ${model.config.numKvHeads} KV heads`];
  state.model = name;
  $('model-info').textContent =
    `${name}: ${arch}, ${(params.trainable + params.frozen).toLocaleString('en-US')} parameters, ` +
    `${model.numLayers} blocks, C=${model.hiddenSize}, ${heads}, context ${model.contextLength}, ` +
    `vocabulary ${model.vocabSize}`;
  status(`${name} loaded`);
}

function setData(train: DataRow[], val: DataRow[], name: string): void {
  data = { train, val, name };
  state.data = name;
  $('data-info').textContent =
    `data ${name}: ${train.length} train rows, ${val.length} val rows (${train[0].format})`;
}

async function loadBundledData(set: string): Promise<void> {
  const files = await fetchFiles(set, ['train.jsonl', 'val.jsonl']);
  const rows = async (name: string) => parseJsonl(await files.get(name)!.text(), `${set}/${name}`).rows;
  setData(await rows('train.jsonl'), await rows('val.jsonl'), set);
}

on('load-bundled', 'click', async () => {
  await loadModel(await fetchFiles('gpt2-shakespeare', BUNDLED_MODEL), 'gpt2-shakespeare');
});
on('model-files', 'change', async () => {
  const files = input('model-files').files;
  if (files?.length) await loadModel(files, `${files.length} picked files`);
});
on('data-files', 'change', async () => {
  const files = [...(input('data-files').files ?? [])];
  if (!files.length) return;
  const parsed = await Promise.all(
    files.map(async (f) => ({ name: f.name, rows: parseJsonl(await f.text(), f.name).rows })),
  );
  const val = parsed.filter((p) => /val/i.test(p.name)).flatMap((p) => p.rows);
  const train = parsed.filter((p) => !/val/i.test(p.name)).flatMap((p) => p.rows);
  if (!train.length)
    throw new InputError(
      `data files: train rows, expected a file not named *val*, got ${files.map((f) => f.name).join(', ')}`,
    );
  if (val.length) setData(train, val, files.map((f) => f.name).join(' + '));
  else {
    const split = splitByRatios(train, { val: SFT_DEFAULTS.valRatio, test: 0, seed: SFT_DEFAULTS.seed });
    const held = `${SFT_DEFAULTS.valRatio * 100}% held out for val`;
    setData(split.train, split.val, `${files.map((f) => f.name).join(' + ')} (${held})`);
  }
});
$('dataset').addEventListener('change', () => (data = null));

// --- Training ----------------------------------------------------------------------------------------------

/** A numeric field, validated: the error names the field. */
function field(id: string, o: { integer?: boolean; min: number }): number {
  const raw = input(id).value;
  const value = Number(raw);
  const kind = o.integer ? 'an integer' : 'a number';
  if (
    raw.trim() === '' ||
    !Number.isFinite(value) ||
    value < o.min ||
    (o.integer && !Number.isInteger(value))
  ) {
    throw new InputError(`field "${id}": value, expected ${kind} ≥ ${o.min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function onTrainEvent(e: TrainEvent, started: number): void {
  if (e.type === 'step') {
    state.train.push({ step: e.step, loss: e.loss });
    chart.add('train', e.step, e.loss);
    status(
      `step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(3)}  ${e.tokensPerSecond.toFixed(0)} tokens/s  ` +
        `${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
  } else if (e.type === 'eval') {
    state.val.push({ step: e.step, loss: e.metrics.loss });
    chart.add('val', e.step, e.metrics.loss);
  } else if (e.type === 'nonfinite') {
    showError(
      new InputError(
        `train: loss at step ${e.step}, expected a finite number, got ${e.loss}`,
        'lower the learning rate',
      ),
    );
  }
}

type Settings = ReturnType<typeof readSettings>;

function readSettings() {
  return {
    strategy: $<HTMLSelectElement>('strategy').value as Strategy,
    freezeLayers: field('freeze-layers', { integer: true, min: 0 }),
    lr: field('lr', { min: 0 }),
    steps: field('steps', { integer: true, min: 1 }),
    batchSize: field('batch-size', { integer: true, min: 1 }),
    maxLength: field('max-length', { integer: true, min: 2 }),
    trainRows: field('train-rows', { integer: true, min: 0 }),
    valRows: field('val-rows', { integer: true, min: 0 }),
    evalEvery: field('eval-every', { integer: true, min: 0 }),
    replyTokens: field('reply-tokens', { integer: true, min: 0 }),
    seed: SFT_DEFAULTS.seed,
    lora: {
      ...LORA_DEFAULTS,
      r: field('lora-r', { integer: true, min: 1 }),
      alpha: field('lora-alpha', { min: 0 }),
      targets: $<HTMLInputElement>('lora-targets')
        .value.split(',')
        .map((t) => t.trim())
        .filter((t) => t),
    },
  };
}

/** A new job for the settings (the previous one disposed first), on the loaded model and data. */
async function newJob(settings: Settings): Promise<Job> {
  if (!loaded) await loadModel(await fetchFiles('gpt2-shakespeare', BUNDLED_MODEL), 'gpt2-shakespeare');
  if (!data) await loadBundledData($<HTMLSelectElement>('dataset').value);
  const previous = job;
  job = null;
  previous?.dispose();
  const take = (rows: DataRow[], n: number) => (n > 0 ? rows.slice(0, n) : rows);
  const rows = { train: take(data!.train, settings.trainRows), val: take(data!.val, settings.valRows) };
  return (job = await buildJob(loaded!.model, loaded!.tokenizer, rows, settings, status));
}

// The CLI's defaults (SFT_DEFAULTS), but a constant learning rate and no weight decay: runs here are a few steps long.
function newTrainer(current: Job, settings: Settings): Trainer<unknown> {
  return new Trainer(gpu!, current.module, current.task, {
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

on('train', 'click', async () => {
  Object.assign(state, { train: [], val: [], sampleBefore: null, sampleAfter: null, done: null });
  stopRequested = false;
  lastGood = null;
  state.lastGoodStep = null;
  $<HTMLButtonElement>('stop').disabled = false;
  const settings = readSettings();
  const current = await newJob(settings);
  const trainer = newTrainer(current, settings);
  try {
    chart.clear(settings.steps);
    $('sample-input').textContent = current.sampleInput;
    $('sample-before').textContent = $('sample-after').textContent = '';
    const { trainable, frozen } = current.report;
    const count = (n: number) => n.toLocaleString('en-US');
    status(
      `${settings.strategy}: ${count(trainable)} trainable, ${count(frozen)} frozen parameters; sampling…`,
    );
    if (settings.replyTokens > 0)
      $('sample-before').textContent = state.sampleBefore = await current.sample();
    status('evaluating before training…');
    const before = await trainer.evaluate(current.val);
    state.val.push({ step: 0, loss: before.loss });
    chart.add('val', 0, before.loss);
    const started = performance.now();
    const done = await trainer.train({
      trainBatches: current.trainBatches,
      valBatches: current.val,
      onEvent: (e) => onTrainEvent(e, started),
      shouldStop: () => stopRequested,
      onCheckpoint: async (trainerState) => {
        lastGood = { step: trainerState.step, ...(await weightsToSave(current)) };
        state.lastGoodStep = trainerState.step;
      },
    });
    $<HTMLButtonElement>('stop').disabled = true;
    const seconds = (performance.now() - started) / 1000;
    if (settings.replyTokens > 0) $('sample-after').textContent = state.sampleAfter = await current.sample();
    state.done = { reason: done.reason, steps: done.step, seconds };
    // The head ends with its best validation loss's weights, which need not be the last evaluated.
    const kept = current.restoreBest && trainer.state.bestStep > 0;
    const after = kept ? trainer.state.bestLoss : state.val.at(-1)!.loss;
    status(
      `done: ${done.step} steps in ${seconds.toFixed(1)} s (${done.reason}), ` +
        `val loss ${before.loss.toFixed(3)} → ${after.toFixed(3)}` +
        (kept ? ` (the head of step ${trainer.state.bestStep}, the best)` : ''),
    );
  } finally {
    trainer.dispose();
  }
});
$('stop').addEventListener('click', () => {
  stopRequested = true;
  status('stopping after this step…');
});

// --- Download ----------------------------------------------------------------------------------------------

function saveBlob(blob: Blob, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

/** What Download saves for a job: the model's tensors, or for LoRA the adapter in peft's layout with its config. */
async function weightsToSave(current: Job | null): Promise<SavedWeights> {
  const model = loaded!.model;
  if (!current?.adapter)
    return { tensors: await (current?.module ?? model).exportTensors(), adapterConfig: null };
  const { settings, targets } = current.adapter;
  const tensors = (await adapterTensors(model)).map((t) => ({ ...t, dtype: 'F32' as const }));
  return { tensors, adapterConfig: adapterConfig(model, settings, targets, state.model ?? 'base model') };
}

on('download', 'click', async () => {
  if (state.deviceLost && !lastGood)
    throw new Error(
      'download: weights, expected a copy from an evaluation, got none (the GPU was lost before one)',
    );
  status(
    state.deviceLost
      ? `the GPU was lost: the weights of step ${lastGood!.step}, the last evaluation…`
      : 'reading weights from the GPU…',
  );
  const { tensors, adapterConfig: config } = state.deviceLost ? lastGood! : await weightsToSave(job);
  const bytes = serializeSafetensors(tensors);
  const name = config ? 'adapter_model.safetensors' : 'model.safetensors';
  saveBlob(new Blob([bytes], { type: 'application/octet-stream' }), name);
  if (config)
    saveBlob(
      new Blob([JSON.stringify(config, null, 2) + '\n'], { type: 'application/json' }),
      'adapter_config.json',
    );
  status(
    `${name}${config ? ' and adapter_config.json' : ''}: ${tensors.length} tensors, ${(bytes.length / 2 ** 20).toFixed(2)} MiB`,
  );
});
on('download-config', 'click', async () => {
  const config = job?.config ?? loaded!.model.rawConfig;
  saveBlob(new Blob([JSON.stringify(config, null, 2) + '\n'], { type: 'application/json' }), 'config.json');
});

// --- Start -------------------------------------------------------------------------------------------------

async function start(): Promise<void> {
  for (const id of [...ACTIONS, 'stop']) ($(id) as HTMLButtonElement).disabled = true;
  try {
    gpu = await createDevice({ log: null });
  } catch (e) {
    state.phase = 'failed';
    $('device').textContent = 'No WebGPU device: see the error above.';
    showError(e);
    return;
  }
  state.device = gpu.description;
  state.software = gpu.software;
  $('device').textContent =
    `GPU: ${gpu.description || 'unnamed adapter'}${gpu.software ? ' (software adapter: slow)' : ''}`;
  // The page never destroys its device, so any loss (a driver reset, the GPU gone; destroy() in the tests) ends the
  // session: the weights of the last evaluation stay downloadable.
  void gpu.device.lost.then((info) => {
    state.deviceLost = true;
    stopRequested = true;
    const offer = lastGood
      ? `; Download saves the weights of step ${lastGood.step}, the last evaluation`
      : '';
    showError(
      new Error(`GPU device lost (${info.reason}${info.message ? `: ${info.message}` : ''})${offer}`),
    );
    for (const id of ACTIONS) ($(id) as HTMLButtonElement).disabled = !(id === 'download' && lastGood);
  });
  // For the headless tests: device.destroy() stands in for a lost GPU.
  (globalThis as unknown as { demoLoseDevice: () => void }).demoLoseDevice = () => gpu?.device.destroy();
  state.phase = 'ready';
  for (const id of ACTIONS) ($(id) as HTMLButtonElement).disabled = false;
  for (const id of ['download', 'download-config']) ($(id) as HTMLButtonElement).disabled = true;
}

void start();
