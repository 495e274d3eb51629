// Float64 cross-entropy over rows of logits (N, V) with i32 targets (N); target −100 marks an ignored row.
// loss = mean over counted rows of −log softmax(logits)[target] (0 when every row is ignored, where PyTorch gives
// NaN); dlogits = dloss · (softmax − onehot(target)) / count. A target outside [0, V) gives NaN, as the kernel does.
import type { CrossEntropyDims } from '../ops/dims.ts';

export const IGNORE_INDEX = -100;

/**
 * A row's max and rest = Σ exp(row[j] − max) over every j but the first argmax, so that log Σ exp = max + log1p(rest)
 * and p − 1 = −rest / (1 + rest) at the max stay exact for a confident row, where 1 + rest rounds rest away.
 */
function rowStats(logits: Float64Array, row: number, V: number): { max: number; rest: number } {
  let arg = 0;
  for (let j = 1; j < V; j++) if (logits[row * V + j] > logits[row * V + arg]) arg = j;
  const max = logits[row * V + arg];
  let rest = 0;
  for (let j = 0; j < V; j++) if (j !== arg) rest += Math.exp(logits[row * V + j] - max);
  return { max, rest };
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
    else if (!validTarget(t, V)) losses[i] = NaN;
    else {
      const { max, rest } = rowStats(logits, i, V);
      losses[i] = Math.log1p(rest) + (max - logits[i * V + t]);
    }
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
    const { max, rest } = rowStats(logits, i, V);
    const scale = dloss[0] / count;
    for (let j = 0; j < V; j++) {
      const x = logits[i * V + j];
      const p = Math.exp(x - max) / (1 + rest);
      const target = x === max ? -rest / (1 + rest) : p - 1;
      dlogits[i * V + j] = validTarget(t, V) ? scale * (j === t ? target : p) : NaN;
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
