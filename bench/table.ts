// One row of the bench table and its text form (the same in the terminal for Node and for the page).

export interface BenchRow {
  kernel: string;
  impl: string;
  engine: 'ours' | 'tfjs' | 'jax';
  size: string;
  /** What `ms` is: GPU timestamps (ours), TF.js's tf.time kernelMs (also timestamps), or wall time. */
  timing: 'timestamps' | 'tf.time kernelMs' | 'wall';
  /** Median over the timed runs, of `timing`. */
  ms: number;
  /** Median wall time: from the first recorded command until the GPU has finished. */
  wallMs: number;
  /** Median GPU time (sum over dispatches), or one profiled run's (gpuMsProfiled); null when not measurable. */
  gpuMs: number | null;
  gpuMsProfiled: boolean;
  rate: number;
  wallRate: number;
  unit: 'GFLOP/s' | 'GB/s' | 'tokens/s' | 'samples/s';
  /** Rate over our baseline variant's (matmul: naive). */
  vsBase: number | null;
  /** Ours over TF.js at the same kernel and size, on GPU time when both rows have it, else wall time. */
  vsTfjs: number | null;
  vsTfjsWall: number | null;
  /** Ours over jax-js at the same kernel and size, on wall time (jax-js has no GPU timestamps). */
  vsJax: number | null;
  /** Most bytes live at once over the case (inputs, weights, optimizer state, temporaries), MiB. */
  peakMiB: number | null;
  runsMs: number[];
  /** What is wrong with the result, when something is. */
  error?: string;
  /** What the check saw: losses per step and their agreement across engines, output errors. */
  note?: string;
}

const COLUMNS: [string, number][] = [
  ['kernel', 9],
  ['impl', 10],
  ['size', 16],
  ['timing', 17],
  ['ms', 10],
  ['wall ms', 10],
  ['gpu ms', 10],
  ['rate', 20],
  ['vs base', 8],
  ['vs TF.js', 9],
  ['(wall)', 8],
  ['vs jax-js', 10],
  ['peak MiB', 9],
];

function line(cells: string[]): string {
  return cells
    .map((cell, i) => (i < 3 ? cell.padEnd(COLUMNS[i][1]) : cell.padStart(COLUMNS[i][1])))
    .join(' ');
}

export function formatHeader(): string {
  return `${line(COLUMNS.map(([name]) => name))}  check`;
}

export function formatRow(r: BenchRow): string {
  const ratio = (x: number | null) => (x === null ? '' : `${x.toFixed(2)}×`);
  const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
  const gpu = r.gpuMs === null ? '' : `${ms(r.gpuMs)}${r.gpuMsProfiled ? '*' : ''}`;
  const rate = `${r.rate >= 100 ? r.rate.toFixed(0) : r.rate.toFixed(2)} ${r.unit}`;
  const peak = r.peakMiB === null ? '' : r.peakMiB.toFixed(1);
  const cells = [r.kernel, r.impl, r.size, r.timing, ms(r.ms), ms(r.wallMs), gpu, rate];
  cells.push(ratio(r.vsBase), ratio(r.vsTfjs), ratio(r.vsTfjsWall), ratio(r.vsJax), peak);
  return `${line(cells)}  ${r.error ? `WRONG: ${r.error}` : 'ok'}${r.note ? ` (${r.note})` : ''}`;
}

/** The table's footnotes. */
export const LEGEND = [
  'rate uses `ms` (timing column); vs TF.js compares on GPU time when both rows have it, else wall; (wall) on wall time',
  'gpu ms marked * is one profiled warm-up step (tf.profile kernel sum): TF.js steps are timed without profiling',
  'vs jax-js: wall time (jax-js, jit-compiled, on its own device of the same adapter, exposes no GPU timestamps)',
  'peak MiB: most bytes live at once over preparation and warm-up (our buffer pool; TF.js tensor bytes)',
];
