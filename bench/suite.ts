// The benchmark suite, platform-neutral (no node: import): bench/node.ts runs it under Node/Dawn, bench/page/main.ts in
// headless Chromium. The cases of one group (kernel and size: ours and TF.js) are prepared and warmed up one after
// another, then timed in interleaved rounds (order alternating), so load from other processes hits every case
// alike; median per case.
import { InputError } from '../src/util/errors.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { Timer, type Sample } from './timing.ts';
import type { Tfjs } from './tfjs/backend.ts';
import type { Jax } from './jax/backend.ts';
import { kernelCases } from './cases/kernels.ts';
import { sftStepCases } from './cases/sft-step.ts';
import { mlpStepCases } from './cases/mlp-step.ts';
import { formatHeader, formatRow, type BenchRow } from './table.ts';

export interface SuiteOptions {
  /** Small sizes and 3 runs: a smoke test, not a measurement. */
  quick: boolean;
  /** Wall time only (no GPU timestamp queries). */
  wall: boolean;
  /** Keeps the cases whose "kernel impl size" contains this text; with a leading '!', drops them. */
  filter: string;
}

/** `--quick`, `--wall`, `--filter=TEXT` or `--filter=!TEXT` (the flags of `npm run bench` and `npm run bench:browser`). */
export function parseSuiteArgs(args: readonly string[]): SuiteOptions {
  const known = /^--(quick|wall|filter=.*)$/;
  const bad = args.find((a) => !known.test(a));
  if (bad) throw new InputError(`bench: argument '${bad}', expected --quick, --wall or --filter=TEXT`);
  const filter = args.find((a) => a.startsWith('--filter='))?.slice('--filter='.length) ?? '';
  return { quick: args.includes('--quick'), wall: args.includes('--wall'), filter };
}

/** The bundled GPT-2 and SFT data, read by the caller (files in Node, fetch in a page). */
export interface BenchFiles {
  /** config.json, model.safetensors, vocab.json and merges.txt of assets/gpt2-shakespeare. */
  model: Map<string, Blob>;
  /** assets/sft/dialogue/train.jsonl. */
  trainJsonl: string;
}

export interface SuiteContext {
  gpu: Gpu;
  /** null: TF.js is not installed or failed to start; its rows are skipped (the report says why). */
  tf: Tfjs | null;
  /** null: jax-js is not installed or has no WebGPU here; its rows are skipped (the report says why). */
  jax: Jax | null;
  files: BenchFiles;
  options: SuiteOptions;
  /** Times our cases: GPU timestamps when available and not --wall. */
  timer: Timer;
}

/** Who runs a case: this engine, or a JavaScript peer on the same adapter. */
export type Engine = 'ours' | 'tfjs' | 'jax';

export type Work = { flops: number } | { bytes: number } | { tokens: number } | { samples: number };

/** A prepared case. */
export interface Runner {
  /** The size and work when known only once prepared (a tokenized batch's padded length). */
  size?: string;
  work?: Work;
  /** One timed run, started after the previous run of any case has finished on the GPU. */
  run(): Promise<Sample>;
  /** An untimed run before timing; `last` marks the final one (TF.js cases profile memory there). */
  warmUp?(last: boolean): Promise<void>;
  /** After the timed runs: null when the result is right, else what is wrong. */
  verify?(): Promise<string | null>;
  /** After verify: what the check saw (losses, errors), for the report. */
  note?(): string;
  /** TF.js cases: peak tensor bytes over the case (our cases are measured from the buffer pool). */
  peakBytes?(): number | null;
  /** TF.js step cases: GPU ms of one profiled warm-up step (their timed steps run without profiling). */
  profiledGpuMs?(): number | null;
  dispose(): void;
}

export interface BenchCase {
  kernel: string;
  impl: string;
  engine: Engine;
  size: string;
  /** Our variant every other one is compared with at the same kernel and size, if any. */
  baseline?: string;
  work: Work;
  /** Which time the rate uses when both exist: GPU time (kernels) or wall time (training steps). */
  primary: 'gpu' | 'wall';
  /** Untimed runs first (at least 1: pipelines compile there). Paired step cases must take the same number of steps. */
  warmUps: number;
  prepare(ctx: SuiteContext): Promise<Runner>;
}

export interface BenchReport {
  platform: string;
  device: string;
  software: boolean;
  timestamps: boolean;
  quick: boolean;
  runs: number;
  date: string;
  /** Why a part of the suite did not run. */
  skipped: string[];
  rows: BenchRow[];
}

/** Every case of the suite, in run order, after --filter. */
export function suiteCases(ctx: SuiteContext): BenchCase[] {
  const { quick, filter } = ctx.options;
  const all = [...kernelCases(ctx.gpu, quick), ...mlpStepCases(quick), ...sftStepCases(quick)];
  const drop = filter.startsWith('!');
  const text = drop ? filter.slice(1) : filter;
  return all
    .filter((c) => c.engine === 'ours' || (c.engine === 'tfjs' ? ctx.tf : ctx.jax))
    .filter((c) => `${c.kernel} ${c.impl} ${c.size}`.includes(text) !== drop);
}

