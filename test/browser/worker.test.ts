// The library in a module Worker (headless Chromium, WebGPU on SwiftShader): the browser bundle of `npm run build`
// imported by a worker script, which opens the device, loads the bundled Llama from fetched Blobs and runs fineTune;
// its TrainEvents cross to the page by postMessage while the page's own timer keeps ticking.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLibrary, findChromium, openDemo, serveStatic, type Session } from '../helpers/browser.ts';

const chromium = findChromium();
if (!chromium.path && process.env.CI)
  throw new Error(`test/browser/worker.test.ts: CI=${process.env.CI} but ${chromium.reason}`);
if (!chromium.path) console.warn(`test/browser/worker.test.ts: skipped, ${chromium.reason}`);

const WORKER = `
import { createDevice, fineTune, loadModelFromFiles } from './webgpu-sft.js';
onmessage = async ({ data }) => {
  try {
    const gpu = await createDevice({ log: null });
    const files = new Map();
    for (const name of ['config.json', 'model.safetensors', 'tokenizer.model'])
      files.set(name, await (await fetch('model/' + name)).blob());
    const { model, tokenizer } = await loadModelFromFiles(gpu, files);
    const result = await fineTune({ model, tokenizer, ...data, onEvent: (event) => postMessage({ event }) });
    postMessage({ result: { steps: result.steps, reason: result.reason, after: result.after } });
  } catch (e) {
    postMessage({ error: String(e && e.stack || e) });
  }
};
`;

// Runs in the page: starts the worker, collects its messages and the longest gap between the page's timer ticks.
const PAGE = `(options) => new Promise((done) => {
  const events = [];
  let last = performance.now(), longestGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 10);
  const worker = new Worker('worker.js', { type: 'module' });
  worker.onerror = (e) => done({ error: 'worker: ' + e.message });
  worker.onmessage = ({ data }) => {
    if (data.event) return void events.push(data.event);
    clearInterval(timer);
    worker.terminate();
    done({ ...data, events, longestGap });
  };
  worker.postMessage(options);
})`;

describe.skipIf(!chromium.path)('the library in a module Worker (headless Chromium)', () => {
  let dir: string;
  let server: { url: string; close(): Promise<void> };
  let session: Session;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webgpu-sft-worker-'));
    await buildLibrary(dir);
    cpSync(resolve('assets/stories260K-hf'), join(dir, 'model'), { recursive: true });
    writeFileSync(join(dir, 'worker.js'), WORKER);
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>worker</title>');
    server = await serveStatic(dir);
    session = await openDemo(chromium.path!, server.url);
  });
  afterAll(async () => {
    await session?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fine-tunes in the worker: step events arrive by postMessage, the result after, the page keeps running', async () => {
    const train = [
      { text: 'Once upon a time there was a little cat.' },
      { text: 'The dog ran to the park and played.' },
      { text: 'Lily had a red ball. She liked to play.' },
      { text: 'Tim saw a big tree in the garden.' },
    ];
    const options = { train, val: train, batchSize: 2, epochs: 2, maxSteps: 3 };
    const out = (await session.page.evaluate(`(${PAGE})(${JSON.stringify(options)})`)) as {
      error?: string;
      result?: { steps: number; reason: string; after: { loss: number } };
      events: { type: string; step: number; loss?: number }[];
      longestGap: number;
    };
    expect(out.error, session.pageErrors.join('\n')).toBeUndefined();
    const steps = out.events.filter((e) => e.type === 'step');
    expect(steps.map((e) => e.step)).toEqual([1, 2, 3]);
    for (const e of steps) expect(Number.isFinite(e.loss)).toBe(true);
    expect(out.events.at(-1)).toMatchObject({ type: 'done', step: 3, reason: 'max-steps' });
    expect(out.result).toMatchObject({ steps: 3, reason: 'max-steps' });
    expect(Number.isFinite(out.result!.after.loss)).toBe(true);
    // Training runs off the main thread: the page's 10 ms timer never stalls for seconds (a loaded CI machine included).
    expect(out.longestGap).toBeLessThan(3000);
  });
});
