// Fused log-softmax + negative log-likelihood over rows of logits (N, V) with i32 targets (N), −100 = ignored row:
// losses[i] = logsumexp(logits[i]) − logits[i, t_i], loss = mean over counted rows (0 when all are ignored, where
// PyTorch gives NaN); dlogits = dloss · (softmax − onehot(t)) / count; accuracy counts rows whose first argmax is t.
// A target outside [0, V) that is not −100 gives NaN (validate token ids at the data boundary; this only makes it loud).
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../gpu/errors.ts';

const WG = 256;

export interface CrossEntropyDims {
  N: number;
  V: number;
}

// One workgroup per row (grid-stride over rows): each invocation keeps a running (max, Σ exp(x − max)) over the
// columns j ≡ lid (mod WG), one exp per element, then a fixed-order tree merges the pairs.
const ROW_STATS = /* wgsl */ `
const WG = ${WG}u;
var<workgroup> wmax: array<f32, WG>;
var<workgroup> wsum: array<f32, WG>;

// (max, Σ exp(x − max)) of logits[base .. base + V), the same in every invocation.
fn rowStats(base: u32, V: u32, lid: u32) -> vec2f {
  var m = -3.0e38;
  var s = 0.0;
  for (var j = lid; j < V; j += WG) {
    let x = logits[base + j];
    if (x > m) {
      s = s * exp(m - x) + 1.0;
      m = x;
    } else {
      s += exp(x - m);
    }
  }
  wmax[lid] = m;
  wsum[lid] = s;
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    workgroupBarrier();
    if (lid < half) {
      let m2 = wmax[lid + half];
      let top = max(m, m2);
      s = s * exp(m - top) + wsum[lid + half] * exp(m2 - top);
      m = top;
      wmax[lid] = m;
      wsum[lid] = s;
    }
  }
  workgroupBarrier();
  let stats = vec2f(wmax[0], wsum[0]);
  workgroupBarrier(); // the next row overwrites wmax / wsum
  return stats;
}

// NaN built from a runtime value: a constant NaN is a shader-creation error in WGSL.
fn nanF32(zero: u32) -> f32 {
  return bitcast<f32>(0x7fc00000u | zero);
}
`;

export const CROSS_ENTROPY_FORWARD: Kernel = {
  name: 'cross-entropy-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one row at a time (grid-stride over rows), strided over V; see rowStats.
// Invocation 0 writes losses[row] = log Σ exp(x − max) + max − logits[row, t] (0 when t = −100).
// Bindings: losses (N) written, logits (N, V) and targets (N) read.
struct Dims { N: u32, V: u32 }
@group(0) @binding(0) var<storage, read_write> losses: array<f32>;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<uniform> u: Dims;
${ROW_STATS}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  for (var row = wid.x; row < u.N; row += groups.x) {
    let stats = rowStats(row * u.V, u.V, lid);
    let t = targets[row];
    if (lid == 0u && t == -100) {
      losses[row] = 0.0;
    } else if (lid == 0u && t >= 0 && u32(t) < u.V) {
      losses[row] = log(stats.y) + stats.x - logits[row * u.V + u32(t)];
    } else if (lid == 0u) {
      losses[row] = nanF32(u.N & 0u);
    }
  }
}
`,
};

export const CROSS_ENTROPY_BACKWARD: Kernel = {
  name: 'cross-entropy-backward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}. First every workgroup counts the rows with t ≠ −100 (strided, then a tree); then, one row at a
// time (grid-stride over rows), rowStats and one strided pass writing
// dlogits[row, j] = dloss[0] / count · (exp(x − max) / Σ − [j = t]), or 0 when t = −100.
// Bindings: dlogits (N, V) written, dloss (1), logits (N, V), targets (N) read.
struct Dims { N: u32, V: u32 }
@group(0) @binding(0) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(1) var<storage, read> dloss: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<uniform> u: Dims;
${ROW_STATS}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  var counted = 0.0; // f32 counts are exact below 2^24 rows
  for (var i = lid; i < u.N; i += WG) {
    counted += select(1.0, 0.0, targets[i] == -100);
  }
  wsum[lid] = counted;
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    workgroupBarrier();
    if (lid < half) {
      wsum[lid] += wsum[lid + half];
    }
  }
  workgroupBarrier();
  let scale = dloss[0] / max(wsum[0], 1.0);
  for (var row = wid.x; row < u.N; row += groups.x) {
    let stats = rowStats(row * u.V, u.V, lid);
    let t = targets[row];
    let valid = t >= 0 && u32(t) < u.V;
    let rowScale = select(select(nanF32(u.N & 0u), scale, valid), 0.0, t == -100);
    let inv = 1.0 / stats.y;
    for (var j = lid; j < u.V; j += WG) {
      let p = exp(logits[row * u.V + j] - stats.x) * inv;
      dlogits[row * u.V + j] = rowScale * select(p, p - 1.0, i32(j) == t);
    }
  }
}
`,
};

