// Kernel benchmark: GFLOP/s (compute-bound) or GB/s (memory-bound) per kernel variant and size, with each variant's
// ratio to its baseline at the same size. The variants of one size are timed in interleaved rounds, so load from other
// processes on a shared machine hits them alike. `npm run bench` (full sizes), `-- --quick` (CI smoke), `-- --wall`
// (wall time instead of GPU timestamps), `-- --filter=TEXT`. The table also goes to bench/results/kernels.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createDevice } from '../src/gpu/device.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { Rng } from '../src/check/random.ts';
import { geluForward } from '../src/kernels/gelu.ts';
import { matmulForward, MATMUL_VARIANTS } from '../src/kernels/matmul.ts';
import { softmaxForward } from '../src/kernels/softmax.ts';
import { Timer } from './timing.ts';

interface Prepared {
  /** Records one run's dispatches (no sync). */
  run(): void;
  /** After the timed runs: null when the output is right, else what is wrong. */
  verify?(): Promise<string | null>;
  dispose(): void;
}

export interface BenchCase {
  kernel: string;
  variant: string;
  size: string;
  /** The variant every other one is compared with at the same kernel and size, if any. */
  baseline?: string;
  /** Work per run: floating-point operations (reported as GFLOP/s) or bytes moved (GB/s). */
  work: { flops: number } | { bytes: number };
  prepare(gpu: Gpu, rng: Rng): Prepared;
}

export interface BenchRow {
  kernel: string;
  variant: string;
  size: string;
  ms: number;
  rate: number;
  unit: 'GFLOP/s' | 'GB/s';
  ratio: number | null;
  runsMs: number[];
  error?: string;
}

const quick = process.argv.includes('--quick');
// --filter=TEXT keeps the cases whose "kernel variant size" contains TEXT (e.g. --filter=1024).
const filter = process.argv.find((arg) => arg.startsWith('--filter='))?.slice('--filter='.length) ?? '';

function matmulCases(sizes: number[]): BenchCase[] {
  return sizes.flatMap((n) =>
    MATMUL_VARIANTS.map((variant) => ({
      kernel: 'matmul',
      variant,
      size: `${n}³`,
      baseline: 'naive',
      work: { flops: 2 * n ** 3 },
      prepare(gpu: Gpu, rng: Rng): Prepared {
        const a = rng.uniform(n * n); // (n, n)
        const b = rng.uniform(n * n); // (n, n)
        const [aBuf, bBuf] = [gpu.upload('bench a', a), gpu.upload('bench b', b)];
        const out = gpu.alloc('bench out', n * n * 4); // (n, n)
        const dims = { batch: 1, M: n, N: n, K: n };
        return {
          run: () => matmulForward(gpu, out, aBuf, bBuf, null, dims, variant),
          verify: async () => {
            const got = await gpu.read(out, 'f32', n * n);
            // A sample of entries against float64 dot products.
            let [diff2, ref2] = [0, 0];
            for (let s = 0; s < 64; s++) {
              const [i, j] = [Math.floor(rng.next() * n), Math.floor(rng.next() * n)];
              let want = 0;
              for (let k = 0; k < n; k++) want += a[i * n + k] * b[k * n + j];
              diff2 += (got[i * n + j] - want) ** 2;
              ref2 += want ** 2;
            }
            const rel = Math.sqrt(diff2 / ref2);
            return rel <= 1e-5
              ? null
              : `relL2 ${rel.toExponential(2)} on 64 sampled entries, expected ≤ 1e-5`;
          },
          dispose: () => [aBuf, bBuf, out].forEach((buf) => gpu.release(buf)),
        };
      },
    })),
  );
}

/** Memory-bound rows: bytes read + written once each, per run. No baseline variant (no ratio). */
function memoryCases(quick: boolean): BenchCase[] {
  const gelu = (quick ? [1 << 16] : [1 << 20, 1 << 22]).map((n) => ({ n, label: `${n}` }));
  const softmax = (
    quick
      ? [[64, 256]]
      : [
          [1024, 1024],
          [4096, 1024],
        ]
  ).map(([rows, cols]) => ({ rows, cols }));
  const streaming = (
    kernel: string,
    size: string,
    n: number,
    run: (gpu: Gpu, out: GPUBuffer, x: GPUBuffer) => void,
  ) => ({
    kernel,
    variant: 'forward',
    size,
    work: { bytes: 8 * n },
    prepare(gpu: Gpu, rng: Rng): Prepared {
      const [x, out] = [gpu.upload('bench x', rng.uniform(n)), gpu.alloc('bench out', 4 * n)];
      return { run: () => run(gpu, out, x), dispose: () => [x, out].forEach((b) => gpu.release(b)) };
    },
  });
  return [
    ...gelu.map(({ n, label }) =>
      streaming('gelu', label, n, (gpu, out, x) => geluForward(gpu, out, x, { n })),
    ),
    ...softmax.map(({ rows, cols }) =>
      streaming('softmax', `${rows}×${cols}`, rows * cols, (gpu, out, x) =>
        softmaxForward(gpu, out, x, { rows, cols }),
      ),
    ),
  ];
}

