// What the row kernels (layernorm, rmsnorm, softmax) share: one workgroup per row on a near-square 2-D grid, a
// fixed-order tree sum over the workgroup, and the group count of a grid-stride loop.
import type { Gpu } from '../gpu/gpu.ts';

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

/** Workgroups of `wg` for a grid-stride loop over `count` items, capped at the device's per-dimension limit. */
export function strideGroups(gpu: Gpu, count: number, wg: number): number {
  return Math.min(Math.ceil(count / wg), gpu.limits.maxComputeWorkgroupsPerDimension);
}

/** ceil(rows / wg) workgroups of `wg` invocations, one invocation per row, spread over x and y past the limit. */
export function shortRowGrid(gpu: Gpu, rows: number, wg: number): [number, number] {
  const groups = Math.ceil(rows / wg);
  const x = Math.min(groups, gpu.limits.maxComputeWorkgroupsPerDimension);
  return [x, x === 0 ? 0 : Math.ceil(groups / x)];
}
