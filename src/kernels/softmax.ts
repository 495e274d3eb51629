// Softmax over the last axis of (rows, cols): y = softmax(scale·x), the row max subtracted before exp.
// Causal (attention scores (B·NH·T, T)): row r is query position r % cols and columns j > r % cols are exactly 0.
// Backward: dx = scale · y ⊙ (dy − Σ_j dy_j·y_j), exactly 0 at masked columns.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { rowGrid, rowReduceWgsl, shortRowGrid } from './rows.ts';
import { checkBuffer } from '../gpu/check-buffer.ts';
import type { SoftmaxDims } from '../ops/dims.ts';

const WG = 64;

// Row n of the grid is workgroup (x, y) with n = y·groups.x + x, so more than 65535 rows fit.
// `unmasked` is how many leading columns of the row take part (all of them unless causal).
const ROW_COMMON = /* wgsl */ `
struct Dims { rows: u32, cols: u32, scale: f32, causal: u32 }

fn unmasked(row: u32) -> u32 {
  return select(u.cols, row % u.cols + 1u, u.causal != 0u);
}
`;

const SOFTMAX_FORWARD: Kernel = {
  name: 'softmax-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one row per workgroup. Invocation lid owns columns lid, lid + ${WG}, ...: one pass keeps a running
// (max m, Σ exp(scale·x − m)), rescaling the sum when m grows; a fixed-order tree merges the pairs; a second pass
// writes exp(scale·x − m) / Σ (0 where masked). Bindings: out (rows, cols) written; x (rows, cols) read.
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;
${ROW_COMMON}
var<workgroup> part_max: array<f32, ${WG}>;
var<workgroup> part_sum: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * groups.x + wid.x;
  if (row >= u.rows) { return; } // the same for the whole workgroup, so the barriers below stay uniform
  let base = row * u.cols;
  let n = unmasked(row);
  var m = -3.0e38; // a finite floor below any logit: exp(floor − m) = 0, never ∞ − ∞
  var s = 0.0;
  for (var j = lid; j < n; j += ${WG}u) {
    let v = u.scale * x[base + j];
    if (v > m) {
      s = s * exp(m - v) + 1.0;
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  part_max[lid] = m;
  part_sum[lid] = s;
  for (var half = ${WG / 2}u; half > 0u; half >>= 1u) {
    workgroupBarrier();
    if (lid < half) {
      let m2 = max(part_max[lid], part_max[lid + half]);
      part_sum[lid] = part_sum[lid] * exp(part_max[lid] - m2) + part_sum[lid + half] * exp(part_max[lid + half] - m2);
      part_max[lid] = m2;
    }
  }
  workgroupBarrier();
  m = part_max[0];
  s = part_sum[0];
  for (var j = lid; j < u.cols; j += ${WG}u) {
    var y = 0.0;
    if (j < n) { y = exp(u.scale * x[base + j] - m) / s; }
    out[base + j] = y;
  }
}
`,
};

const SOFTMAX_BACKWARD: Kernel = {
  name: 'softmax-backward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one row per workgroup. Invocation lid owns columns lid, lid + ${WG}, ...: its part of
// d = Σ_j dout_j·out_j (tree-merged), then dx_j = scale · out_j · (dout_j − d), 0 where masked.
// Bindings: dx (rows, cols) written; dout (rows, cols), out (rows, cols) read.
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> out: array<f32>;
@group(0) @binding(3) var<uniform> u: Dims;
${ROW_COMMON}
${rowReduceWgsl(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * groups.x + wid.x;
  if (row >= u.rows) { return; }
  let base = row * u.cols;
  let n = unmasked(row);
  var d = 0.0;
  for (var j = lid; j < n; j += ${WG}u) { d += dout[base + j] * out[base + j]; }
  d = reduce_sum(d, lid);
  for (var j = lid; j < u.cols; j += ${WG}u) {
    var g = 0.0;
    if (j < n) { g = u.scale * out[base + j] * (dout[base + j] - d); }
    dx[base + j] = g;
  }
}
`,
};

// Short rows (attention over T ≤ 256): one invocation per row, no barriers, 12× faster on SwiftShader (1024×64).
const SHORT_ROW = 256;
const ROW_GRID = /* wgsl */ `
fn row_of(gid: vec3u, groups: vec3u) -> u32 { return gid.y * groups.x * ${WG}u + gid.x; }
`;

const SOFTMAX_FORWARD_SHORT: Kernel = {
  name: 'softmax-forward-short',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one invocation per row (cols ≤ ${SHORT_ROW}): online (max, Σ exp) over the unmasked columns in
// order, then write. Bindings: out (rows, cols) written; x (rows, cols) read.
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;
${ROW_COMMON}
${ROW_GRID}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = row_of(gid, groups);
  if (row >= u.rows) { return; }
  let base = row * u.cols;
  let n = unmasked(row);
  var m = -3.0e38;
  var s = 0.0;
  for (var j = 0u; j < n; j++) {
    let v = u.scale * x[base + j];
    if (v > m) {
      s = s * exp(m - v) + 1.0;
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  for (var j = 0u; j < u.cols; j++) {
    var y = 0.0;
    if (j < n) { y = exp(u.scale * x[base + j] - m) / s; }
    out[base + j] = y;
  }
}
`,
};

const SOFTMAX_BACKWARD_SHORT: Kernel = {
  name: 'softmax-backward-short',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one invocation per row (cols ≤ ${SHORT_ROW}): d = Σ_j dout_j·out_j in order, then
// dx_j = scale · out_j · (dout_j − d), 0 where masked. Bindings: dx written; dout, out read (rows, cols).
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> out: array<f32>;
@group(0) @binding(3) var<uniform> u: Dims;
${ROW_COMMON}
${ROW_GRID}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = row_of(gid, groups);
  if (row >= u.rows) { return; }
  let base = row * u.cols;
  let n = unmasked(row);
  var d = 0.0;
  for (var j = 0u; j < n; j++) { d += dout[base + j] * out[base + j]; }
  for (var j = 0u; j < u.cols; j++) {
    var g = 0.0;
    if (j < n) { g = u.scale * out[base + j] * (dout[base + j] - d); }
    dx[base + j] = g;
  }
}
`,
};

export function softmaxForward(gpu: Gpu, out: GPUBuffer, x: GPUBuffer, dims: SoftmaxDims): void {
  const uniforms = checkDims('softmaxForward', dims);
  const count = dims.rows * dims.cols;
  checkBuffer(gpu, 'softmaxForward', 'out', out, count);
  checkBuffer(gpu, 'softmaxForward', 'x', x, count);
  if (out === x)
    throw new ShapeError('softmaxForward: out, expected a buffer distinct from x, got the same buffer');
  if (dims.cols <= SHORT_ROW) gpu.dispatch(SOFTMAX_FORWARD_SHORT, { out, x }, uniforms, shortRowGrid(gpu, dims.rows, WG));
  else gpu.dispatch(SOFTMAX_FORWARD, { out, x }, uniforms, rowGrid(gpu, dims.rows));
}

export function softmaxBackward(
  gpu: Gpu,
  dx: GPUBuffer,
  dout: GPUBuffer,
  out: GPUBuffer,
  dims: SoftmaxDims,
): void {
  const uniforms = checkDims('softmaxBackward', dims);
  const count = dims.rows * dims.cols;
  checkBuffer(gpu, 'softmaxBackward', 'dx', dx, count);
  checkBuffer(gpu, 'softmaxBackward', 'dout', dout, count);
  checkBuffer(gpu, 'softmaxBackward', 'out', out, count);
  if (dx === dout || dx === out) {
    throw new ShapeError(
      'softmaxBackward: dx, expected a buffer distinct from dout and out, got the same buffer',
    );
  }
  if (dims.cols <= SHORT_ROW) gpu.dispatch(SOFTMAX_BACKWARD_SHORT, { dx, dout, out }, uniforms, shortRowGrid(gpu, dims.rows, WG));
  else gpu.dispatch(SOFTMAX_BACKWARD, { dx, dout, out }, uniforms, rowGrid(gpu, dims.rows));
}

function checkDims(
  where: string,
  dims: SoftmaxDims,
): { rows: number; cols: number; scale: number; causal: number } {
  const { rows, cols } = dims;
  if (!Number.isInteger(rows) || rows < 0) {
    throw new ShapeError(`${where}: dims.rows, expected an integer ≥ 0, got ${rows}`);
  }
  if (!Number.isInteger(cols) || cols < 1) {
    throw new ShapeError(`${where}: dims.cols, expected an integer ≥ 1, got ${cols}`);
  }
  if (rows * cols >= 2 ** 32) {
    throw new ShapeError(`${where}: rows·cols, expected < 2^32 (u32 indices), got ${rows * cols}`);
  }
  const scale = dims.scale ?? 1;
  if (!Number.isFinite(scale)) {
    throw new ShapeError(`${where}: dims.scale, expected a finite number, got ${scale}`);
  }
  return { rows, cols, scale, causal: dims.causal ? 1 : 0 };
}
