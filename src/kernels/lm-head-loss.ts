// Fused LM head + cross-entropy: loss = mean over rows with t ≠ −100 of logsumexp(z) − z[t], z = hidden[row] · Wᵀ,
// hidden (N, C), W (V, C) (the tied wte or an untied lm_head), targets (N) i32, without ever holding the (N, V)
// logits. The vocabulary goes in chunks of `chunk` rows of W, addressed in place by the matmul's element offsets:
// - forward: per chunk, z_c = hidden · W_cᵀ (N, width) in one scratch buffer, then a row kernel folds it into each
//   row's running (max, sum, argmax, target logit), state (N, 4), which the backward keeps instead of the logits;
//   the last chunk writes per-row losses and hits, reduced to the mean loss, the counted rows and the correct ones.
// - backward: per chunk, z_c again, then in place g_c = dloss / count · (softmax − onehot), then
//   dhidden += g_c · W_c (the matmul accumulating into dhidden) and dW_c = g_cᵀ · hidden (written at row v0 of dW).
//   Summing dhidden chunk by chunk is also what keeps it exact: one f32 accumulator over all of V = 50257 products
//   drifted 1.4e-3 (relative to the largest gradient) from float64 in GPT-2's first layers; chunks of 1024 give ~1e-5.
import type { Gpu } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { checkBuffer, checkDistinct } from '../gpu/check-buffer.ts';
import { CROSS_ENTROPY_REDUCE } from './cross-entropy-wgsl.ts';
import { CHUNK_GRAD, CHUNK_STATS, STATS_WG } from './lm-head-loss-wgsl.ts';
import { matmulForward } from './matmul.ts';
import type { LmHeadLossDims } from '../ops/dims.ts';

/** Vocabulary rows per chunk by default: the dhidden partial sums stay short (see above) and a chunk of logits small. */
export const LM_HEAD_CHUNK = 1024;

/** The chunks [v0, v0 + width) of the vocabulary, in order. */
function chunks({ V, chunk = LM_HEAD_CHUNK }: LmHeadLossDims): { v0: number; width: number }[] {
  const out = [];
  for (let v0 = 0; v0 < V; v0 += chunk) out.push({ v0, width: Math.min(chunk, V - v0) });
  return out;
}

/** z_c (N, width) = hidden · W[v0 : v0 + width]ᵀ into `logits`. */
function chunkLogits(
  gpu: Gpu,
  logits: GPUBuffer,
  hidden: GPUBuffer,
  weight: GPUBuffer,
  d: LmHeadLossDims,
  v0: number,
  width: number,
) {
  const dims = {
    batch: 1,
    M: d.N,
    N: width,
    K: d.C,
    transB: true,
    offsets: { b: v0 * d.C },
    dtypeB: d.dtypeW,
  };
  matmulForward(gpu, logits, hidden, weight, null, dims);
}

/**
 * loss (1) = the mean; state (N, 4) for the backward; count (1) = rows with t ≠ −100; correct (1), optional: rows whose
 * first argmax is t.
 */
export function lmHeadLossForward(
  gpu: Gpu,
  loss: GPUBuffer, // (1)
  state: GPUBuffer, // (N, 4), written
  count: GPUBuffer, // (1), written
  hidden: GPUBuffer, // (N, C)
  weight: GPUBuffer, // (V, C)
  targets: GPUBuffer, // (N) i32
  dims: LmHeadLossDims,
  correct?: GPUBuffer, // (1), written
): void {
  const where = 'lmHeadLossForward';
  check(gpu, where, dims, { hidden, weight, targets });
  const { N, V } = dims;
  checkBuffer(gpu, where, 'state', state, 4 * N);
  for (const [name, buf] of Object.entries({ loss, count, ...(correct && { correct }) }))
    checkBuffer(gpu, where, name, buf, 1);
  checkDistinct(where, { loss, state, count, correct: correct ?? null }, { hidden, weight, targets });
  const width = Math.min(dims.chunk ?? LM_HEAD_CHUNK, V);
  const logits = gpu.alloc('lm-head-loss logits chunk', N * width * 4);
  const losses = gpu.alloc('lm-head-loss losses', N * 4);
  const hits = gpu.alloc('lm-head-loss hits', N * 4);
  const groups = Math.min(Math.ceil(N / STATS_WG), gpu.limits.maxComputeWorkgroupsPerDimension);
  const all = chunks(dims);
  all.forEach(({ v0, width: w }, c) => {
    chunkLogits(gpu, logits, hidden, weight, dims, v0, w);
    const uniforms = { N, V, width: w, v0, first: c === 0 ? 1 : 0, last: c === all.length - 1 ? 1 : 0 };
    gpu.dispatch(CHUNK_STATS, { state, losses, hits, logits, targets }, uniforms, groups);
  });
  gpu.dispatch(CROSS_ENTROPY_REDUCE, { total: loss, count, values: losses, targets }, { N, average: 1 }, 1);
  if (correct) {
    const counted = gpu.alloc('lm-head-loss counted', 4);
    gpu.dispatch(
      CROSS_ENTROPY_REDUCE,
      { total: correct, count: counted, values: hits, targets },
      { N, average: 0 },
      1,
    );
    gpu.release(counted);
  }
  [logits, losses, hits].forEach((b) => gpu.release(b));
}

