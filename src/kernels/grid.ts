// Workgroup counts for grid-stride loops, shared by every kernel that walks a flat range.
import type { Gpu } from '../gpu/gpu.ts';

/**
 * Launching a workgroup on a software adapter costs more than a loop iteration (SwiftShader runs each one's
 * invocations in turn on a CPU thread): there a grid-stride loop gets at most this many workgroups. AdamW over
 * GPT-2's 3.2 M-entry embedding: 124 ms with one element per invocation, 81 ms with the cap.
 */
const SOFTWARE_MAX_GROUPS = 1024;

/** Workgroups of `wg` invocations for a grid-stride loop over `count` items: ceil(count / wg), capped. */
export function strideGroups(gpu: Gpu, count: number, wg: number): number {
  const cap = gpu.software ? SOFTWARE_MAX_GROUPS : gpu.limits.maxComputeWorkgroupsPerDimension;
  return Math.min(Math.ceil(count / wg), cap);
}
