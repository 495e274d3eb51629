// WGSL for cross-entropy (dispatch, checks and the math stated in cross-entropy.ts): the per-row statistics shared by
// the forward and backward kernels, the two row kernels (workgroup size a parameter) and the loss/count reduction.
import type { Kernel } from '../gpu/gpu.ts';
import { FLOAT_WGSL, treeSumWgsl } from './row-wgsl.ts';

export const WG = 256;

const common = (wg: number) => /* wgsl */ `
const WG = ${wg}u;
${treeSumWgsl(wg)}
${FLOAT_WGSL}`;

// exp(x − max) / Σ − [at the target] for an element x of a row with statistics (max, rest) and inv = 1 / Σ. Where x
// is the max, p = 1 / Σ and p − 1 = −rest / Σ, without the cancellation.
export const SOFTMAX_GRAD = /* wgsl */ `
fn softmax_grad(x: f32, m: f32, rest: f32, inv: f32, at_target: bool) -> f32 {
  let p = exp(x - m) * inv;
  return select(p, select(p - 1.0, -rest * inv, x == m), at_target);
}
`;

// Each invocation keeps a running (max, rest, first argmax) over the columns j ≡ lid (mod WG), one exp per element,
// where rest = Σ exp(x − max) over every element but the argmax one (whose term is exactly 1), then a fixed-order tree
// merges the triples (the smaller index wins a tie). Keeping rest apart from the 1 is what makes a confident row exact:
// Σ = 1 + rest rounds rest away when it is below 2⁻²⁴, but loss = log1p(rest) + max − x_t and p_t − 1 = −rest / Σ do
// not (with log(Σ) and p − 1, a loss of 1e-4 came out ~1e-4 relatively wrong).
export const rowStats = (wg: number) => /* wgsl */ `${common(wg)}
const NONE = 0xffffffffu; // nothing above the floor seen (max = floor): the largest index loses every tie
var<workgroup> wmax: array<f32, WG>;
var<workgroup> wrest: array<f32, WG>;
var<workgroup> warg: array<u32, WG>;

// log(1 + r) for r ≥ 0 to f32 precision: a series below 1/16 (truncation < r⁶/7 relative), where 1 + r would round
// r and log near 1 is only absolutely accurate in WGSL (2⁻²¹); log(1 + r) above.
fn log1p_nonneg(r: f32) -> f32 {
  if (r >= 0.0625) {
    return log(1.0 + r);
  }
  return r * (1.0 - r * (0.5 - r * (1.0 / 3.0 - r * (0.25 - r * (0.2 - r * (1.0 / 6.0))))));
}

// One for a lane that holds an element (its max term, exp(0)), zero for one that saw nothing.
fn maxTerm(arg: u32) -> f32 { return select(1.0, 0.0, arg == NONE); }

struct RowStats { max: f32, rest: f32, sum: f32, argmax: u32 }
fn rowStats(base: u32, V: u32, lid: u32) -> RowStats {
  var m = FLOOR;
  var r = 0.0;
  var arg = NONE;
  for (var j = lid; j < V; j += WG) {
    let x = logits[base + j];
    if (x > m) {
      r = (r + maxTerm(arg)) * exp(m - x); // the old max becomes one of the rest
      m = x;
      arg = j;
    } else {
      r += exp(x - m);
    }
  }
  wmax[lid] = m;
  wrest[lid] = r;
  warg[lid] = arg;
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    workgroupBarrier();
    if (lid < half) {
      let m2 = wmax[lid + half];
      let r2 = wrest[lid + half];
      let arg2 = warg[lid + half];
      if (m2 > m || (m2 == m && arg2 < arg)) {
        r = r2 + (r + maxTerm(arg)) * exp(m - m2);
        m = m2;
        arg = arg2;
      } else {
        r += (r2 + maxTerm(arg2)) * exp(m2 - m);
      }
      wmax[lid] = m;
      wrest[lid] = r;
      warg[lid] = arg;
    }
  }
  workgroupBarrier();
  let top = warg[0];
  let stats = RowStats(wmax[0], wrest[0], maxTerm(top) + wrest[0], select(top, 0u, top == NONE));
  workgroupBarrier(); // the next row overwrites the workgroup arrays
  return stats;
}
`;