const RUNS = 5;

function format(r: BenchRow): string {
  const ratio = r.ratio === null ? '' : `${r.ratio.toFixed(1)}×`;
  const rate = `${r.rate.toFixed(2)} ${r.unit}`;
  const wrong = r.error ? `  WRONG: ${r.error}` : '';
  return `${r.kernel.padEnd(8)} ${r.variant.padEnd(10)} ${r.size.padEnd(10)} ${r.ms.toFixed(2).padStart(10)} ${rate.padStart(16)} ${ratio.padStart(8)}${wrong}`;
}

/** Times the cases of one kernel and size: warm-up each, then RUNS interleaved rounds; median per case. */
async function benchGroup(gpu: Gpu, timer: Timer, rng: Rng, group: BenchCase[]): Promise<BenchRow[]> {
  const prepared = group.map((c) => c.prepare(gpu, rng));
  try {
    for (const p of prepared) await timer.warmUp(() => p.run());
    const runs: number[][] = group.map(() => []);
    for (let r = 0; r < RUNS; r++) {
      for (const [i, p] of prepared.entries()) runs[i].push(await timer.once(() => p.run()));
    }
    const rows: BenchRow[] = [];
    for (const [i, c] of group.entries()) {
      const seconds = median(runs[i]);
      const [unit, amount] =
        'flops' in c.work ? (['GFLOP/s', c.work.flops] as const) : (['GB/s', c.work.bytes] as const);
      const rate = amount / seconds / 1e9;
      const base = c.baseline ? rows.find((r) => r.variant === c.baseline) : undefined;
      const error = (await prepared[i].verify?.()) ?? undefined;
      const runsMs = runs[i].map((t) => t * 1e3);
      rows.push({
        kernel: c.kernel,
        variant: c.variant,
        size: c.size,
        ms: seconds * 1e3,
        rate,
        unit,
        ratio: base ? rate / base.rate : null,
        runsMs,
        error,
      });
    }
    return rows;
  } finally {
    for (const p of prepared) p.dispose();
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const gpu = await createDevice();
  const timer = new Timer(gpu, gpu.hasTimestamps && !process.argv.includes('--wall'));
  const rng = new Rng(1234);
  const matmulSizes = quick ? [64, 128] : [128, 256, 512, 1024];
  const cases = [...matmulCases(matmulSizes), ...memoryCases(quick)].filter((c) =>
    `${c.kernel} ${c.variant} ${c.size}`.includes(filter),
  );
  const groups = new Map<string, BenchCase[]>();
  for (const c of cases)
    groups.set(`${c.kernel} ${c.size}`, [...(groups.get(`${c.kernel} ${c.size}`) ?? []), c]);
  const mode = `${timer.method}, median of ${RUNS}${quick ? ', quick' : ''}`;
  console.log(`device: ${gpu.description}${gpu.software ? ' (software)' : ''}, timing: ${mode}`);
  console.log(
    `${'kernel'.padEnd(8)} ${'variant'.padEnd(10)} ${'size'.padEnd(10)} ${'ms'.padStart(10)} ${'rate'.padStart(16)} ${'vs base'.padStart(8)}`,
  );
  const rows: BenchRow[] = [];
  for (const group of groups.values()) {
    for (const row of await benchGroup(gpu, timer, rng, group)) {
      rows.push(row);
      console.log(format(row));
    }
  }
  timer.dispose();
  mkdirSync(new URL('results/', import.meta.url), { recursive: true });
  const file = new URL('results/kernels.json', import.meta.url);
  const report = {
    device: gpu.description,
    software: gpu.software,
    timing: timer.method,
    quick,
    date: new Date().toISOString(),
    rows,
  };
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  console.log(`wrote ${file.pathname}`);
  gpu.dispose();
  if (rows.some((r) => r.error)) process.exitCode = 1;
}

await main();
