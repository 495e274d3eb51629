// Causal multi-head attention, grouped-query when k and v have fewer heads than q: the one attention of training,
// evaluation and generation. The fused kernel (kernels/causal-attention.ts: no (T, T) probabilities in memory) runs
// whenever it takes the sizes; causalAttentionComposed builds the same function from matmul, softmax and dropout ops,
// for sizes the kernel does not take and as its reference in tests. Generation passes the KV cache's keys
// (models/kv-cache.ts) and the number of positions already in it.
import type { Tensor } from '../autograd/tensor.ts';
import * as F from '../autograd/functional.ts';
import { fusedAttentionFits } from '../kernels/causal-attention.ts';
import { ShapeError } from '../util/errors.ts';
import type { Dropout } from './layers.ts';

export interface AttentionOptions {
  scale: number;
  dropout: Dropout;
  /** Positions before the first query (a KV cache's length): query i is position past + i. 0 if omitted. */
  past?: number;
}

/**
 * q (B, NQ, T, HS), k and v (B, NKV, TK, HS) with NKV dividing NQ → y (B, T, NQ·HS): softmax(scale·q·kᵀ) with
 * future positions masked (query i sees keys 0..past + i; rows of k and v past that are not read), then dropout
 * (training only), then ·v. Training: past = 0 and TK = T; generation: TK is the cache's capacity.
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Tensor {
  const [B, NQ, T, HS] = q.shape;
  const past = options.past ?? 0;
  if (!fusedAttentionFits({ B, NQ, T, HS, past, TK: k.shape[2] }))
    return causalAttentionComposed(q, k, v, options);
  const { p, training } = options.dropout;
  return F.causalAttention(q, k, v, { scale: options.scale, p, training, past });
}

/**
 * causalAttention from autograd ops: the (B, NQ, T, past + T) probabilities are materialized (and saved for
 * backward). After cached positions (past > 0) it takes one query at a time, the case that needs no mask.
 */
export function causalAttentionComposed(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Tensor {
  const [B, NQ, T, HS] = q.shape;
  const [, NKV, TK] = k.shape;
  const past = options.past ?? 0;
  if (past > 0 && T !== 1) {
    throw new ShapeError(
      `causalAttentionComposed: queries after ${past} cached positions, expected 1, got ${T}`,
    );
  }
  const keys = past + T;
  // The first `keys` rows of each head: (B, NKV, TK, HS) → (B, NKV, keys, HS).
  const cut = (t: Tensor) =>
    TK === keys ? t : F.reshape(F.slice(F.reshape(t, [B * NKV, TK * HS]), 0, keys * HS), [B, NKV, keys, HS]);
  const group = NQ / NKV;
  // Grouped-query attention without repeating K/V: KV head j serves the `group` consecutive query heads
  // j·group .. j·group+group−1, which in (B, NQ, T, HS) are contiguous, so they stack as group·T rows.
  const qg = F.reshape(q, [B, NKV, group * T, HS]); // (B, NKV, group·T, HS)
  const scores = F.matmul(qg, cut(k), { transB: true }); // (B, NKV, group·T, keys)
  // The same memory is (B, NQ, T, keys), one block per query head. Causal softmax takes row r as position r % keys,
  // which is the query position when past = 0 (keys = T); after the cache the single query sees every key.
  const probs = F.softmax(F.reshape(scores, [B, NQ, T, keys]), { scale: options.scale, causal: past === 0 });
  const att = F.reshape(options.dropout.forward(probs), [B, NKV, group * T, keys]); // (B, NKV, group·T, keys)
  const y = F.reshape(F.matmul(att, cut(v)), [B, NQ, T, HS]); // (B, NQ, T, HS)
  return F.reshape(F.transpose12(y), [B, T, NQ * HS]); // (B, T, NQ·HS)
}
