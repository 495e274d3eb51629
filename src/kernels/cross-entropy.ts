// Fused log-softmax + negative log-likelihood over rows of logits (N, V) with i32 targets (N), −100 = ignored row:
// losses[i] = logsumexp(logits[i]) − logits[i, t_i], loss = mean over counted rows (0 when all are ignored, where
// PyTorch gives NaN); dlogits = dloss · (softmax − onehot(t)) / count; accuracy counts rows whose first argmax is t.
// A target outside [0, V) other than −100 gives NaN (ids are validated at the data boundary; this makes a miss loud).
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { backwardKernel, CROSS_ENTROPY_REDUCE, forwardKernel, WG } from './cross-entropy-wgsl.ts';
import type { CrossEntropyDims } from '../ops/dims.ts';

/**
 * Invocations per row at most. On a software adapter one CPU thread runs a workgroup's invocations in turn and every
 * barrier switches through all of them, so a row takes 32 (fwd+bwd at V = 50257: 339 → 198 ms against 256); hardware
 * keeps 256.
 */
export function rowWorkgroupCap(gpu: Gpu): number {
  return gpu.software ? 32 : WG;
}

// A row shorter than the cap gets the smallest power of two ≥ V (at least 8) instead: idle invocations still pay for
// every barrier, which on a software adapter made a classification head (V = a few labels) ~50x slower per row.
export function rowWorkgroup(gpu: Gpu, V: number, maxWorkgroup?: number): number {
  return Math.min(maxWorkgroup ?? rowWorkgroupCap(gpu), Math.max(8, 2 ** Math.ceil(Math.log2(V))));
}

const rowKernelCache = new Map<number, { forward: Kernel; backward: Kernel }>();
function rowKernels(gpu: Gpu, { V, maxWorkgroup }: CrossEntropyDims): { forward: Kernel; backward: Kernel } {
  const wg = rowWorkgroup(gpu, V, maxWorkgroup);
  let k = rowKernelCache.get(wg);
  if (!k) rowKernelCache.set(wg, (k = { forward: forwardKernel(wg), backward: backwardKernel(wg) }));
  return k;
}

type RowOutputs = Record<'losses' | 'hits' | 'stats', GPUBuffer>;

/**
 * The forward row kernel over every row: losses (N), hits (N) and stats (N, 2) go to the caller's buffers where given,
 * else to pooled scratch, which release() hands back once the caller has recorded what reads it.
 */
function rowPass(
  gpu: Gpu,
  dims: CrossEntropyDims,
  groups: number,
  logits: GPUBuffer,
  targets: GPUBuffer,
  given: Partial<RowOutputs>,
): RowOutputs & { release(): void } {
  const { N, V } = dims;
  const scratch: GPUBuffer[] = [];
  const take = (name: keyof RowOutputs, bytes: number) =>
    given[name] ?? scratch[scratch.push(gpu.alloc(`cross-entropy ${name}`, bytes)) - 1];
  const out = { losses: take('losses', N * 4), hits: take('hits', N * 4), stats: take('stats', N * 8) };
  gpu.dispatch(rowKernels(gpu, dims).forward, { ...out, logits, targets }, { N, V }, groups);
  return { ...out, release: () => scratch.forEach((b) => gpu.release(b)) };
}

/**
 * `stats` (N, 2), optional: receives each row's (max, rest), which crossEntropyBackward takes instead of reading the
 * logits once more to recompute them (the autograd op keeps it from its forward: a third less logits traffic).
 */
export function crossEntropyForward(
  gpu: Gpu,
  loss: GPUBuffer, // (1)
  losses: GPUBuffer, // (N)
  logits: GPUBuffer, // (N, V)
  targets: GPUBuffer, // (N) i32
  dims: CrossEntropyDims,
  stats?: GPUBuffer, // (N, 2), written
): void {
  const buffers = { loss, losses, logits, targets, ...(stats && { stats }) };
  const { N, groups } = checkDims(gpu, 'crossEntropyForward', dims, buffers);
  const rows = rowPass(gpu, dims, groups, logits, targets, { losses, stats });
  // hits are not needed here: their scratch takes the count
  const sums = { total: loss, count: rows.hits, values: losses, targets };
  gpu.dispatch(CROSS_ENTROPY_REDUCE, sums, { N, average: 1 }, 1);
  rows.release();
}

/** `stats` (N, 2): what crossEntropyForward wrote for these logits; without it they are computed here first. */
export function crossEntropyBackward(
  gpu: Gpu,
  dlogits: GPUBuffer, // (N, V), overwritten
  dloss: GPUBuffer, // (1)
  logits: GPUBuffer, // (N, V)
  targets: GPUBuffer, // (N) i32
  dims: CrossEntropyDims,
  stats?: GPUBuffer, // (N, 2)
): void {
  const buffers = { dlogits, dloss, logits, targets, ...(stats && { stats }) };
  const { N, V, groups } = checkDims(gpu, 'crossEntropyBackward', dims, buffers);
  const rows = stats ? null : rowPass(gpu, dims, groups, logits, targets, {});
  const inputs = { dloss, logits, targets, stats: stats ?? rows!.stats };
  gpu.dispatch(rowKernels(gpu, dims).backward, { dlogits, ...inputs }, { N, V }, groups);
  rows?.release();
}

export function crossEntropyAccuracy(
  gpu: Gpu,
  correct: GPUBuffer, // (1)
  counted: GPUBuffer, // (1)
  logits: GPUBuffer, // (N, V)
  targets: GPUBuffer, // (N) i32
  dims: CrossEntropyDims,
): void {
  const buffers = { correct, counted, logits, targets };
  const { N, groups } = checkDims(gpu, 'crossEntropyAccuracy', dims, buffers);
  const rows = rowPass(gpu, dims, groups, logits, targets, {});
  const sums = { total: correct, count: counted, values: rows.hits, targets };
  gpu.dispatch(CROSS_ENTROPY_REDUCE, sums, { N, average: 0 }, 1);
  rows.release();
}

/** N, V ≥ 1 with u32 indices, no buffer bound twice (the row pass and the reduction are separate dispatches). */
function checkDims(gpu: Gpu, where: string, dims: CrossEntropyDims, buffers: Record<string, GPUBuffer>) {
  const fail = (what: string, expected: string, got: unknown) =>
    new ShapeError(`${where}: ${what}, expected ${expected}, got ${got}`);
  const { N, V, maxWorkgroup } = dims;
  for (const [key, v] of Object.entries({ N, V })) {
    if (!Number.isInteger(v) || v < 1) throw fail(`dims.${key}`, 'an integer ≥ 1', v);
  }
  if (maxWorkgroup !== undefined && ![8, 16, 32, 64, 128, 256].includes(maxWorkgroup))
    throw fail('dims.maxWorkgroup', 'a power of two from 8 to 256', maxWorkgroup);
  if (N * V >= 2 ** 32) throw fail('N·V', '< 2^32 (u32 indices)', N * V);
  const seen = new Map<GPUBuffer, string>();
  for (const [name, buf] of Object.entries(buffers)) {
    if (seen.has(buf)) throw fail(name, `a buffer other than ${seen.get(buf)}`, 'the same one');
    seen.set(buf, name);
  }
  return { N, V, groups: Math.min(N, gpu.limits.maxComputeWorkgroupsPerDimension) }; // one workgroup per row
}
