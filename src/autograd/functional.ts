// The differentiable ops as plain functions over Tensors: each validates, runs forward and records a tape node.
import { ShapeError } from '../util/errors.ts';
import { apply, tapeOf } from './tape.ts';
import type { Tensor } from './tensor.ts';
import type { Llama3RopeScaling } from '../ops/rope-frequencies.ts';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor | null;
}

/** (..., M, K) · (K, N) or batched (..., K, N), with optional transposes and a bias (N). */
export function matmul(
  a: Tensor,
  b: Tensor,
  { transA = false, transB = false, bias = null }: MatmulOptions = {},
): Tensor {
  return apply('matmul', bias ? [a, b, bias] : [a, b], { transA, transB });
}

/** a + b, where b has a's shape or a trailing part of it. */
export const add = (a: Tensor, b: Tensor): Tensor => apply('add', [a, b], {});
export const mul = (a: Tensor, b: Tensor): Tensor => apply('mul', [a, b], {});
export const scale = (a: Tensor, alpha: number): Tensor => apply('scale', [a], { alpha });

/** Sum over one axis, or over everything when axis is omitted. */
export const sum = (x: Tensor, axis: number | null = null): Tensor =>
  apply('sum', [x], { axis, mean: false });
export const mean = (x: Tensor, axis: number | null = null): Tensor =>
  apply('sum', [x], { axis, mean: true });

/** A view with another shape; one dimension may be -1. */
export function reshape(x: Tensor, shape: number[]): Tensor {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const inferred = shape.map((d) => (d === -1 ? x.size / known : d));
  if (shape.filter((d) => d === -1).length > 1 || inferred.some((d) => !Number.isInteger(d))) {
    throw new ShapeError(
      `reshape: shape, expected one that fits ${x.size} elements, got [${shape.join(', ')}]`,
    );
  }
  return apply('reshape', [x], { shape: inferred });
}

/** Swap axes 1 and 2 of a 4-D tensor: (B, T, NH, HS) ↔ (B, NH, T, HS). */
export const transpose12 = (x: Tensor): Tensor => apply('transpose', [x], {});

/** Columns [start, start + width) of the last axis. */
export const slice = (x: Tensor, start: number, width: number): Tensor =>
  apply('slice', [x], { start, width });

/** softmax(scale · x) over the last axis; causal masks column j > row position (scores of shape (..., T, T)). */
export const softmax = (x: Tensor, { scale = 1, causal = false } = {}): Tensor =>
  apply('softmax', [x], { scale, causal });

export const layernorm = (x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor =>
  apply('layernorm', [x, weight, bias], { eps });

export const gelu = (x: Tensor): Tensor => apply('gelu', [x], {});

/** weight[ids]: ids i32 of any shape, weight (V, C) → (...ids.shape, C). */
export const embedding = (ids: Tensor, weight: Tensor): Tensor => apply('embedding', [ids, weight], {});

/** Mean cross-entropy of logits (..., V) against i32 targets; targets of -100 are ignored (as in PyTorch). */
export const crossEntropy = (logits: Tensor, targets: Tensor): Tensor =>
  apply('crossEntropy', [logits, targets], {});

/**
 * crossEntropy(hidden · weightᵀ, targets) without the logits: hidden (..., C), weight (V, C), i32 targets (one per row
 * of hidden, −100 ignored); the rows go in chunks of `chunk` (kernels/lm-head-loss.ts). When the tape records the call
 * (training), the gradients are computed in this forward, chunk by chunk, and backward only scales them.
 */
export function lmHeadLoss(hidden: Tensor, weight: Tensor, targets: Tensor, chunk?: number): Tensor {
  const grads = tapeOf(hidden.gpu).gradEnabled && (hidden.requiresGrad || weight.requiresGrad);
  return apply('lmHeadLoss', [hidden, weight, targets], { grads, ...(chunk !== undefined && { chunk }) });
}

/** Inverted dropout when training and p > 0; the identity otherwise. Masks come from the seed (manualSeed). */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  if (!training || p === 0) return x;
  if (!(p > 0 && p < 1)) throw new ShapeError(`dropout: p, expected in [0, 1), got ${p}`);
  const tape = tapeOf(x.gpu);
  const offset = tape.randomOffset;
  tape.randomOffset = (tape.randomOffset + x.size) >>> 0;
  return apply('dropout', [x], { p, seed: tape.seed, offset });
}

/** Llama's RMSNorm over the last axis: x·rstd·weight, rstd = 1/√(mean(x²) + eps). */
export const rmsnorm = (x: Tensor, weight: Tensor, eps: number): Tensor =>
  apply('rmsnorm', [x, weight], { eps });

/** Rotary position embedding (rotate_half layout) of x (B, NH, T, HS); row t is at position t + positionOffset; scaling: Llama 3 frequencies. */
export const rope = (x: Tensor, theta: number, positionOffset = 0, scaling?: Llama3RopeScaling): Tensor =>
  apply('rope', [x], { theta, positionOffset, scaling });

/** silu(gate) ⊙ up, the elementwise part of Llama's MLP; gate and up have the same shape. */
export const swiglu = (gate: Tensor, up: Tensor): Tensor => apply('swiglu', [gate, up], {});

/**
 * Fused causal attention: q (B, NQ, T, HS), k and v (B, NKV, TK, HS) → (B, T, NQ·HS), softmax(scale·q·kᵀ) masked, with
 * dropout p on the probabilities when training (the masks F.dropout would draw on them), then ·v. Query i is position
 * past + i and sees keys 0..past + i (a KV cache: TK ≥ past + T); training has past = 0 and TK = T.
 */
export function causalAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  { scale, p, training, past = 0 }: { scale: number; p: number; training: boolean; past?: number },
): Tensor {
  const tape = tapeOf(q.gpu);
  const offset = tape.randomOffset;
  const drop = training && p > 0;
  const [B, NQ, T] = q.shape;
  if (drop) tape.randomOffset = (offset + B * NQ * T * (past + T)) >>> 0; // B·NQ·T·(past + T) draws
  return apply('causalAttention', [q, k, v], { scale, p: drop ? p : 0, seed: tape.seed, offset, past });
}
