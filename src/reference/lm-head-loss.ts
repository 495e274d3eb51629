// Float64 fused LM head + cross-entropy, composed as its definition: logits = hidden · Wᵀ (N, V), then the
// cross-entropy reference (rows with target −100 ignored, the mean over the others) and the matmul reference's
// backward. Inputs and dims as kernels/lm-head-loss.ts takes them; the chunking there is an evaluation order, not a result.
import type { LmHeadLossDims } from '../ops/dims.ts';
import { crossEntropyAccuracyRef, crossEntropyBackwardRef, crossEntropyForwardRef } from './cross-entropy.ts';
import { matmulBackwardRef, matmulForwardRef } from './matmul.ts';

function logitsRef(hidden: Float64Array, weight: Float64Array, { N, C, V }: LmHeadLossDims) {
  const logits = new Float64Array(N * V);
  const dims = { batch: 1, M: N, N: V, K: C, transB: true };
  matmulForwardRef(logits, hidden, weight, null, dims);
  return { logits, dims };
}

/** loss (1) = the mean; correct (1) = counted rows whose first argmax is the target; count (1) = counted rows. */
export function lmHeadLossForwardRef(
  loss: Float64Array, // (1)
  correct: Float64Array, // (1)
  count: Float64Array, // (1)
  hidden: Float64Array, // (N, C)
  weight: Float64Array, // (V, C)
  targets: Int32Array, // (N)
  dims: LmHeadLossDims,
): void {
  const { logits } = logitsRef(hidden, weight, dims);
  const ce = { N: dims.N, V: dims.V };
  crossEntropyForwardRef(loss, new Float64Array(dims.N), logits, targets, ce);
  crossEntropyAccuracyRef(correct, count, logits, targets, ce);
}

export function lmHeadLossBackwardRef(
  dhidden: Float64Array | null, // (N, C)
  dweight: Float64Array | null, // (V, C)
  dloss: Float64Array, // (1)
  hidden: Float64Array, // (N, C)
  weight: Float64Array, // (V, C)
  targets: Int32Array, // (N)
  dims: LmHeadLossDims,
): void {
  const { logits, dims: mm } = logitsRef(hidden, weight, dims);
  const dlogits = new Float64Array(dims.N * dims.V);
  crossEntropyBackwardRef(dlogits, dloss, logits, targets, { N: dims.N, V: dims.V });
  matmulBackwardRef(dhidden, dweight, null, dlogits, hidden, weight, mm);
}
