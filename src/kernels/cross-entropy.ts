// Fused log-softmax + negative log-likelihood over rows of logits (N, V) with i32 targets (N), −100 = ignored row:
// losses[i] = logsumexp(logits[i]) − logits[i, t_i], loss = mean over counted rows (0 when all are ignored, where
// PyTorch gives NaN); dlogits = dloss · (softmax − onehot(t)) / count; accuracy counts rows whose first argmax is t.
// A target outside [0, V) other than −100 gives NaN (ids are validated at the data boundary; this makes a miss loud).
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../gpu/errors.ts';

const WG = 256;

export interface CrossEntropyDims {
  N: number;
  V: number;
}

const common = (wg: number) => /* wgsl */ `
const WG = ${wg}u;
var<workgroup> wsum: array<f32, WG>;

// Σ x over the workgroup by a fixed tree, the same in every invocation.
fn treeSum(lid: u32, x: f32) -> f32 {
  wsum[lid] = x;
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    workgroupBarrier();
    if (lid < half) {
      wsum[lid] += wsum[lid + half];
    }
  }
  workgroupBarrier();
  let total = wsum[0];
  workgroupBarrier(); // the next call overwrites wsum
  return total;
}

// NaN from a runtime zero: a constant NaN is a shader-creation error in WGSL.
fn nanF32(zero: u32) -> f32 { return bitcast<f32>(0x7fc00000u | zero); }
`;

// Each invocation keeps a running (max, rest, first argmax) over the columns j ≡ lid (mod WG), one exp per element,
// where rest = Σ exp(x − max) over every element but the argmax one (whose term is exactly 1), then a fixed-order tree
// merges the triples (the smaller index wins a tie). Keeping rest apart from the 1 is what makes a confident row exact:
// Σ = 1 + rest rounds rest away when it is below 2⁻²⁴, but loss = log1p(rest) + max − x_t and p_t − 1 = −rest / Σ do
// not (with log(Σ) and p − 1, a loss of 1e-4 came out ~1e-4 relatively wrong).
const rowStats = (wg: number) => /* wgsl */ `${common(wg)}
const NONE = 0xffffffffu; // nothing above the floor seen (max = floor): the largest index loses every tie
var<workgroup> wmax: array<f32, WG>;
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
  var m = -3.0e38; // a finite floor: exp(floor − x) = 0 without ∞ − ∞
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
  wsum[lid] = r;
  warg[lid] = arg;
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    workgroupBarrier();
    if (lid < half) {
      let m2 = wmax[lid + half];
      let r2 = wsum[lid + half];
      let arg2 = warg[lid + half];
      if (m2 > m || (m2 == m && arg2 < arg)) {
        r = r2 + (r + maxTerm(arg)) * exp(m - m2);
        m = m2;
        arg = arg2;
      } else {
        r += (r2 + maxTerm(arg2)) * exp(m2 - m);
      }
      wmax[lid] = m;
      wsum[lid] = r;
      warg[lid] = arg;
    }
  }
  workgroupBarrier();
  let top = warg[0];
  let stats = RowStats(wmax[0], wsum[0], maxTerm(top) + wsum[0], select(top, 0u, top == NONE));
  workgroupBarrier(); // the next row overwrites the workgroup arrays
  return stats;
}
`;

const forwardKernel = (wg: number): Kernel => ({
  name: wg === WG ? 'cross-entropy-forward' : `cross-entropy-forward-wg${wg}`,
  wgsl: /* wgsl */ `
// Workgroup ${wg}, one row at a time (grid-stride over rows), strided over V (see rowStats). Invocation 0 writes
// losses[row] = log1p(rest) + max − logits[row, t] and hits[row] = [argmax = t], both 0 when t = −100.
// Bindings: losses (N) and hits (N) written, logits (N, V) and targets (N) read.
struct Dims { N: u32, V: u32 }
@group(0) @binding(0) var<storage, read_write> losses: array<f32>;
@group(0) @binding(1) var<storage, read_write> hits: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<uniform> u: Dims;
${rowStats(wg)}
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  for (var row = wid.x; row < u.N; row += groups.x) {
    let stats = rowStats(row * u.V, u.V, lid);
    let t = targets[row];
    if (lid == 0u) {
      let valid = t >= 0 && u32(t) < u.V;
      let picked = logits[row * u.V + select(0u, u32(t), valid)];
      let loss = select(nanF32(u.N & 0u), log1p_nonneg(stats.rest) + (stats.max - picked), valid);
      losses[row] = select(loss, 0.0, t == -100);
      hits[row] = select(0.0, 1.0, valid && stats.argmax == u32(t));
    }
  }
}
`,
});

