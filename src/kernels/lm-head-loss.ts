// Fused LM head + cross-entropy: loss = mean over rows with t ≠ −100 of logsumexp(z) − z[t], z = hidden[row] · Wᵀ,
// hidden (N, C), W (V, C) (the tied wte or an untied lm_head), targets (N) i32, without ever holding the (N, V)
// logits. The rows go in chunks small enough that a chunk's logits (rows, V) stay small, and when training the
// forward computes the gradients chunk by chunk while the chunk's logits are at hand:
// - per chunk of rows [r0, r0 + n): z = hidden[r0 : r0 + n] · Wᵀ (n, V) into one scratch buffer; a row kernel writes
//   each row's loss and hit and, training, turns z in place into g = softmax(z) − onehot(t); then
//   dhidden[r0 : r0 + n] = g · W and dW (+)= gᵀ · hidden[r0 : r0 + n] (accumulating from the second chunk).
// - the per-row losses and hits are reduced to the mean loss, the counted rows and the correct ones.
// - backward: dhidden and dW times dloss / count, in place (lmHeadLossBackward).
// Three vocabulary-sized products, as the unfused logits + cross-entropy path, instead of the four of a backward that
// recomputes the logits: fused costs nothing over unfused and the logits never exceed one chunk. dhidden sums its V
// products in the matmul's K slabs (one f32 accumulator over V = 50257 drifted 1.4e-3 from float64 in GPT-2's first
// layers' gradients).
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { checkDistinct } from '../gpu/check-buffer.ts';
import { CROSS_ENTROPY_REDUCE } from './cross-entropy-wgsl.ts';
import { rowWorkgroup } from './cross-entropy.ts';
import { LM_HEAD_SCALE, rowsKernel, SCALE_WG } from './lm-head-loss-wgsl.ts';
import { matmulForward } from './matmul.ts';
import { elementRuns, slice } from '../gpu/ranges.ts';
import { strideGroups } from './grid.ts';
import type { LmHeadLossDims } from '../ops/dims.ts';

/** Logits per chunk by default (16 MiB of f32): rows per chunk = this / V, at least 1 (83 rows at V = 50257). */
export const LM_HEAD_CHUNK_LOGITS = 4 * 2 ** 20;
/**
 * Logits per chunk when the chunk also makes dW: each chunk adds its (V, C) product into dW, one read and one write of
 * dW per chunk, so training takes fewer, larger chunks (64 MiB: 333 rows at V = 50257). Measured on SwiftShader with
 * the bundled GPT-2 (464 targets): 16 MiB chunks made the step 9% slower than the logits path, 64 MiB level with it.
 */
export const LM_HEAD_CHUNK_LOGITS_DW = 16 * 2 ** 20;

/** Rows per chunk: dims.chunk, else the chunk budget / V, within N and within one binding of logits. */
export function lmHeadChunkRows(gpu: Gpu, { N, V, chunk }: LmHeadLossDims, withDW = false): number {
  const fit = Math.floor(gpu.maxBindingBytes / (4 * V));
  if (fit < 1) {
    throw new ShapeError(
      `lmHeadLossForward: one row of logits (V = ${V}), expected at most ${gpu.maxBindingBytes} bytes (binding limit), got ${4 * V}`,
    );
  }
  const budget = withDW ? LM_HEAD_CHUNK_LOGITS_DW : LM_HEAD_CHUNK_LOGITS;
  return Math.min(N, chunk ?? Math.max(1, Math.floor(budget / V)), fit);
}

const kernels = new Map<number, Kernel>();
const rowsKernelOf = (wg: number) => kernels.get(wg) ?? kernels.set(wg, rowsKernel(wg)).get(wg)!;

/** Outputs of the forward beyond the loss and count, each optional. */
export interface LmHeadLossOutputs {
  /** (1): rows whose first argmax is their target. */
  correct?: GPUBuffer;
  /** (N, C), written: the gradient before dloss / count, which lmHeadLossBackward applies. */
  dhidden?: GPUBuffer | null;
  /** (V, C), written, for an f32 W only: likewise. */
  dweight?: GPUBuffer | null;
}

