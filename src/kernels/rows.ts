// What the row kernels (layernorm, rmsnorm, softmax) share: one workgroup per row on a near-square 2-D grid, a
// fixed-order tree sum over the workgroup, the group count of a grid-stride loop, and the norms' entry checks.
import type { Gpu } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';

/** WGSL: `reduce_sum(v, lid)`, a fixed-order tree over a workgroup of `wg` (a power of two); every invocation gets
 * the result, and it may be called again at once (the trailing barrier keeps the next call off `partial`). */
export function rowReduceWgsl(wg: number): string {
  return /* wgsl */ `
var<workgroup> partial: array<f32, ${wg}>;

// Fixed-order tree over the workgroup; every invocation gets the result.
fn reduce_sum(v: f32, lid: u32) -> f32 {
  partial[lid] = v;
  for (var half = ${wg / 2}u; half > 0u; half >>= 1u) {
    workgroupBarrier();
    if (lid < half) { partial[lid] = partial[lid] + partial[lid + half]; }
  }
  workgroupBarrier();
  let r = partial[0];
  workgroupBarrier(); // a later reduction overwrites partial
  return r;
}
`;
}

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

/** Dims of a normalisation over rows: N ≥ 0 rows of C ≥ 1 columns, eps finite and ≥ 0. */
export function checkNormDims(where: string, { N, C, eps }: { N: number; C: number; eps: number }): void {
  if (!Number.isInteger(N) || N < 0 || !Number.isInteger(C) || C < 1 || N * C >= 2 ** 32) {
    throw new ShapeError(`${where}: dims, expected integers N ≥ 0, C ≥ 1 with N·C < 2^32, got N=${N} C=${C}`);
  }
  if (!Number.isFinite(eps) || eps < 0) {
    throw new ShapeError(`${where}: dims.eps, expected a finite number ≥ 0, got ${eps}`);
  }
}

// Every buffer holds at least its count of f32, and no output is also bound elsewhere (WebGPU would reject the
// dispatch later, with a less direct message).
export function checkNormBuffers(
  gpu: Gpu,
  where: string,
  outputs: Record<string, GPUBuffer>,
  inputs: Record<string, GPUBuffer>,
  counts: Record<string, number>,
): void {
  const all = Object.entries({ ...outputs, ...inputs });
  for (const [name, buf] of all) {
    const bytes = gpu.pool.meta(buf)?.bytes ?? buf.size;
    const want = counts[name] * 4;
    if (bytes < want) throw new ShapeError(`${where}: ${name} size, expected ≥ ${want} bytes, got ${bytes}`);
    const other = all.find(([n, b]) => n !== name && b === buf);
    if (other && name in outputs) {
      throw new ShapeError(
        `${where}: ${name}, expected a buffer distinct from ${other[0]}, got the same buffer`,
      );
    }
  }
}