const backwardKernel = (wg: number): Kernel => ({
  name: wg === WG ? 'cross-entropy-backward' : `cross-entropy-backward-wg${wg}`,
  wgsl: /* wgsl */ `
// Workgroup ${wg}. Every workgroup first counts the rows with t ≠ −100 (strided, then a tree); then one row at a
// time (grid-stride over rows) it takes rowStats and writes, strided over V,
// dlogits[row, j] = dloss[0] / count · (exp(x − max) / Σ − [j = t]), or 0 when t = −100.
// Bindings: dlogits (N, V) written, dloss (1), logits (N, V), targets (N) read.
struct Dims { N: u32, V: u32 }
@group(0) @binding(0) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(1) var<storage, read> dloss: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<uniform> u: Dims;
${rowStats(wg)}
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) groups: vec3u) {
  var counted = 0.0; // f32 counts are exact below 2^24 rows
  for (var i = lid; i < u.N; i += WG) {
    counted += select(1.0, 0.0, targets[i] == -100);
  }
  let scale = dloss[0] / max(treeSum(lid, counted), 1.0);
  for (var row = wid.x; row < u.N; row += groups.x) {
    let stats = rowStats(row * u.V, u.V, lid);
    let t = targets[row];
    let valid = t >= 0 && u32(t) < u.V;
    let rowScale = select(select(nanF32(u.N & 0u), scale, valid), 0.0, t == -100);
    let inv = 1.0 / stats.sum;
    for (var j = lid; j < u.V; j += WG) {
      let x = logits[row * u.V + j];
      let p = exp(x - stats.max) * inv;
      // p − 1 at the target; where x is the max, p = 1 / Σ and p − 1 = −rest / Σ without the cancellation.
      let atTarget = select(p - 1.0, -stats.rest * inv, x == stats.max);
      dlogits[row * u.V + j] = rowScale * select(p, atTarget, i32(j) == t);
    }
  }
}
`,
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
  let sum = treeSum(lid, s);
  let n = treeSum(lid, c);
  if (lid == 0u) {
    total[0] = select(sum, select(0.0, sum / n, n > 0.0), u.average == 1u);
    count[0] = n;
  }
}
`,
};

// A row shorter than WG gets the smallest power of two ≥ V (at least 8) instead: idle invocations still pay for every
// barrier, which on a software adapter makes a classification head (V = a few labels) ~50x slower per row.
const rowKernelCache = new Map<number, { forward: Kernel; backward: Kernel }>();
function rowKernels(V: number): { forward: Kernel; backward: Kernel } {
  const wg = Math.min(WG, Math.max(8, 2 ** Math.ceil(Math.log2(V))));
  let k = rowKernelCache.get(wg);
  if (!k) rowKernelCache.set(wg, (k = { forward: forwardKernel(wg), backward: backwardKernel(wg) }));
  return k;
}

export function crossEntropyForward(
  gpu: Gpu,
  loss: GPUBuffer, // (1)
  losses: GPUBuffer, // (N)
  logits: GPUBuffer, // (N, V)
  targets: GPUBuffer, // (N) i32
  dims: CrossEntropyDims,
): void {
  const { N, V, groups } = checkDims(gpu, 'crossEntropyForward', dims, { loss, losses, logits, targets });
  const hits = gpu.alloc('cross-entropy hits', N * 4); // (N), not needed here; then reused for the count
  gpu.dispatch(rowKernels(V).forward, { losses, hits, logits, targets }, { N, V }, groups);
  const sums = { total: loss, count: hits, values: losses, targets };
  gpu.dispatch(CROSS_ENTROPY_REDUCE, sums, { N, average: 1 }, 1);
  gpu.release(hits);
}

export function crossEntropyBackward(
  gpu: Gpu,
  dlogits: GPUBuffer, // (N, V), overwritten
  dloss: GPUBuffer, // (1)
  logits: GPUBuffer, // (N, V)
  targets: GPUBuffer, // (N) i32
  dims: CrossEntropyDims,
): void {
  const { N, V, groups } = checkDims(gpu, 'crossEntropyBackward', dims, { dlogits, dloss, logits, targets });
  gpu.dispatch(rowKernels(V).backward, { dlogits, dloss, logits, targets }, { N, V }, groups);
}

export function crossEntropyAccuracy(
  gpu: Gpu,
  correct: GPUBuffer, // (1)
  counted: GPUBuffer, // (1)
  logits: GPUBuffer, // (N, V)
  targets: GPUBuffer, // (N) i32
  dims: CrossEntropyDims,
): void {
  const buffers = { correct, counted, logits, targets };
  const { N, V, groups } = checkDims(gpu, 'crossEntropyAccuracy', dims, buffers);
  const losses = gpu.alloc('cross-entropy losses', N * 4); // (N), unused here
  const hits = gpu.alloc('cross-entropy hits', N * 4); // (N)
  gpu.dispatch(rowKernels(V).forward, { losses, hits, logits, targets }, { N, V }, groups);
  const sums = { total: correct, count: counted, values: hits, targets };
  gpu.dispatch(CROSS_ENTROPY_REDUCE, sums, { N, average: 0 }, 1);
  gpu.release(losses);
  gpu.release(hits);
}

/** N, V ≥ 1 with u32 indices, every buffer large enough, none bound twice (WebGPU forbids a written alias). */
function checkDims(gpu: Gpu, where: string, dims: CrossEntropyDims, buffers: Record<string, GPUBuffer>) {
  const fail = (what: string, expected: string, got: unknown) =>
    new ShapeError(`${where}: ${what}, expected ${expected}, got ${got}`);
  const { N, V } = dims;
  for (const [key, v] of Object.entries({ N, V })) {
    if (!Number.isInteger(v) || v < 1) throw fail(`dims.${key}`, 'an integer ≥ 1', v);
  }
  if (N * V >= 2 ** 32) throw fail('N·V', '< 2^32 (u32 indices)', N * V);
  const seen = new Map<GPUBuffer, string>();
  for (const [name, buf] of Object.entries(buffers)) {
    const count = name.endsWith('logits') ? N * V : name === 'losses' || name === 'targets' ? N : 1;
    const bytes = gpu.pool.meta(buf)?.bytes ?? buf.size;
    if (bytes < count * 4) throw fail(`${name} size`, `≥ ${count * 4} bytes (${count} × 4)`, bytes);
    if (seen.has(buf)) throw fail(name, `a buffer other than ${seen.get(buf)}`, 'the same one');
    seen.set(buf, name);
  }
  return { N, V, groups: Math.min(N, gpu.limits.maxComputeWorkgroupsPerDimension) }; // one workgroup per row
}
