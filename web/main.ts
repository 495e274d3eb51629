// The demo page: self-test on this GPU, load the bundled GPT-2 or a picked GPT-2 / Llama folder and data, train
// with a live loss chart and a Stop button, compare a sample before and after, download the weights. The GPU work
// runs in a module Worker (engine-worker.ts): this thread only reads the form and draws, so the page stays
// responsive while a model trains. Every failure goes to the error box. `window.demo` mirrors what happened, for
// the headless tests and the screenshot script.
import {
  InputError,
  LORA_DEFAULTS,
  parseJsonl,
  SFT_DEFAULTS,
  splitByRatios,
  type DataRow,
  type SelftestRow,
  type Strategy,
  type TrainEvent,
} from '../src/advanced.ts';
import type { FromWorker, Note, Request, Results, ToWorker, TrainSettings } from './engine-protocol.ts';
import { LossChart, type Point } from './loss-chart.ts';

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

let data: { train: DataRow[]; val: DataRow[]; name: string } | null = null;
let trainStarted = 0;

// --- The engine Worker ---------------------------------------------------------------------------------------

const worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module' });
const pending = new Map<number, { done: (result: unknown) => void; fail: (e: Error) => void }>();
let nextId = 1;

/** Sends a request to the engine; resolves with its result, or rejects with its error (name and message kept). */
function call<K extends Request['op']>(request: Request & { op: K }): Promise<Results[K]> {
  const id = nextId++;
  return new Promise((done, fail) => {
    pending.set(id, { done: done as (result: unknown) => void, fail });
    worker.postMessage({ id, ...request } satisfies ToWorker);
  });
}
const signal = (message: ToWorker & { signal: string }) => worker.postMessage(message);

worker.onerror = (e) => showError(new Error(`engine worker: ${e.message || 'failed to start'}`));
worker.onmessage = ({ data: message }: MessageEvent<FromWorker>) => {
  if ('note' in message) return onNote(message);
  const waiting = pending.get(message.id);
  pending.delete(message.id);
  if (!waiting) return;
  if (message.ok) return waiting.done(message.result);
  const error = new Error(message.error.message);
  error.name = message.error.name;
  waiting.fail(error);
};

function onNote(n: Note): void {
  switch (n.note) {
    case 'status':
      status(n.text);
      return;
    case 'selftest-row':
      return addSelftestRow(n.row);
    case 'train-start': {
      $('sample-input').textContent = n.sampleInput;
      const count = (x: number) => x.toLocaleString('en-US');
      status(`${count(n.trainable)} trainable, ${count(n.frozen)} frozen parameters; sampling…`);
      return;
    }
    case 'sample':
      if (n.which === 'before') $('sample-before').textContent = state.sampleBefore = n.text;
      else $('sample-after').textContent = state.sampleAfter = n.text;
      return;
    case 'eval-before':
      state.val.push({ step: 0, loss: n.loss });
      chart.add('val', 0, n.loss);
      trainStarted = performance.now();
      return;
    case 'event':
      return onTrainEvent(n.event);
    case 'checkpoint':
      state.lastGoodStep = n.step;
      return;
    case 'device-lost':
      return onDeviceLost(n.message, n.lastGoodStep);
  }
}

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
      ($(id) as HTMLButtonElement).disabled = state.deviceLost ? state.lastGoodStep === null : !state.model;
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
  $('selftest-summary').textContent = `running ${filters.join(', ') || 'every check'}…`;
  const started = performance.now();
  const { rows, seed } = await call({ op: 'selftest', filters });
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

