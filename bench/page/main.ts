// The bench page: the suite on navigator.gpu, TF.js's WebGPU backend on the same device. Flags come from the query
// string (?arg=--quick&arg=--filter=TEXT); lines go to the page and to `window.bench`, which bench/browser.ts polls.
import { createDevice } from '../../src/gpu/device.ts';
import { parseSuiteArgs, runSuite, type BenchFiles, type BenchReport } from '../suite.ts';
import { Timer } from '../timing.ts';
import { tfjsOnDevice } from '../tfjs/backend.ts';
import { jaxOnWebGpu } from '../jax/backend.ts';

export interface BenchPageState {
  phase: 'running' | 'done' | 'failed';
  lines: string[];
  report: BenchReport | null;
  error: string | null;
}

const state: BenchPageState = { phase: 'running', lines: [], report: null, error: null };
(globalThis as unknown as { bench: BenchPageState }).bench = state;

function log(line: string): void {
  state.lines.push(line);
  document.getElementById('out')!.textContent += `${line}\n`;
}

async function fetched(path: string): Promise<Response> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`bench page: ${path}, expected HTTP 200, got ${response.status}`);
  return response;
}

async function benchFiles(): Promise<BenchFiles> {
  const model = new Map<string, Blob>();
  for (const name of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']) {
    model.set(name, await (await fetched(`files/gpt2-shakespeare/${name}`)).blob());
  }
  return { model, trainJsonl: await (await fetched('files/dialogue/train.jsonl')).text() };
}

async function main(): Promise<void> {
  const options = parseSuiteArgs(new URLSearchParams(location.search).getAll('arg'));
  const gpu = await createDevice({ log });
  const tf = await tfjsOnDevice(gpu);
  const jax = await jaxOnWebGpu().catch((e: unknown) => (log(`jax-js rows skipped: ${(e as Error).message}`), null));
  const timer = new Timer(gpu, gpu.hasTimestamps && !options.wall, 2048);
  const chrome = /(?:Headless)?Chrome\/[\d.]+/.exec(navigator.userAgent)?.[0] ?? navigator.userAgent;
  state.report = await runSuite({ gpu, tf, jax, files: await benchFiles(), options, timer }, chrome, log);
  state.phase = 'done';
}

main().catch((e: unknown) => {
  state.error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
  state.phase = 'failed';
  log(`failed: ${state.error}`);
});