export const CROSS_ENTROPY_ARGMAX: Kernel = {
  name: 'cross-entropy-argmax',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one row at a time (grid-stride over rows): each invocation finds the first maximum of its strided
// columns, then a tree keeps the larger value (the smaller index on ties). Invocation 0 writes
// hits[row] = 1 when t ≠ −100 and argmax = t, else 0.
// Bindings: hits (N) written, logits (N, V) and targets (N) read.
struct Dims { N: u32, V: u32 }
@group(0) @binding(0) var<storage, read_write> hits: array<f32>;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<uniform> u: Dims;
var<workgroup> wbest: array<f32, ${WG}>;
var<workgroup> windex: array<u32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  for (var row = wid.x; row < u.N; row += groups.x) {
    var best = -3.4e38;
    var index = 0xffffffffu; // no column yet: loses every tie
    for (var j = lid; j < u.V; j += ${WG}u) {
      let x = logits[row * u.V + j];
      if (x > best || index == 0xffffffffu) {
        best = x;
        index = j;
      }
    }
    wbest[lid] = best;
    windex[lid] = index;
    for (var half = ${WG / 2}u; half > 0u; half >>= 1u) {
      workgroupBarrier();
      if (lid < half) {
        let other = wbest[lid + half];
        let otherIndex = windex[lid + half];
        if (other > best || (other == best && otherIndex < index)) {
          best = other;
          index = otherIndex;
          wbest[lid] = best;
          windex[lid] = index;
        }
      }
    }
    workgroupBarrier();
    if (lid == 0u) {
      let t = targets[row];
      hits[row] = select(0.0, 1.0, t != -100 && i32(windex[0]) == t);
    }
    workgroupBarrier(); // the next row overwrites wbest / windex
  }
}
`,
};

export const CROSS_ENTROPY_REDUCE: Kernel = {
  name: 'cross-entropy-reduce',
  wgsl: /* wgsl */ `
// One workgroup of ${WG}: invocation k sums values[i] and counts rows with t ≠ −100 for i ≡ k (mod ${WG}), ascending,
// then a fixed tree. total[0] = Σ (or Σ / count when average = 1, 0 if count = 0), count[0] = count.
// Bindings: total (1) and count (1) written, values (N) and targets (N) read.
struct Dims { N: u32, average: u32 }
@group(0) @binding(0) var<storage, read_write> total: array<f32>;
@group(0) @binding(1) var<storage, read_write> count: array<f32>;
@group(0) @binding(2) var<storage, read> values: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<uniform> u: Dims;
var<workgroup> wsum: array<f32, ${WG}>;
var<workgroup> wcount: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  var c = 0.0;
  for (var i = lid; i < u.N; i += ${WG}u) {
    s += values[i];
    c += select(1.0, 0.0, targets[i] == -100);
  }
  wsum[lid] = s;
  wcount[lid] = c;
  for (var half = ${WG / 2}u; half > 0u; half >>= 1u) {
    workgroupBarrier();
    if (lid < half) {
      wsum[lid] += wsum[lid + half];
      wcount[lid] += wcount[lid + half];
    }
  }
  if (lid == 0u) {
    let n = wcount[0];
    total[0] = select(wsum[0], select(0.0, wsum[0] / n, n > 0.0), u.average == 1u);
    count[0] = n;
  }
}
`,
};

export function crossEntropyForward(gpu: Gpu, loss: GPUBuffer, losses: GPUBuffer, logits: GPUBuffer, targets: GPUBuffer, dims: CrossEntropyDims): void {
  const { N, V } = checkDims(gpu, 'crossEntropyForward', dims, { loss: [loss, 1], losses: [losses, N_(dims)], logits: [logits, dims.N * dims.V], targets: [targets, dims.N] });
  gpu.dispatch(CROSS_ENTROPY_FORWARD, { losses, logits, targets }, { N, V }, rowGroups(gpu, N));
  const count = gpu.alloc('cross-entropy count', 4);
  gpu.dispatch(CROSS_ENTROPY_REDUCE, { total: loss, count, values: losses, targets }, { N, average: 1 }, 1);
  gpu.release(count);
}