/** Loads a model in the engine from Blobs (fetched, or picked Files: a Blob keeps its bytes on disk until read). */
async function loadModel(files: Map<string, Blob> | FileList, name: string): Promise<void> {
  state.model = null;
  const entries: [string, Blob][] =
    files instanceof Map ? [...files] : [...files].map((f) => [f.name, f] as [string, Blob]);
  const { info } = await call({ op: 'load-model', files: entries, name });
  state.model = name;
  $('model-info').textContent = info;
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

function onTrainEvent(e: TrainEvent): void {
  if (e.type === 'step') {
    state.train.push({ step: e.step, loss: e.loss });
    chart.add('train', e.step, e.loss);
    status(
      `step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(3)}  ${e.tokensPerSecond.toFixed(0)} tokens/s  ` +
        `${((performance.now() - trainStarted) / 1000).toFixed(0)} s`,
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

function readSettings(): TrainSettings {
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

on('train', 'click', async () => {
  Object.assign(state, {
    train: [],
    val: [],
    sampleBefore: null,
    sampleAfter: null,
    done: null,
    lastGoodStep: null,
  });
  const settings = readSettings();
  if (!state.model) await loadModel(await fetchFiles('gpt2-shakespeare', BUNDLED_MODEL), 'gpt2-shakespeare');
  if (!data) await loadBundledData($<HTMLSelectElement>('dataset').value);
  chart.clear(settings.steps);
  $('sample-before').textContent = $('sample-after').textContent = '';
  $<HTMLButtonElement>('stop').disabled = false;
  const rows = { train: data!.train, val: data!.val };
  const done = await call({ op: 'train', settings, rows });
  $<HTMLButtonElement>('stop').disabled = true;
  state.done = { reason: done.reason, steps: done.steps, seconds: done.seconds };
  status(
    `done: ${done.steps} steps in ${done.seconds.toFixed(1)} s (${done.reason}), ` +
      `val loss ${done.before.toFixed(3)} → ${done.after.toFixed(3)}` +
      (done.keptStep !== null ? ` (the head of step ${done.keptStep}, the best)` : ''),
  );
});
$('stop').addEventListener('click', () => {
  signal({ signal: 'stop' });
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

on('download', 'click', async () => {
  const { bytes, tensors, adapterConfig: config } = await call({ op: 'weights' });
  const name = config ? 'adapter_model.safetensors' : 'model.safetensors';
  saveBlob(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }), name);
  if (config)
    saveBlob(
      new Blob([JSON.stringify(config, null, 2) + '\n'], { type: 'application/json' }),
      'adapter_config.json',
    );
  status(
    `${name}${config ? ' and adapter_config.json' : ''}: ${tensors} tensors, ${(bytes.length / 2 ** 20).toFixed(2)} MiB`,
  );
});
on('download-config', 'click', async () => {
  const { config, tokenizerConfig } = await call({ op: 'config' });
  saveBlob(new Blob([JSON.stringify(config, null, 2) + '\n'], { type: 'application/json' }), 'config.json');
  // The chat template trained with and a pad token, for transformers/TRL users of the downloaded weights.
  saveBlob(
    new Blob([JSON.stringify(tokenizerConfig, null, 2) + '\n'], { type: 'application/json' }),
    'tokenizer_config.json',
  );
});

// --- Start -------------------------------------------------------------------------------------------------

/** The engine's device is gone: the session ends; the weights of the last evaluation stay downloadable. */
function onDeviceLost(message: string, lastGoodStep: number | null): void {
  state.deviceLost = true;
  state.lastGoodStep = lastGoodStep;
  const offer =
    lastGoodStep !== null ? `; Download saves the weights of step ${lastGoodStep}, the last evaluation` : '';
  showError(new Error(`GPU device lost (${message})${offer}`));
  for (const id of ACTIONS)
    ($(id) as HTMLButtonElement).disabled = !(id === 'download' && lastGoodStep !== null);
}

async function start(): Promise<void> {
  for (const id of [...ACTIONS, 'stop']) ($(id) as HTMLButtonElement).disabled = true;
  let opened: Results['open'];
  try {
    opened = await call({ op: 'open' });
  } catch (e) {
    state.phase = 'failed';
    $('device').textContent = 'No WebGPU device: see the error above.';
    showError(e);
    return;
  }
  state.device = opened.description;
  state.software = opened.software;
  $('device').textContent =
    `GPU: ${opened.description || 'unnamed adapter'}${opened.software ? ' (software adapter: slow)' : ''} ` +
    '(training runs in a Worker)';
  // For the headless tests: device.destroy() in the engine stands in for a lost GPU.
  (globalThis as unknown as { demoLoseDevice: () => void }).demoLoseDevice = () =>
    signal({ signal: 'lose-device' });
  state.phase = 'ready';
  for (const id of ACTIONS) ($(id) as HTMLButtonElement).disabled = false;
  for (const id of ['download', 'download-config']) ($(id) as HTMLButtonElement).disabled = true;
}

void start();
