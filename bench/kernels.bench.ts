// Kernel benchmark: GFLOP/s (compute-bound) or GB/s (memory-bound) per kernel variant and size, with each variant's
// ratio to its baseline at the same size, all in one run (machines are shared and noisy: compare only within a run).
// `npm run bench` (full sizes) or `npm run bench -- --quick` (CI smoke); the table also goes to bench/results/kernels.json.
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
            let diff2 = 0,
              ref2 = 0;
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
  const elementwise = (
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
      elementwise('gelu', label, n, (gpu, out, x) => geluForward(gpu, out, x, { n })),
    ),
    ...softmax.map(({ rows, cols }) =>
      elementwise('softmax', `${rows}×${cols}`, rows * cols, (gpu, out, x) =>
        softmaxForward(gpu, out, x, { rows, cols }),
      ),
    ),
  ];
}

async function main(): Promise<void> {
  const gpu = await createDevice();
  const timer = new Timer(gpu, gpu.hasTimestamps && !process.argv.includes('--wall'));
  const rng = new Rng(1234);
  const matmulSizes = quick ? [64, 128] : [128, 256, 512, 1024];
  const cases = [...matmulCases(matmulSizes), ...memoryCases(quick)].filter((c) =>
    `${c.kernel} ${c.variant} ${c.size}`.includes(filter),
  );
  console.log(
    `device: ${gpu.description}${gpu.software ? ' (software)' : ''}, timing: ${timer.method}${quick ? ', quick' : ''}`,
  );
  const header = `${'kernel'.padEnd(8)} ${'variant'.padEnd(10)} ${'size'.padEnd(9)} ${'ms'.padStart(10)} ${'rate'.padStart(16)} ${'vs base'.padStart(8)}`;
  console.log(header);
  const rows: BenchRow[] = [];
  for (const c of cases) {
    const prepared = c.prepare(gpu, rng);
    const unit = 'flops' in c.work ? 'GFLOP/s' : 'GB/s';
    const amount = 'flops' in c.work ? c.work.flops : c.work.bytes;
    let row: BenchRow;
    try {
      const timing = await timer.measure(() => prepared.run());
      const error = (await prepared.verify?.()) ?? undefined;
      const base =
        c.baseline &&
        rows.find((r) => r.kernel === c.kernel && r.size === c.size && r.variant === c.baseline);
      const rate = amount / timing.seconds / 1e9;
      const ratio = base ? rate / base.rate : null;
      row = {
        kernel: c.kernel,
        variant: c.variant,
        size: c.size,
        ms: timing.seconds * 1e3,
        rate,
        unit,
        ratio,
        runsMs: timing.runs.map((s) => s * 1e3),
        error,
      };
    } finally {
      prepared.dispose();
    }
    rows.push(row);
    const ratio = row.ratio === null ? '' : `${row.ratio.toFixed(1)}×`;
    const rate = `${row.rate.toFixed(2)} ${unit}`;
    console.log(
      `${c.kernel.padEnd(8)} ${c.variant.padEnd(10)} ${c.size.padEnd(9)} ${row.ms.toFixed(2).padStart(10)} ${rate.padStart(16)} ${ratio.padStart(8)}${row.error ? `  WRONG: ${row.error}` : ''}`,
    );
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
