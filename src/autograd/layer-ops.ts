// The op table's model layers: norms, activations, embedding, losses, dropout, RoPE and fused causal attention.
import { ShapeError } from '../util/errors.ts';
import { layernormForward, layernormBackward } from '../kernels/layernorm.ts';
import { geluForward, geluBackward } from '../kernels/gelu.ts';
import { embeddingForward, embeddingBackward } from '../kernels/embedding.ts';
import { crossEntropyForward, crossEntropyBackward } from '../kernels/cross-entropy.ts';
import { lmHeadLossForward, lmHeadLossBackward } from '../kernels/lm-head-loss.ts';
import { dropoutForward, dropoutBackward } from '../kernels/dropout.ts';
import { rmsnormForward, rmsnormBackward } from '../kernels/rmsnorm.ts';
import { ropeForward, ropeBackward } from '../kernels/rope.ts';
import { swigluForward, swigluBackward } from '../kernels/swiglu.ts';
import { causalAttentionForward } from '../kernels/causal-attention.ts';
import { causalAttentionBackward } from '../kernels/causal-attention-backward.ts';
import { Tensor, shapeString } from './tensor.ts';
import { empty, gradOf, last, expectShape, expectF32 } from './op-checks.ts';
import type { OpAttrs, OpDef } from './ops.ts';

type Name =
  | 'layernorm'
  | 'gelu'
  | 'embedding'
  | 'crossEntropy'
  | 'lmHeadLoss'
  | 'dropout'
  | 'rmsnorm'
  | 'rope'
  | 'swiglu'
  | 'causalAttention';

