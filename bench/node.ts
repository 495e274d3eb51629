// `npm run bench`: the suite under Node, on Dawn (the npm `webgpu` package) with TF.js's WebGPU backend on the same
// device; the table to the terminal, JSON to bench/results/node.json. Flags: --quick, --wall, --filter=TEXT.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { createDevice } from '../src/gpu/device.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { parseSuiteArgs, runSuite, type BenchFiles, type SuiteContext, type SuiteOptions } from './suite.ts';
import { finishReport } from './report-node.ts';
import { Timer } from './timing.ts';
import { tfjsOnDevice, type Tfjs } from './tfjs/backend.ts';
import { jaxOnWebGpu, type Jax } from './jax/backend.ts';

const ROOT = new URL('../', import.meta.url);

export function readBenchFiles(): BenchFiles {
  const read = (path: string) => readFileSync(new URL(path, ROOT));
  const model = new Map<string, Blob>();
  for (const name of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']) {
    model.set(name, new Blob([read(`assets/gpt2-shakespeare/${name}`)]));
  }
  return { model, trainJsonl: read('assets/sft/dialogue/train.jsonl').toString('utf8') };
}

/** A device (ours, or `gpu`), TF.js on it (null with the reason printed when it cannot start), files, a timer. */
export async function nodeSuiteContext(options: SuiteOptions, gpu?: Gpu): Promise<SuiteContext> {
  gpu ??= await createDevice();
  // jax-js opens its own device through navigator.gpu, which Node lacks: Dawn's, on the adapter createDevice chose
  // (VK_ICD_FILENAMES is set by then when it is SwiftShader). TF.js, which finds it too, still takes our device.
  let jax: Jax | null = null;
  try {
    const { create } = await import('webgpu');
    const g = globalThis as { navigator?: object };
    if (!(g.navigator as { gpu?: unknown } | undefined)?.gpu)
      Object.defineProperty(globalThis, 'navigator', { value: { ...g.navigator, gpu: create([]), userAgent: `node ${process.version}` }, configurable: true });
    jax = await jaxOnWebGpu();
  } catch (e) {
    console.error(`bench: jax-js rows skipped: ${(e as Error).message}`);
  }
  let tf: Tfjs | null = null;
  try {
    tf = await tfjsOnDevice(gpu);
  } catch (e) {
    console.error(`bench: TF.js rows skipped: ${(e as Error).message}`);
  }
  // 2048 dispatches per timed run: a GPT-2 training step records a few hundred.
  const timer = new Timer(gpu, gpu.hasTimestamps && !options.wall, 2048);
  return { gpu, tf, jax, files: readBenchFiles(), options, timer };
}

export async function benchNode(args: string[]): Promise<number> {
  const options = parseSuiteArgs(args);
  const loadStart = loadavg();
  const ctx = await nodeSuiteContext(options);
  try {
    const report = await runSuite(ctx, `node ${process.version}`, (line) => console.log(line));
    return finishReport(report, 'node.json', loadStart);
  } finally {
    ctx.timer.dispose();
    ctx.gpu.dispose();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await benchNode(process.argv.slice(2));
}
