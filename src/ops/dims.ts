// The dimension records of every op: what a kernel (src/kernels/) and its float64 reference (src/reference/) take
// after their buffers or arrays, in one place both import.
import type { Llama3RopeScaling } from './rope-frequencies.ts';

export interface AdamwDims {
  n: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based. */
  step: number;
  /** Written to status when an updated weight is not finite (the tensor's index in the optimizer). */
  slot: number;
}

export interface CrossEntropyDims {
  N: number;
  V: number;
  /** Invocations per row at most (a power of two, 8 to 256); default by adapter (rowWorkgroupCap). Checks set it. */
  maxWorkgroup?: number;
}

export interface DropoutDims {
  n: number;
  /** Drop probability in [0, 1). */
  p: number;
  /** u32 key of the random stream. */
  seed: number;
  /** u32 counter of element 0; the caller advances it by n per call so masks never repeat. */
  offset: number;
}

export interface BroadcastDims {
  n: number;
  bn: number;
}

export interface ScaleDims {
  n: number;
  alpha: number;
}

export interface EmbeddingDims {
  N: number;
  C: number;
  V: number;
  /** Forward only: how the weight is stored, f32 (default) or 16-bit two per u32 (a frozen embedding). */
  dtype?: 'f32' | 'f16' | 'bf16';
}

export interface GeluDims {
  n: number;
}

export interface LayernormDims {
  N: number;
  C: number;
  eps: number;
}

export interface MatmulDims {
  batch: number;
  M: number;
  N: number;
  K: number;
  transA?: boolean; // A stored (batch, K, M) instead of (batch, M, K)
  transB?: boolean; // B stored (batch, N, K) instead of (batch, K, N)
  batchStrideA?: number; // elements between A's matrices: default M·K, 0 shares one A, larger leaves gaps
  batchStrideB?: number; // the same for B (0: one B for every batch, e.g. weights)
  accumulate?: boolean; // forward only: out += result instead of out = result
  dtypeB?: 'f32' | 'f16' | 'bf16'; // how B is stored: f32 (default) or 16-bit, two per u32 (a frozen weight, no dB)
  /** Forward only: elements before A's, B's and out's first matrix (a chunk of a larger buffer, no copy); default 0. */
  offsets?: { a?: number; b?: number; out?: number };
}

export interface RmsnormDims {
  N: number;
  C: number;
  eps: number;
}

export interface RopeDims {
  B: number;
  NH: number;
  T: number;
  HS: number;
  theta: number;
  positionOffset: number;
  /** Llama 3's frequency rescaling (src/ops/rope-frequencies.ts); absent for plain RoPE. */
  scaling?: Llama3RopeScaling;
}

export interface SliceDims {
  rows: number;
  cols: number;
  start: number;
  width: number;
}

export interface SoftmaxDims {
  rows: number;
  cols: number;
  /** softmax(scale·x); default 1. */
  scale?: number;
  /** Row r is query position r % cols; columns after it are masked to 0. */
  causal?: boolean;
}

export interface SumDims {
  outer: number;
  axis: number;
  inner: number;
  /** Multiplies the result (and the gradient); default 1, 1/axis gives the mean. */
  scale?: number;
}

export interface SwigluDims {
  n: number;
}

export interface TransposeDims {
  d0: number;
  d1: number;
  d2: number;
  d3: number;
}

/** Fused causal attention: q (B, NQ, T, HS), k and v (B, NKV, TK, HS), out (B, T, NQ·HS), NKV dividing NQ. */
export interface CausalAttentionDims {
  B: number;
  NQ: number;
  NKV: number;
  T: number;
  HS: number;
  /** Positions already cached before the first query: query i is position past + i and sees keys 0..past + i. 0 if omitted. */
  past?: number;
  /** Key rows per (batch, KV head) in k and v, ≥ past + T (a KV cache's capacity); past + T if omitted. */
  TK?: number;
  scale: number;
  /** Dropout on the probabilities (0: none), masks of dropout(seed, offset) over the flat (B, NQ, T, past + T) probabilities. */
  p: number;
  seed: number;
  offset: number;
}

export interface LmHeadLossDims {
  /** Rows of hidden (tokens with a target). */
  N: number;
  C: number;
  /** Vocabulary: rows of the head weight (V, C). */
  V: number;
  /** Rows of hidden per chunk (default LM_HEAD_CHUNK_LOGITS / V, see kernels/lm-head-loss.ts). */
  chunk?: number;
  /** How W is stored: f32 (default) or 16-bit two per u32 (a frozen weight: no dW). */
  dtypeW?: 'f32' | 'f16' | 'bf16';
}