export const LAYER_OPS: { [K in Name]: OpDef<K> } = {
  layernorm: {
    forward: ([x, weight, bias], { eps }) => {
      expectF32('layernorm', x, weight, bias);
      const C = last(x);
      expectShape('layernorm', 'weight', weight.shape, [C]);
      expectShape('layernorm', 'bias', bias.shape, [C]);
      const N = x.size / C;
      const out = empty(x, x.shape, 'layernorm');
      const mean = empty(x, [N], 'mean');
      const rstd = empty(x, [N], 'rstd');
      layernormForward(x.gpu, out.buffer, mean.buffer, rstd.buffer, x.buffer, weight.buffer, bias.buffer, {
        N,
        C,
        eps,
      });
      return { out, saved: [mean, rstd] };
    },
    backward: (g, { inputs: [x, weight, bias], attrs: { eps }, saved: [mean, rstd] }, needs) => {
      const C = last(x);
      const dx = gradOf(x); // always computed: the kernel derives dweight/dbias in the same pass
      const [dw, db] = [needs[1] ? gradOf(weight) : null, needs[2] ? gradOf(bias) : null];
      layernormBackward(
        x.gpu,
        dx.buffer,
        dw?.buffer ?? null,
        db?.buffer ?? null,
        g.buffer,
        x.buffer,
        weight.buffer,
        mean.buffer,
        rstd.buffer,
        { N: x.size / C, C, eps },
      );
      return [needs[0] ? dx : null, dw, db];
    },
  },
  gelu: {
    forward: ([x]) => {
      expectF32('gelu', x);
      const out = empty(x, x.shape, 'gelu');
      geluForward(x.gpu, out.buffer, x.buffer, { n: x.size });
      return { out };
    },
    backward: (g, { inputs: [x] }) => {
      const dx = gradOf(x);
      geluBackward(x.gpu, dx.buffer, g.buffer, x.buffer, { n: x.size });
      return [dx];
    },
  },
  embedding: {
    forward: ([ids, weight]) => {
      if (ids.dtype !== 'i32') throw new ShapeError(`embedding: ids dtype, expected i32, got ${ids.dtype}`);
      if (weight.shape.length !== 2)
        throw new ShapeError(`embedding: weight, expected (V, C), got ${shapeString(weight.shape)}`);
      const [V, C] = weight.shape;
      const out = Tensor.empty(ids.gpu, [...ids.shape, C], `${weight.label}[ids]`);
      if (weight.dtype === 'i32')
        throw new ShapeError(`embedding: ${weight.label} dtype, expected f32, f16 or bf16, got i32`);
      embeddingForward(ids.gpu, out.buffer, ids.buffer, weight.buffer, {
        N: ids.size,
        C,
        V,
        dtype: weight.dtype,
      });
      return { out };
    },
    backward: (g, { inputs: [ids, weight] }) => {
      if (weight.dtype !== 'f32')
        throw new ShapeError(
          `embedding: ${weight.label} gradient, expected an f32 weight, got ${weight.dtype} (16-bit weights are frozen)`,
        );
      const [V, C] = weight.shape;
      const dw = gradOf(weight);
      embeddingBackward(ids.gpu, dw.buffer, g.buffer, ids.buffer, { N: ids.size, C, V });
      return [null, dw];
    },
  },
  crossEntropy: {
    forward: ([logits, targets]) => {
      expectF32('crossEntropy', logits);
      if (targets.dtype !== 'i32')
        throw new ShapeError(`crossEntropy: targets dtype, expected i32, got ${targets.dtype}`);
      const V = last(logits);
      const N = logits.size / V;
      expectShape('crossEntropy', 'targets', [targets.size], [N]);
      const loss = empty(logits, [], 'loss');
      const losses = empty(logits, [N], 'losses');
      const stats = empty(logits, [N, 2], 'row_stats'); // (max, rest) per row: backward need not recompute them
      crossEntropyForward(
        logits.gpu,
        loss.buffer,
        losses.buffer,
        logits.buffer,
        targets.buffer,
        { N, V },
        stats.buffer,
      );
      return { out: loss, saved: [losses, stats] };
    },
    backward: (g, { inputs: [logits, targets], saved: [, stats] }) => {
      const V = last(logits);
      const dlogits = gradOf(logits);
      const dims = { N: logits.size / V, V };
      crossEntropyBackward(
        logits.gpu,
        dlogits.buffer,
        g.buffer,
        logits.buffer,
        targets.buffer,
        dims,
        stats.buffer,
      );
      return [dlogits, null];
    },
  },
  lmHeadLoss: {
    // Training (grads set by F.lmHeadLoss when the tape records it): the gradients are computed in the forward, where
    // each chunk's logits are at hand, and kept until backward scales them by dloss / count (kernels/lm-head-loss.ts).
    forward: ([hidden, weight, targets], { chunk, grads }) => {
      const dims = lmHeadDims(hidden, weight, targets, chunk);
      const loss = empty(hidden, [], 'loss');
      const count = empty(hidden, [1], 'count');
      const dh = grads && hidden.requiresGrad ? gradOf(hidden) : null;
      const dw = grads && weight.requiresGrad ? gradOf(weight) : null;
      const out = { dhidden: dh?.buffer ?? null, dweight: dw?.buffer ?? null };
      lmHeadLossForward(
        hidden.gpu,
        loss.buffer,
        count.buffer,
        hidden.buffer,
        weight.buffer,
        targets.buffer,
        dims,
        out,
      );
      return { out: loss, saved: [count, ...(dh ? [dh] : []), ...(dw ? [dw] : [])] };
    },
    backward: (
      g,
      { inputs: [hidden, weight, targets], attrs: { chunk, grads }, saved: [count, ...done] },
      needs,
    ) => {
      if (!grads)
        throw new ShapeError(
          'lmHeadLoss: backward, expected a forward that computed the gradients, got none',
        );
      const dh = hidden.requiresGrad ? done.shift()! : null;
      const dw = weight.requiresGrad ? done.shift()! : null;
      const dims = lmHeadDims(hidden, weight, targets, chunk);
      lmHeadLossBackward(hidden.gpu, dh?.buffer ?? null, dw?.buffer ?? null, g.buffer, count.buffer, dims);
      return [needs[0] ? dh : null, needs[1] ? dw : null, null];
    },
  },
  dropout: {
    forward: ([x], attrs) => {
      const out = empty(x, x.shape, 'dropout');
      dropoutForward(x.gpu, out.buffer, x.buffer, { n: x.size, ...attrs });
      return { out };
    },
    backward: (g, { inputs: [x], attrs }) => {
      const dx = gradOf(x);
      dropoutBackward(x.gpu, dx.buffer, g.buffer, { n: x.size, ...attrs });
      return [dx];
    },
  },
  rmsnorm: {
    forward: ([x, weight], { eps }) => {
      expectF32('rmsnorm', x, weight);
      const C = last(x);
      expectShape('rmsnorm', 'weight', weight.shape, [C]);
      const N = x.size / C;
      const out = empty(x, x.shape, 'rmsnorm');
      const rstd = empty(x, [N], 'rstd');
      rmsnormForward(x.gpu, out.buffer, rstd.buffer, x.buffer, weight.buffer, { N, C, eps });
      return { out, saved: [rstd] };
    },
    backward: (g, { inputs: [x, weight], attrs: { eps }, saved: [rstd] }, needs) => {
      const C = last(x);
      const dx = gradOf(x); // always computed: the kernel derives dweight in the same call
      const dw = needs[1] ? gradOf(weight) : null;
      rmsnormBackward(x.gpu, dx.buffer, dw?.buffer ?? null, g.buffer, x.buffer, weight.buffer, rstd.buffer, {
        N: x.size / C,
        C,
        eps,
      });
      return [needs[0] ? dx : null, dw];
    },
  },
  rope: {
    forward: ([x], attrs) => {
      expectF32('rope', x);
      const out = empty(x, x.shape, 'rope');
      ropeForward(x.gpu, out.buffer, x.buffer, ropeDims(x, attrs));
      return { out };
    },
    backward: (g, { inputs: [x], attrs }) => {
      const dx = gradOf(x);
      ropeBackward(x.gpu, dx.buffer, g.buffer, ropeDims(x, attrs));
      return [dx];
    },
  },
  swiglu: {
    forward: ([gate, up]) => {
      expectF32('swiglu', gate, up);
      expectShape('swiglu', 'up', up.shape, gate.shape);
      const out = empty(gate, gate.shape, 'swiglu');
      swigluForward(gate.gpu, out.buffer, gate.buffer, up.buffer, { n: gate.size });
      return { out };
    },
    backward: (g, { inputs: [gate, up] }, needs) => {
      const [dgate, dup] = [needs[0] ? gradOf(gate) : null, needs[1] ? gradOf(up) : null];
      swigluBackward(gate.gpu, dgate?.buffer ?? null, dup?.buffer ?? null, g.buffer, gate.buffer, up.buffer, {
        n: gate.size,
      });
      return [dgate, dup];
    },
  },
  causalAttention: {
    forward: ([q, k, v], attrs) => {
      expectF32('causalAttention', q, k, v);
      const dims = attentionDims(q, k, v, attrs);
      const out = empty(q, [dims.B, dims.T, dims.NQ * dims.HS], 'attention'); // (B, T, NQ·HS)
      const lse = empty(q, [dims.B, dims.NQ, dims.T], 'lse'); // (B, NQ, T): all backward needs besides out
      causalAttentionForward(q.gpu, out.buffer, lse.buffer, q.buffer, k.buffer, v.buffer, dims);
      return { out, saved: [out, lse] };
    },
    backward: (g, { inputs: [q, k, v], attrs, saved: [out, lse] }) => {
      const [dq, dk, dv, dsum] = [gradOf(q), gradOf(k), gradOf(v), empty(q, lse.shape, 'dsum')];
      causalAttentionBackward(
        q.gpu,
        dq.buffer,
        dk.buffer,
        dv.buffer,
        dsum.buffer,
        g.buffer,
        out.buffer,
        lse.buffer,
        q.buffer,
        k.buffer,
        v.buffer,
        attentionDims(q, k, v, attrs),
      );
      return [dq, dk, dv];
    },
  },
};

