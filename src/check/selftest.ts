// selftest: every kernel-vs-reference check (the same ones `npm test` runs) on the current device, as table rows.
import type { Gpu } from '../gpu/gpu.ts';
import { ALL_CHECKS } from './all.ts';
import type { KernelCheck } from './kernel-check.ts';
import { freshSeed, Rng } from '../util/random.ts';

export interface SelftestRow {
  kernel: string;
  size: string;
  output: string;
  relL2: number;
  maxRelError: number;
  bound: number;
  pass: boolean;
  error?: string;
}

export async function runSelftest(
  gpu: Gpu,
  options: {
    filter?: string;
    seed?: number;
    onRow?: (row: SelftestRow) => void;
    checks?: KernelCheck[];
  } = {},
): Promise<{ rows: SelftestRow[]; seed: number; passed: boolean; skipped: KernelCheck[] }> {
  const seed = options.seed ?? freshSeed();
  const rng = new Rng(seed);
  const rows: SelftestRow[] = [];
  const matching = (options.checks ?? ALL_CHECKS).filter(
    (c) => !options.filter || c.kernel.includes(options.filter),
  );
  const skipped = matching.filter((c) => c.available && !c.available(gpu));
  for (const check of matching.filter((c) => !skipped.includes(c))) {
    let results: SelftestRow[];
    try {
      results = (await check.run(gpu, rng)).map((r) => ({
        kernel: check.kernel,
        size: check.size,
        output: r.output,
        relL2: r.comparison.relL2,
        maxRelError: r.comparison.maxRelError,
        bound: r.bound,
        pass: r.pass,
      }));
    } catch (e) {
      const error = (e as Error).message.split('\n')[0];
      results = [
        {
          kernel: check.kernel,
          size: check.size,
          output: '-',
          relL2: NaN,
          maxRelError: NaN,
          bound: NaN,
          pass: false,
          error,
        },
      ];
    }
    for (const row of results) {
      rows.push(row);
      options.onRow?.(row);
    }
  }
  return { rows, seed, passed: rows.length > 0 && rows.every((r) => r.pass), skipped };
}

export function formatSelftestRow(r: SelftestRow): string {
  const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));
  const status = r.pass ? 'pass' : 'FAIL';
  const tail = r.error ? `  ${r.error}` : '';
  return `${r.kernel.padEnd(28)} ${r.size.padEnd(30)} ${r.output.padEnd(8)} ${fmt(r.relL2).padStart(9)} ${fmt(r.bound).padStart(9)}  ${status}${tail}`;
}

export const SELFTEST_HEADER = `${'kernel'.padEnd(28)} ${'size'.padEnd(30)} ${'output'.padEnd(8)} ${'relL2'.padStart(9)} ${'bound'.padStart(9)}  result`;