export const forwardKernel = (wg: number): Kernel => ({
  name: wg === WG ? 'cross-entropy-forward' : `cross-entropy-forward-wg${wg}`,
  wgsl: /* wgsl */ `
// Workgroup ${wg}, one row at a time (grid-stride over rows), strided over V (see rowStats). Invocation 0 writes
// losses[row] = log1p(rest) + max − logits[row, t] and hits[row] = [argmax = t], both 0 when t = −100, and
// stats[row] = (max, rest) for the backward kernel.
// Bindings: losses (N), hits (N) and stats (N, 2) written, logits (N, V) and targets (N) read.
struct Dims { N: u32, V: u32 }
@group(0) @binding(0) var<storage, read_write> losses: array<f32>;
@group(0) @binding(1) var<storage, read_write> hits: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read> logits: array<f32>;
@group(0) @binding(4) var<storage, read> targets: array<i32>;
@group(0) @binding(5) var<uniform> u: Dims;
${rowStats(wg)}
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  for (var row = wid.x; row < u.N; row += groups.x) {
    let row_stats = rowStats(row * u.V, u.V, lid);
    let t = targets[row];
    if (lid == 0u) {
      let valid = t >= 0 && u32(t) < u.V;
      let picked = logits[row * u.V + select(0u, u32(t), valid)];
      let loss = select(nan_f32(u.N & 0u), log1p_nonneg(row_stats.rest) + (row_stats.max - picked), valid);
      losses[row] = select(loss, 0.0, t == -100);
      hits[row] = select(0.0, 1.0, valid && row_stats.argmax == u32(t));
      stats[2u * row] = row_stats.max;
      stats[2u * row + 1u] = row_stats.rest;
    }
  }
}
`,
  sizes: ({ N, V }) => ({ losses: N, hits: N, stats: 2 * N, logits: N * V, targets: N }),
});

export const backwardKernel = (wg: number): Kernel => ({
  name: wg === WG ? 'cross-entropy-backward' : `cross-entropy-backward-wg${wg}`,
  wgsl: /* wgsl */ `
// Workgroup ${wg}. Every workgroup first counts the rows with t ≠ −100 (strided, then a tree); then one row at a
// time (grid-stride over rows) it reads the forward's (max, rest), Σ = 1 + rest (rest alone for a row with nothing
// above the floor, as rowStats), and writes, strided over V,
// dlogits[row, j] = dloss[0] / count · (exp(x − max) / Σ − [j = t]), or 0 when t = −100.
// Bindings: dlogits (N, V) written, dloss (1), logits (N, V), targets (N), stats (N, 2) read.
struct Dims { N: u32, V: u32 }
@group(0) @binding(0) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(1) var<storage, read> dloss: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(5) var<uniform> u: Dims;
${common(wg)}
${SOFTMAX_GRAD}
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  var counted = 0.0; // f32 counts are exact below 2^24 rows
  for (var i = lid; i < u.N; i += WG) {
    counted += select(1.0, 0.0, targets[i] == -100);
  }
  let scale = dloss[0] / max(reduce_sum(counted, lid), 1.0);
  for (var row = wid.x; row < u.N; row += groups.x) {
    let m = stats[2u * row];
    let rest = stats[2u * row + 1u];
    let t = targets[row];
    let valid = t >= 0 && u32(t) < u.V;
    let rowScale = select(select(nan_f32(u.N & 0u), scale, valid), 0.0, t == -100);
    let inv = 1.0 / (rest + select(1.0, 0.0, m == FLOOR));
    for (var j = lid; j < u.V; j += WG) {
      let x = logits[row * u.V + j];
      dlogits[row * u.V + j] = rowScale * softmax_grad(x, m, rest, inv, i32(j) == t);
    }
  }
}
`,
  sizes: ({ N, V }) => ({ dlogits: N * V, dloss: 1, logits: N * V, targets: N, stats: 2 * N }),
});

export const CROSS_ENTROPY_REDUCE: Kernel = {
  name: 'cross-entropy-reduce',
  wgsl: /* wgsl */ `
// One workgroup of ${WG}: invocation k sums values[i] and counts rows with t ≠ −100 over i ≡ k (mod ${WG}), ascending,
// then a fixed tree. total[0] = Σ (or Σ / count when average = 1, and 0 when count = 0), count[0] = count.
// Bindings: total (1) and count (1) written, values (N) and targets (N) read.
struct Dims { N: u32, average: u32 }
@group(0) @binding(0) var<storage, read_write> total: array<f32>;
@group(0) @binding(1) var<storage, read_write> count: array<f32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<uniform> u: Dims;
${common(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  var c = 0.0;
  for (var i = lid; i < u.N; i += WG) {
    s += values[i];
    c += select(1.0, 0.0, targets[i] == -100);
  }
  let sum = reduce_sum(s, lid);
  let n = reduce_sum(c, lid);
  if (lid == 0u) {
    total[0] = select(sum, select(0.0, sum / n, n > 0.0), u.average == 1u);
    count[0] = n;
  }
}
`,
  sizes: ({ N }) => ({ total: 1, count: 1, values: N, targets: N }),
};
