// Float64 AdamW, in place on param, m, v: torch.optim.AdamW's update (decoupled weight decay applied first, then
// the bias-corrected Adam step), with the gradient first multiplied by the clip scale when one is given. Returns
// whether any updated weight is not finite (the kernel's status).
import type { AdamwDims } from '../ops/dims.ts';

export function adamwUpdateRef(
  param: Float64Array, // (n)
  m: Float64Array, // (n)
  v: Float64Array, // (n)
  grad: Float64Array, // (n)
  gradScale: Float64Array | null, // (1)
  dims: Omit<AdamwDims, 'slot'>, // the slot is the kernel's bookkeeping
): boolean {
  const { n, lr, beta1, beta2, eps, weightDecay, step } = dims;
  const scale = gradScale ? gradScale[0] : 1;
  const bias1 = 1 - beta1 ** step;
  const bias2 = 1 - beta2 ** step;
  let nonFinite = false;
  for (let i = 0; i < n; i++) {
    const g = grad[i] * scale;
    param[i] -= lr * weightDecay * param[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    param[i] -= (lr * (m[i] / bias1)) / (Math.sqrt(v[i] / bias2) + eps);
    // The kernel's weight is f32: a value past f32's range is Inf there.
    if (!Number.isFinite(Math.fround(param[i]))) nonFinite = true;
  }
  return nonFinite;
}