/** loss (1) = the mean; count (1) = rows with t ≠ −100; and what `out` asks for. */
export function lmHeadLossForward(
  gpu: Gpu,
  loss: GPUBuffer, // (1)
  count: GPUBuffer, // (1), written
  hidden: GPUBuffer, // (N, C)
  weight: GPUBuffer, // (V, C)
  targets: GPUBuffer, // (N) i32
  dims: LmHeadLossDims,
  out: LmHeadLossOutputs = {},
): void {
  const where = 'lmHeadLossForward';
  checkDims(where, dims);
  const { N, C, V, dtypeW } = dims;
  const { correct, dhidden = null, dweight = null } = out;
  if (dweight && (dtypeW ?? 'f32') !== 'f32') {
    throw new ShapeError(
      `${where}: dweight, expected none for a ${dtypeW} weight (16-bit weights are frozen), got a buffer`,
    );
  }
  const outputs = { loss, count, correct: correct ?? null, dhidden, dweight };
  checkDistinct(where, outputs, { hidden, weight, targets });
  const rows = lmHeadChunkRows(gpu, dims, dweight !== null);
  const logits = gpu.alloc('lm-head-loss logits chunk', rows * V * 4);
  const losses = gpu.alloc('lm-head-loss losses', N * 4);
  const hits = gpu.alloc('lm-head-loss hits', N * 4);
  const kernel = rowsKernelOf(rowWorkgroup(gpu, V));
  const grad = dhidden || dweight ? 1 : 0;
  for (let r0 = 0; r0 < N; r0 += rows) {
    const n = Math.min(rows, N - r0);
    const z = { batch: 1, M: n, N: V, K: C, transB: true, offsets: { a: r0 * C }, dtypeB: dtypeW };
    matmulForward(gpu, logits, hidden, weight, null, z);
    const groups = Math.min(n, gpu.limits.maxComputeWorkgroupsPerDimension);
    gpu.dispatch(kernel, { logits, losses, hits, targets }, { N: n, V, r0, grad }, groups);
    if (dhidden) {
      const d = { batch: 1, M: n, N: C, K: V, offsets: { out: r0 * C }, dtypeB: dtypeW };
      matmulForward(gpu, dhidden, logits, weight, null, d);
    }
    if (dweight) {
      const d = { batch: 1, M: V, N: C, K: n, transA: true, accumulate: r0 > 0, offsets: { b: r0 * C } };
      matmulForward(gpu, dweight, logits, hidden, null, d);
    }
  }
  gpu.dispatch(CROSS_ENTROPY_REDUCE, { total: loss, count, values: losses, targets }, { N, average: 1 }, 1);
  if (correct) {
    const counted = gpu.alloc('lm-head-loss counted', 4);
    const sums = { total: correct, count: counted, values: hits, targets };
    gpu.dispatch(CROSS_ENTROPY_REDUCE, sums, { N, average: 0 }, 1);
    gpu.release(counted);
  }
  [logits, losses, hits].forEach((b) => gpu.release(b));
}

/** The forward's dhidden (N, C) and dweight (V, C), either null, times dloss / count, in place. */
export function lmHeadLossBackward(
  gpu: Gpu,
  dhidden: GPUBuffer | null, // (N, C), read and written
  dweight: GPUBuffer | null, // (V, C), read and written
  dloss: GPUBuffer, // (1)
  count: GPUBuffer, // (1)
  dims: LmHeadLossDims,
): void {
  const { N, C, V } = dims;
  checkDistinct('lmHeadLossBackward', { dhidden, dweight }, { dloss, count });
  for (const [x, n] of [
    [dhidden, N * C],
    [dweight, V * C],
  ] as const) {
    if (!x) continue;
    // dW (V, C) may pass the binding limit (GPT-2's tied wte): runs bound as windows (gpu/ranges.ts).
    for (const { first, count: k } of elementRuns(gpu, n)) {
      const run = slice(x, first, k, n);
      gpu.dispatch(LM_HEAD_SCALE, { x: run, dloss, count }, { n: k }, strideGroups(gpu, k, SCALE_WG));
    }
  }
}

/** N, C, V ≥ 1, chunk ≥ 1, the largest operand within u32 indices (the buffers' sizes are checked by each dispatch). */
function checkDims(where: string, dims: LmHeadLossDims): void {
  const { N, C, V, chunk = 1 } = dims;
  for (const [key, v] of Object.entries({ N, C, V, chunk })) {
    if (!Number.isInteger(v) || v < 1)
      throw new ShapeError(`${where}: dims.${key}, expected an integer ≥ 1, got ${v}`);
  }
  if (V * C >= 2 ** 32) throw new ShapeError(`${where}: V·C, expected < 2^32 (u32 indices), got ${V * C}`);
  const dtypeW = dims.dtypeW ?? 'f32';
  if (!['f32', 'f16', 'bf16'].includes(dtypeW))
    throw new ShapeError(`${where}: dims.dtypeW, expected f32, f16 or bf16, got ${String(dtypeW)}`);
}
