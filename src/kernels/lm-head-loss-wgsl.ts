// WGSL for the fused LM head + cross-entropy (dispatch, checks and the math stated in lm-head-loss.ts): the row kernel
// that folds one vocabulary chunk of logits into each row's running statistics, and the kernel that turns a chunk of
// recomputed logits into its gradient in place.
import type { Kernel } from '../gpu/gpu.ts';

const HEADER = /* wgsl */ `
const FLOOR = -3.0e38; // the running max starts here, finite: exp(floor − x) = 0 without ∞ − ∞
const NONE = 0xffffffffu; // no column seen: the largest index loses every tie
// NaN from a runtime zero: a constant NaN is a shader-creation error in WGSL.
fn nanF32(zero: u32) -> f32 { return bitcast<f32>(0x7fc00000u | zero); }
`;

/**
 * Workgroup `wg` (rowWorkgroupCap: 32 on a software adapter), one row at a time (grid-stride over rows). Lane l keeps
 * (max, Σ exp(x − max), first argmax) over the chunk's columns j ≡ l (mod wg); a fixed tree merges the lanes (the
 * smaller index wins a tie), then lane 0 merges the chunk into state[row] = (max, sum, argmax as u32 bits, target
 * logit), or starts it on the first chunk. On the last chunk it writes losses[row] = log(sum) + max − logit[t] and
 * hits[row] = [argmax = t] (0 and 0 when t = −100, NaN when t is outside [0, V)).
 * Bindings: state (N, 4), losses (N), hits (N) written, logits (N, width) and targets (N) read.
 */
export const chunkStatsKernel = (wg: number): Kernel => ({
  name: `lm-head-loss-stats-wg${wg}`,
  wgsl: /* wgsl */ `
struct Dims { N: u32, V: u32, width: u32, v0: u32, first: u32, last: u32 }
@group(0) @binding(0) var<storage, read_write> state: array<f32>;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> hits: array<f32>;
@group(0) @binding(3) var<storage, read> logits: array<f32>;
@group(0) @binding(4) var<storage, read> targets: array<i32>;
@group(0) @binding(5) var<uniform> u: Dims;
${HEADER}
const WG = ${wg}u;
var<workgroup> wmax: array<f32, WG>;
var<workgroup> wsum: array<f32, WG>;
var<workgroup> warg: array<u32, WG>;

struct Run { m: f32, s: f32, arg: u32 }
// (m, s, arg) ∪ (m2, s2, arg2): the larger max wins, the smaller index on a tie; sums rescale to the winner's max.
fn merge(a: Run, b: Run) -> Run {
  if (b.m > a.m || (b.m == a.m && b.arg < a.arg)) { return Run(b.m, b.s + a.s * exp(a.m - b.m), b.arg); }
  return Run(a.m, a.s + b.s * exp(b.m - a.m), a.arg);
}

@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  for (var row = wid.x; row < u.N; row += groups.x) {
    var r = Run(FLOOR, 0.0, NONE);
    for (var j = lid; j < u.width; j += WG) {
      let x = logits[row * u.width + j];
      if (x > r.m) {
        r = Run(x, r.s * exp(r.m - x) + 1.0, u.v0 + j);
      } else {
        r.s += exp(x - r.m);
      }
    }
    wmax[lid] = r.m;
    wsum[lid] = r.s;
    warg[lid] = r.arg;
    for (var half = WG / 2u; half > 0u; half >>= 1u) {
      workgroupBarrier();
      if (lid < half) {
        r = merge(r, Run(wmax[lid + half], wsum[lid + half], warg[lid + half]));
        wmax[lid] = r.m;
        wsum[lid] = r.s;
        warg[lid] = r.arg;
      }
    }
    workgroupBarrier();
    if (lid == 0u) {
      let t = targets[row];
      let o = 4u * row;
      var picked = select(state[o + 3u], 0.0, u.first == 1u);
      if (t >= i32(u.v0) && t < i32(u.v0 + u.width)) { picked = logits[row * u.width + u32(t) - u.v0]; }
      if (u.first == 0u) { r = merge(Run(state[o], state[o + 1u], bitcast<u32>(state[o + 2u])), r); }
      state[o] = r.m;
      state[o + 1u] = r.s;
      state[o + 2u] = bitcast<f32>(r.arg);
      state[o + 3u] = picked;
      if (u.last == 1u) {
        let valid = t >= 0 && u32(t) < u.V;
        let loss = select(nanF32(u.N & 0u), log(r.s) + (r.m - picked), valid);
        losses[row] = select(loss, 0.0, t == -100);
        hits[row] = select(0.0, 1.0, valid && r.arg == u32(t));
      }
    }
    workgroupBarrier(); // the next row overwrites the workgroup arrays
  }
}
`,
});

export const GRAD_WG = 256;

/**
 * Workgroup ${GRAD_WG}, grid-stride over the chunk's N·width elements. In place:
 * g[row, j] = dloss[0] / max(count, 1) · (exp(x − max) / sum − [v0 + j = t]), 0 on a row with t = −100, NaN on a row
 * whose target is outside [0, V). Bindings: g (N, width) read and written, state (N, 4), targets (N), dloss (1) and
 * count (1) read.
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
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let scale = dloss[0] / max(count[0], 1.0);
  let total = u.N * u.width;
  for (var i = gid.x; i < total; i += groups.x * ${GRAD_WG}u) {
    let row = i / u.width;
    let j = i - row * u.width;
    let t = targets[row];
    let valid = t >= 0 && u32(t) < u.V;
    let rowScale = select(select(nanF32(u.N & 0u), scale, valid), 0.0, t == -100);
    let p = exp(g[i] - state[4u * row]) / state[4u * row + 1u];
    g[i] = rowScale * select(p, p - 1.0, i32(u.v0 + j) == t);
  }
}
`,
};
