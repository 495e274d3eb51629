// Causal multi-head attention, grouped-query when k and v have fewer heads than q. Training and evaluation run the
// fused kernel (kernels/causal-attention.ts: no (T, T) probabilities in memory); causalAttentionComposed builds the
// same function from matmul, softmax and dropout ops, for sizes the kernel does not take and as its reference in tests.
// Generation reads the KV cache instead (models/kv-cache.ts), on the same layout.
import type { Tensor } from '../autograd/tensor.ts';
import * as F from '../autograd/functional.ts';
import { fusedAttentionFits } from '../kernels/causal-attention.ts';
import type { Dropout } from './layers.ts';

/**
 * q (B, NQ, T, HS), k and v (B, NKV, T, HS) with NKV dividing NQ → y (B, T, NQ·HS): softmax(scale·q·kᵀ) with
 * future positions masked, then dropout (training only), then ·v.
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, options: { scale: number; dropout: Dropout }): Tensor {
  const [B, NQ, T, HS] = q.shape;
  if (!fusedAttentionFits({ B, NQ, T, HS })) return causalAttentionComposed(q, k, v, options);
  const { p, training } = options.dropout;
  return F.causalAttention(q, k, v, { scale: options.scale, p, training });
}

/** causalAttention from autograd ops: the (B, NQ, T, T) probabilities are materialized (and saved for backward). */
export function causalAttentionComposed(q: Tensor, k: Tensor, v: Tensor, options: { scale: number; dropout: Dropout }): Tensor {
  const [B, NQ, T, HS] = q.shape;
  const NKV = k.shape[1];
  const group = NQ / NKV;
  // Grouped-query attention without repeating K/V: KV head j serves the `group` consecutive query heads
  // j·group .. j·group+group−1, which in (B, NQ, T, HS) are contiguous, so they stack as group·T rows.
  const qg = F.reshape(q, [B, NKV, group * T, HS]); // (B, NKV, group·T, HS)
  const scores = F.matmul(qg, k, { transB: true }); // (B, NKV, group·T, T)
  // The same memory is (B, NQ, T, T), one square block per query head: causal softmax takes row r as position
  // r % cols = r % T, which is the query position in either view.
  const probs = F.softmax(F.reshape(scores, [B, NQ, T, T]), { scale: options.scale, causal: true });
  const att = F.reshape(options.dropout.forward(probs), [B, NKV, group * T, T]); // (B, NKV, group·T, T)
  const y = F.reshape(F.matmul(att, v), [B, NQ, T, HS]); // (B, NQ, T, HS)
  return F.reshape(F.transpose12(y), [B, T, NQ * HS]); // (B, T, NQ·HS)
}