export async function runSuite(
  ctx: SuiteContext,
  platform: string,
  log: (line: string) => void,
): Promise<BenchReport> {
  const { gpu, options } = ctx;
  const runs = options.quick ? 3 : 5;
  const groups = new Map<string, BenchCase[]>();
  for (const c of suiteCases(ctx))
    groups.set(`${c.kernel} ${c.size}`, [...(groups.get(`${c.kernel} ${c.size}`) ?? []), c]);
  const skipped = [
    ...(ctx.tf ? [] : ['TF.js rows: TensorFlow.js is not available (npm install, devDependencies)']),
    ...(ctx.jax ? [] : ['jax-js rows: @jax-js/jax is not available or has no WebGPU backend here']),
  ];
  const timing = `${ctx.timer.method}${options.quick ? ', quick' : ''}`;
  log(
    `device: ${gpu.description}${gpu.software ? ' (software)' : ''}; ours timed by ${timing}; median of ${runs}`,
  );
  for (const s of skipped) log(`skipped: ${s}`);
  log(formatHeader());
  const rows: BenchRow[] = [];
  for (const group of groups.values()) {
    for (const row of await runGroup(ctx, group, runs)) {
      rows.push(row);
      log(formatRow(row));
    }
  }
  return {
    platform,
    device: gpu.description,
    software: gpu.software,
    timestamps: ctx.timer.method === 'timestamps',
    quick: options.quick,
    runs,
    date: new Date().toISOString(),
    skipped,
    rows,
  };
}

interface Measured {
  c: BenchCase;
  runner: Runner;
  samples: Sample[];
  peakBytes: number | null;
}

async function runGroup(ctx: SuiteContext, group: BenchCase[], runs: number): Promise<BenchRow[]> {
  const measured: Measured[] = [];
  try {
    for (const c of group) measured.push(await prepareAndWarmUp(ctx, c));
    // Rounds alternate the order, so neither engine always runs right after the other.
    for (let r = 0; r < runs; r++) {
      for (const m of r % 2 ? [...measured].reverse() : measured) m.samples.push(await m.runner.run());
    }
    const rows: BenchRow[] = [];
    for (const m of measured) rows.push(await toRow(m, rows));
    const tfjs = rows.find((r) => r.engine === 'tfjs');
    const jax = rows.find((r) => r.engine === 'jax');
    for (const row of rows.filter((r) => r.engine === 'ours')) {
      if (tfjs) [row.vsTfjs, row.vsTfjsWall] = compareWith(row, tfjs);
      if (jax) row.vsJax = compareWith(row, jax)[0];
    }
    return rows;
  } finally {
    for (const m of measured) m.runner.dispose();
  }
}

// Peak memory of our cases: the pool's most live bytes over preparation and warm-up, less what was live before
// (the group's earlier cases, which stay unchanged meanwhile).
async function prepareAndWarmUp(ctx: SuiteContext, c: BenchCase): Promise<Measured> {
  const pool = ctx.gpu.pool;
  const liveBefore = pool.stats().liveBytes;
  pool.takePeakBytes();
  const runner = await c.prepare(ctx);
  try {
    for (let i = 0; i < c.warmUps; i++)
      await (runner.warmUp ? runner.warmUp(i === c.warmUps - 1) : runner.run());
  } catch (e) {
    runner.dispose();
    throw e;
  }
  const peakBytes = c.engine === 'ours' ? pool.takePeakBytes() - liveBefore : (runner.peakBytes?.() ?? null);
  return { c, runner, samples: [], peakBytes };
}

const UNITS = { flops: 'GFLOP/s', bytes: 'GB/s', tokens: 'tokens/s', samples: 'samples/s' } as const;

async function toRow({ c, runner, samples, peakBytes }: Measured, earlier: BenchRow[]): Promise<BenchRow> {
  const wallMs = median(samples.map((s) => s.wallMs));
  const gpuRuns = samples.map((s) => s.gpuMs).filter((ms): ms is number => ms !== null && ms > 0);
  const gpuMs = gpuRuns.length === samples.length ? median(gpuRuns) : (runner.profiledGpuMs?.() ?? null);
  const useGpu = c.primary === 'gpu' && gpuRuns.length === samples.length;
  const ms = useGpu ? gpuMs! : wallMs;
  const [kind, amount] = Object.entries(runner.work ?? c.work)[0] as [keyof typeof UNITS, number];
  const perSecond = (t: number) => amount / (t / 1000) / (kind === 'flops' || kind === 'bytes' ? 1e9 : 1);
  const rate = perSecond(ms);
  const base = c.baseline ? earlier.find((r) => r.impl === c.baseline && r.engine === 'ours') : undefined;
  const timing = useGpu ? (c.engine === 'ours' ? 'timestamps' : 'tf.time kernelMs') : 'wall';
  return {
    kernel: c.kernel,
    impl: c.impl,
    engine: c.engine,
    size: runner.size ?? c.size,
    timing,
    ms,
    wallMs,
    gpuMs,
    gpuMsProfiled: !useGpu && gpuMs !== null && gpuRuns.length !== samples.length,
    rate,
    wallRate: perSecond(wallMs),
    unit: UNITS[kind],
    vsBase: base ? rate / base.rate : null,
    vsTfjs: null,
    vsTfjsWall: null,
    vsJax: null,
    peakMiB: peakBytes === null ? null : peakBytes / 2 ** 20,
    runsMs: samples.map((s) => (useGpu ? s.gpuMs! : s.wallMs)),
    error: (await runner.verify?.()) ?? undefined,
    note: runner.note?.(),
  };
}

/** Ours over a peer's row on the same basis (GPU time when both rows use it, else wall time), and on wall time. */
function compareWith(row: BenchRow, peer: BenchRow): [number, number] {
  const wall = row.wallRate / peer.wallRate;
  return [row.timing === 'wall' || peer.timing === 'wall' ? wall : row.rate / peer.rate, wall];
}

export function median(xs: number[]): number {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}
