// What the row kernels (layernorm, rmsnorm, softmax, attention) share on the TypeScript side: their grids (a
// workgroup per row, or an invocation per short row), the norms' entry checks and their parameter-gradient sums.
// Their WGSL is in row-wgsl.ts.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { strideGroups } from './grid.ts';
import { sumForward } from './sum.ts';

/**
 * One workgroup per row on a near-square 2-D grid (row n = y·groups.x + x in the kernel): rows beyond 65535 fit, and
 * every size (not only huge ones) runs the 2-D row index and the early return of the few surplus workgroups.
 */
export function rowGrid(gpu: Gpu, rows: number): [number, number] {
  const x = Math.min(Math.ceil(Math.sqrt(rows)), gpu.limits.maxComputeWorkgroupsPerDimension);
  return [x, x === 0 ? 0 : Math.ceil(rows / x)];
}

/** ceil(rows / wg) workgroups of `wg` invocations, one invocation per row, spread over x and y past the limit. */
export function shortRowGrid(gpu: Gpu, rows: number, wg: number): [number, number] {
  const groups = Math.ceil(rows / wg);
  const x = Math.min(groups, gpu.limits.maxComputeWorkgroupsPerDimension);
  return [x, x === 0 ? 0 : Math.ceil(groups / x)];
}

/**
 * Rows of at most this many columns run one invocation per row: no workgroup barriers, which SwiftShader makes
 * costlier than a short serial loop (softmax 1024×64: 12× faster).
 */
export const SHORT_ROW = 256;

/** The two shapes of a row kernel (row-wgsl.ts rowMainWgsl): an invocation per short row, else a workgroup per row. */
export type RowShape = 'workgroup' | 'short';

export const rowShape = (cols: number): RowShape => (cols <= SHORT_ROW ? 'short' : 'workgroup');

/** The grid of a rowMainWgsl kernel of workgroup `wg` over `rows` rows. */
export function rowShapeGrid(gpu: Gpu, shape: RowShape, rows: number, wg: number): [number, number] {
  return shape === 'short' ? shortRowGrid(gpu, rows, wg) : rowGrid(gpu, rows);
}

/** Dims of a normalisation over rows: N ≥ 0 rows of C ≥ 1 columns, eps finite and ≥ 0. */
export function checkNormDims(where: string, { N, C, eps }: { N: number; C: number; eps: number }): void {
  if (!Number.isInteger(N) || N < 0 || !Number.isInteger(C) || C < 1 || N * C >= 2 ** 32) {
    throw new ShapeError(`${where}: dims, expected integers N ≥ 0, C ≥ 1 with N·C < 2^32, got N=${N} C=${C}`);
  }
  if (!Number.isFinite(eps) || eps < 0) {
    throw new ShapeError(`${where}: dims.eps, expected a finite number ≥ 0, got ${eps}`);
  }
}

/** Rows per chunk of the norms' parameter-gradient sums: chunks of this many rows, then the chunks (both in order). */
const ROWS_PER_CHUNK = 64;

/**
 * Run a columnChunkSumsWgsl kernel of workgroup `wg` over (N, C) and add its chunks in order (sum.ts): output t (C)
 * gets Σ_n term t, for each given output (null: not wanted, e.g. a frozen bias). Deterministic.
 */
export function columnChunkSums(
  gpu: Gpu,
  kernel: Kernel,
  inputs: Record<string, GPUBuffer>,
  dims: { N: number; C: number; wg: number },
  outputs: (GPUBuffer | null)[],
): void {
  const { N, C, wg } = dims;
  const [terms, chunks] = [outputs.length, Math.max(1, Math.ceil(N / ROWS_PER_CHUNK))];
  const partial = gpu.alloc(`${kernel.name} partial`, terms * chunks * C * 4); // (terms, chunks, C)
  const uniforms = { N, C, chunk: ROWS_PER_CHUNK, chunks };
  gpu.dispatch(kernel, { partial, ...inputs }, uniforms, strideGroups(gpu, chunks * C, wg));
  const direct = terms === 1 ? outputs[0] : null; // one wanted output: the sum lands there
  const sums = direct ?? gpu.alloc(`${kernel.name} sums`, terms * C * 4); // (terms, C)
  sumForward(gpu, sums, partial, { outer: terms, axis: chunks, inner: C });
  if (!direct) {
    outputs.forEach((out, t) => out && gpu.copy(sums, out, C * 4, t * C * 4, 0));
    gpu.release(sums);
  }
  gpu.release(partial);
}