/** dhidden (N, C) and dweight (V, C), either null when not needed, from the forward's state and count. */
export function lmHeadLossBackward(
  gpu: Gpu,
  dhidden: GPUBuffer | null, // (N, C), overwritten
  dweight: GPUBuffer | null, // (V, C), overwritten
  dloss: GPUBuffer, // (1)
  hidden: GPUBuffer, // (N, C)
  weight: GPUBuffer, // (V, C)
  targets: GPUBuffer, // (N) i32
  state: GPUBuffer, // (N, 4)
  count: GPUBuffer, // (1)
  dims: LmHeadLossDims,
): void {
  const where = 'lmHeadLossBackward';
  check(gpu, where, dims, { hidden, weight, targets });
  const { N, C, V } = dims;
  checkBuffer(gpu, where, 'state', state, 4 * N);
  checkBuffer(gpu, where, 'dloss', dloss, 1);
  checkBuffer(gpu, where, 'count', count, 1);
  if (dhidden) checkBuffer(gpu, where, 'dhidden', dhidden, N * C);
  if (dweight) checkBuffer(gpu, where, 'dweight', dweight, V * C);
  if (dweight && (dims.dtypeW ?? 'f32') !== 'f32') {
    throw new ShapeError(
      `${where}: dweight, expected none for a ${dims.dtypeW} weight (16-bit weights are frozen), got a buffer`,
    );
  }
  checkDistinct(where, { dhidden, dweight }, { dloss, hidden, weight, targets, state, count });
  if (!dhidden && !dweight) return;
  const g = gpu.alloc('lm-head-loss gradient chunk', N * Math.min(dims.chunk ?? LM_HEAD_CHUNK, V) * 4);
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  chunks(dims).forEach(({ v0, width }) => {
    chunkLogits(gpu, g, hidden, weight, dims, v0, width);
    gpu.dispatch(CHUNK_GRAD, { g, state, targets, dloss, count }, { N, V, width, v0 }, Math.min(max, N));
    if (dhidden) {
      const d = {
        batch: 1,
        M: N,
        N: C,
        K: width,
        accumulate: v0 > 0,
        offsets: { b: v0 * C },
        dtypeB: dims.dtypeW,
      };
      matmulForward(gpu, dhidden, g, weight, null, d);
    }
    if (dweight) {
      const d = { batch: 1, M: width, N: C, K: N, transA: true, offsets: { out: v0 * C } };
      matmulForward(gpu, dweight, g, hidden, null, d);
    }
  });
  gpu.release(g);
}

/** N, C, V ≥ 1, chunk ≥ 1, the inputs large enough, the largest operand within u32 indices. */
function check(
  gpu: Gpu,
  where: string,
  dims: LmHeadLossDims,
  inputs: Record<'hidden' | 'weight' | 'targets', GPUBuffer>,
): void {
  const { N, C, V, chunk = LM_HEAD_CHUNK } = dims;
  for (const [key, v] of Object.entries({ N, C, V, chunk })) {
    if (!Number.isInteger(v) || v < 1)
      throw new ShapeError(`${where}: dims.${key}, expected an integer ≥ 1, got ${v}`);
  }
  if (V * C >= 2 ** 32) throw new ShapeError(`${where}: V·C, expected < 2^32 (u32 indices), got ${V * C}`);
  checkBuffer(gpu, where, 'hidden', inputs.hidden, N * C);
  const dtypeW = dims.dtypeW ?? 'f32';
  if (!['f32', 'f16', 'bf16'].includes(dtypeW))
    throw new ShapeError(`${where}: dims.dtypeW, expected f32, f16 or bf16, got ${String(dtypeW)}`);
  if (dtypeW === 'f32') checkBuffer(gpu, where, 'weight', inputs.weight, V * C);
  else checkBuffer(gpu, where, 'weight', inputs.weight, Math.ceil((V * C) / 2), `u32 (${V * C} ${dtypeW})`);
  checkBuffer(gpu, where, 'targets', inputs.targets, N, 'i32');
}
