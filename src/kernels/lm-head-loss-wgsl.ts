// WGSL for the fused LM head + cross-entropy (dispatch, checks and the math stated in lm-head-loss.ts): the kernel
// that folds one vocabulary chunk of logits into each row's running statistics, and the kernel that turns a chunk of
// recomputed logits into its gradient in place.
import type { Kernel } from '../gpu/gpu.ts';
import { FLOAT_WGSL } from './row-wgsl.ts';

const HEADER = /* wgsl */ `${FLOAT_WGSL}
const NONE = 0xffffffffu; // no column seen: the largest index loses every tie
`;

/** Rows per workgroup of the stats kernel: one invocation per row, no barriers (SwiftShader runs 4 lanes side by side). */
export const STATS_WG = 4;

/**
 * Workgroup ${STATS_WG}, one invocation per row (grid-stride over rows): it folds the chunk's columns in order into the row's
 * running (max, Σ exp(x − max), first argmax) kept in state[row] = (max, sum, argmax as u32 bits, target logit),
 * starting it on the first chunk. A tree over lanes per chunk cost a barrier round each time (50 per row at
 * V = 50257): ~2.5× the time of the unfused cross-entropy's row kernel. On the last chunk it writes
 * losses[row] = log(sum) + max − logit[t] and hits[row] = [argmax = t] (0 and 0 when t = −100, NaN when t is outside
 * [0, V)). Bindings: state (N, 4), losses (N), hits (N) written, logits (N, width) and targets (N) read.
 */
export const CHUNK_STATS: Kernel = {
  name: 'lm-head-loss-stats',
  wgsl: /* wgsl */ `
struct Dims { N: u32, V: u32, width: u32, v0: u32, first: u32, last: u32 }
@group(0) @binding(0) var<storage, read_write> state: array<f32>;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> hits: array<f32>;
@group(0) @binding(3) var<storage, read> logits: array<f32>;
@group(0) @binding(4) var<storage, read> targets: array<i32>;
@group(0) @binding(5) var<uniform> u: Dims;
${HEADER}
@compute @workgroup_size(${STATS_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var row = gid.x; row < u.N; row += groups.x * ${STATS_WG}u) {
    let o = 4u * row;
    // Σ in blocks of 64 (inner, then added to outer), all rescaled when the max moves: one f32 sum over 50257 terms
    // in order was 2e-5 off (relL2 of dhidden through the log-sum-exp), blocks of 64 keep it at the tree's ~5e-7.
    var m = FLOOR;
    var outer = 0.0;
    var inner = 0.0;
    var arg = NONE;
    if (u.first == 0u) {
      m = state[o];
      outer = state[o + 1u];
      arg = bitcast<u32>(state[o + 2u]);
    }
    let base = row * u.width;
    for (var j = 0u; j < u.width; j++) {
      let x = logits[base + j];
      if (x > m) {
        let r = exp(m - x);
        outer *= r;
        inner = inner * r + 1.0;
        m = x;
        arg = u.v0 + j;
      } else {
        inner += exp(x - m);
      }
      if ((j & 63u) == 63u) {
        outer += inner;
        inner = 0.0;
      }
    }
    let s = outer + inner;
    let t = targets[row];
    var picked = select(state[o + 3u], 0.0, u.first == 1u);
    if (t >= i32(u.v0) && t < i32(u.v0 + u.width)) { picked = logits[base + u32(t) - u.v0]; }
    state[o] = m;
    state[o + 1u] = s;
    state[o + 2u] = bitcast<f32>(arg);
    state[o + 3u] = picked;
    if (u.last == 1u) {
      let valid = t >= 0 && u32(t) < u.V;
      let loss = select(nan_f32(u.N & 0u), log(s) + (m - picked), valid);
      losses[row] = select(loss, 0.0, t == -100);
      hits[row] = select(0.0, 1.0, valid && arg == u32(t));
    }
  }
}
`,
};

export const GRAD_WG = 32;

/**
 * Workgroup ${GRAD_WG}, one row at a time (grid-stride over rows), strided over the chunk's columns: on SwiftShader few
 * invocations each doing many elements beat one per element (2-D over (columns / 256, rows) took ~3× as long). In place: g[row, j] = dloss[0] / max(count, 1) · (exp(x − max) / sum − [v0 + j = t]), 0 on a row with t = −100, NaN
 * on a row whose target is outside [0, V). Bindings: g (N, width) read and written, state (N, 4), targets (N),
 * dloss (1) and count (1) read.
 */
export const CHUNK_GRAD: Kernel = {
  name: 'lm-head-loss-grad',
  wgsl: /* wgsl */ `
struct Dims { N: u32, V: u32, width: u32, v0: u32 }
@group(0) @binding(0) var<storage, read_write> g: array<f32>;
@group(0) @binding(1) var<storage, read> state: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read> dloss: array<f32>;
@group(0) @binding(4) var<storage, read> count: array<f32>;
@group(0) @binding(5) var<uniform> u: Dims;
${HEADER}
@compute @workgroup_size(${GRAD_WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  let scale = dloss[0] / max(count[0], 1.0);
  for (var row = wid.x; row < u.N; row += groups.x) {
    let t = targets[row];
    let valid = t >= 0 && u32(t) < u.V;
    let rowScale = select(select(nan_f32(u.N & 0u), scale, valid), 0.0, t == -100);
    let m = state[4u * row];
    let inv = 1.0 / state[4u * row + 1u];
    for (var j = lid; j < u.width; j += ${GRAD_WG}u) {
      let i = row * u.width + j;
      let p = exp(g[i] - m) * inv;
      g[i] = rowScale * select(p, p - 1.0, i32(u.v0 + j) == t);
    }
  }
}
`,
};
