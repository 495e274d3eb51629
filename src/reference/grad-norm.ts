// Float64 global gradient norm over many buffers and the clip scale of torch.nn.utils.clip_grad_norm_:
// norm = sqrt(Σ g²); scale = min(1, maxNorm / (norm + 1e-6)) when maxNorm > 0, else 1.

export const CLIP_EPS = 1e-6;

export function gradNormRef(
  norm: Float64Array, // (1)
  scale: Float64Array, // (1)
  grads: Float64Array[], // each (n_k)
  maxNorm: number,
): void {
  let sumSquares = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sumSquares += g[i] * g[i];
  norm[0] = Math.sqrt(sumSquares);
  scale[0] = maxNorm > 0 ? Math.min(1, maxNorm / (norm[0] + CLIP_EPS)) : 1;
}
