// WGSL for the fused LM head + cross-entropy (dispatch, checks and the math stated in lm-head-loss.ts): the row kernel
// that turns a chunk of logits into each row's loss and hit and, when training, into its gradient in place; and the
// kernel that scales the finished gradients by dloss / count.
import type { Kernel } from '../gpu/gpu.ts';
import { rowStats, SOFTMAX_GRAD } from './cross-entropy-wgsl.ts';

/**
 * Workgroup `wg`, one row of the chunk at a time (grid-stride over rows), strided over V: the cross-entropy forward's
 * row statistics (max, rest, first argmax; see cross-entropy-wgsl.ts), then invocation 0 writes, at row r0 + row of
 * the whole batch, losses = log1p(rest) + max − logits[row, t] and hits = [argmax = t] (0 and 0 when t = −100, NaN
 * when t is outside [0, V)). With grad = 1 the row then becomes, in place, softmax − onehot(t) (0 when t = −100, NaN
 * when t is outside [0, V)); the 1 / count and dloss come later (LM_HEAD_SCALE). Bindings: logits (N, V) read (and
 * written when grad = 1), losses and hits (r0 + N) written, targets (r0 + N) read.
 */
export const rowsKernel = (wg: number): Kernel => ({
  name: `lm-head-loss-rows-wg${wg}`,
  wgsl: /* wgsl */ `
struct Dims { N: u32, V: u32, r0: u32, grad: u32 }
@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> hits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<uniform> u: Dims;
${rowStats(wg)}
${SOFTMAX_GRAD}
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  for (var row = wid.x; row < u.N; row += groups.x) {
    let s = rowStats(row * u.V, u.V, lid);
    let t = targets[u.r0 + row];
    let valid = t >= 0 && u32(t) < u.V;
    let picked = logits[row * u.V + select(0u, u32(t), valid)];
    workgroupBarrier(); // every invocation has read the target logit before the row is overwritten
    if (lid == 0u) {
      let loss = select(nan_f32(u.N & 0u), log1p_nonneg(s.rest) + (s.max - picked), valid);
      losses[u.r0 + row] = select(loss, 0.0, t == -100);
      hits[u.r0 + row] = select(0.0, 1.0, valid && s.argmax == u32(t));
    }
    if (u.grad == 1u) {
      let rowScale = select(select(nan_f32(u.N & 0u), 1.0, valid), 0.0, t == -100);
      let inv = 1.0 / (s.rest + select(1.0, 0.0, s.max == FLOOR));
      for (var j = lid; j < u.V; j += WG) {
        let i = row * u.V + j;
        logits[i] = rowScale * softmax_grad(logits[i], s.max, s.rest, inv, i32(j) == t);
      }
    }
  }
}
`,
  sizes: ({ N, V, r0 }) => ({ logits: N * V, losses: r0 + N, hits: r0 + N, targets: r0 + N }),
});

export const SCALE_WG = 256;

/**
 * Grid-stride: x[i] *= dloss[0] / max(count[0], 1), the mean's 1 / count and the upstream gradient applied once to the
 * summed gradients. Bindings: x (n) read and written, dloss (1) and count (1) read.
 */
export const LM_HEAD_SCALE: Kernel = {
  name: 'lm-head-loss-scale',
  wgsl: /* wgsl */ `
struct Dims { n: u32 }
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> dloss: array<f32>;
@group(0) @binding(2) var<storage, read> count: array<f32>;
@group(0) @binding(3) var<uniform> u: Dims;
@compute @workgroup_size(${SCALE_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let scale = dloss[0] / max(count[0], 1.0);
  for (var i = gid.x; i < u.n; i += groups.x * ${SCALE_WG}u) {
    x[i] *= scale;
  }
}
`,
  sizes: ({ n }) => ({ x: n, dloss: 1, count: 1 }),
};