/** q (B, NQ, T, HS), k and v (B, NKV, TK, HS) → the fused attention kernels' dims (TK ≥ past + T: a KV cache). */
function attentionDims(q: Tensor, k: Tensor, v: Tensor, attrs: OpAttrs['causalAttention']) {
  const [B, NQ, T, HS] = q.shape;
  const [, NKV, TK] = k.shape;
  if (q.shape.length !== 4)
    throw new ShapeError(`causalAttention: q, expected 4-D (B, NQ, T, HS), got ${shapeString(q.shape)}`);
  expectShape('causalAttention', 'k', k.shape, [B, NKV, TK, HS]);
  expectShape('causalAttention', 'v', v.shape, k.shape);
  return { B, NQ, NKV, T, HS, TK, ...attrs };
}

/** lmHeadLoss dims from hidden (..., C), weight (V, C) and i32 targets (one per row of hidden). */
function lmHeadDims(hidden: Tensor, weight: Tensor, targets: Tensor, chunk: number | undefined) {
  expectF32('lmHeadLoss', hidden);
  if (weight.dtype === 'i32')
    throw new ShapeError(`lmHeadLoss: ${weight.label} dtype, expected f32, f16 or bf16, got i32`);
  if (targets.dtype !== 'i32')
    throw new ShapeError(`lmHeadLoss: targets dtype, expected i32, got ${targets.dtype}`);
  const C = last(hidden);
  const N = hidden.size / C;
  expectShape('lmHeadLoss', 'weight', [weight.shape.length, last(weight)], [2, C]);
  expectShape('lmHeadLoss', 'targets', [targets.size], [N]);
  return {
    N,
    C,
    V: weight.shape[0],
    dtypeW: weight.dtype as 'f32' | 'f16' | 'bf16',
    ...(chunk !== undefined && { chunk }),
  };
}

/** rope dims from a (B, NH, T, HS) tensor. */
function ropeDims(x: Tensor, { theta, positionOffset, scaling }: OpAttrs['rope']) {
  if (x.shape.length !== 4)
    throw new ShapeError(`rope: rank, expected 4-D (B, NH, T, HS), got ${shapeString(x.shape)}`);
  const [B, NH, T, HS] = x.shape;
  return { B, NH, T, HS, theta, positionOffset, scaling };
}
