// Float64 cross-entropy over rows of logits (N, V) with i32 targets (N); target −100 marks an ignored row.
// loss = mean over counted rows of −log softmax(logits)[target] (0 when every row is ignored, where PyTorch gives
// NaN); dlogits = dloss · (softmax − onehot(target)) / count. A target outside [0, V) gives NaN, as the kernel does.
import type { CrossEntropyDims } from '../kernels/cross-entropy.ts';

export const IGNORE_INDEX = -100;

/** log Σ_j exp(row[j]), shifted by the row max so no term overflows. */
function logSumExp(logits: Float64Array, row: number, V: number): number {
  let max = -Infinity;
  for (let j = 0; j < V; j++) max = Math.max(max, logits[row * V + j]);
  let sum = 0;
  for (let j = 0; j < V; j++) sum += Math.exp(logits[row * V + j] - max);
  return max + Math.log(sum);
}

function countRows(targets: Int32Array, N: number): number {
  let count = 0;
  for (let i = 0; i < N; i++) if (targets[i] !== IGNORE_INDEX) count++;
  return count;
}

function validTarget(t: number, V: number): boolean {
  return t >= 0 && t < V;
}

export function crossEntropyForwardRef(
  loss: Float64Array, // (1)
  losses: Float64Array, // (N)
  logits: Float64Array, // (N, V)
  targets: Int32Array, // (N)
  dims: CrossEntropyDims,
): void {
  const { N, V } = dims;
  let total = 0;
  for (let i = 0; i < N; i++) {
    const t = targets[i];
    if (t === IGNORE_INDEX) losses[i] = 0;
    else losses[i] = validTarget(t, V) ? logSumExp(logits, i, V) - logits[i * V + t] : NaN;
    total += losses[i];
  }
  const count = countRows(targets, N);
  loss[0] = count > 0 ? total / count : 0;
}

export function crossEntropyBackwardRef(
  dlogits: Float64Array, // (N, V)
  dloss: Float64Array, // (1)
  logits: Float64Array, // (N, V)
  targets: Int32Array, // (N)
  dims: CrossEntropyDims,
): void {
  const { N, V } = dims;
  const count = countRows(targets, N);
  for (let i = 0; i < N; i++) {
    const t = targets[i];
    if (t === IGNORE_INDEX) {
      dlogits.fill(0, i * V, (i + 1) * V);
      continue;
    }
    const lse = logSumExp(logits, i, V);
    const scale = dloss[0] / count;
    for (let j = 0; j < V; j++) {
      const p = Math.exp(logits[i * V + j] - lse);
      dlogits[i * V + j] = validTarget(t, V) ? scale * (p - (j === t ? 1 : 0)) : NaN;
    }
  }
}

/** correct = counted rows whose argmax (first maximum on ties) equals the target; counted = rows not ignored. */
export function crossEntropyAccuracyRef(
  correct: Float64Array, // (1)
  counted: Float64Array, // (1)
  logits: Float64Array, // (N, V)
  targets: Int32Array, // (N)
  dims: CrossEntropyDims,
): void {
  const { N, V } = dims;
  let hits = 0;
  for (let i = 0; i < N; i++) {
    if (targets[i] === IGNORE_INDEX) continue;
    let best = 0;
    for (let j = 1; j < V; j++) if (logits[i * V + j] > logits[i * V + best]) best = j;
    if (best === targets[i]) hits++;
  }
  correct[0] = hits;
  counted[0] = countRows(targets, N);
}
