// Softmax over the last axis of (rows, cols): y = softmax(scale·x), the row max subtracted before exp.
// Causal (attention scores (B·NH·T, T)): row r is query position r % cols and columns j > r % cols are exactly 0.
// Backward: dx = scale · y ⊙ (dy − Σ_j dy_j·y_j), exactly 0 at masked columns.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { rowShape, rowShapeGrid, SHORT_ROW, type RowShape } from './rows.ts';
import { FLOAT_WGSL, rowMainWgsl } from './row-wgsl.ts';
import type { SoftmaxDims } from '../ops/dims.ts';

const WG = 64;

// `unmasked` is how many leading columns of the row take part (all of them unless causal).
const ROW_COMMON = /* wgsl */ `
struct Dims { rows: u32, cols: u32, scale: f32, causal: u32 }

fn unmasked(row: u32) -> u32 {
  return select(u.cols, row % u.cols + 1u, u.causal != 0u);
}
${FLOAT_WGSL}`;

// The online softmax's (max m, Σ exp(x − m)) of the workgroup: a fixed-order tree, rescaling to the larger max; a
// short row's invocation already holds its row's.
const reduceMaxSum = (shape: RowShape) =>
  shape === 'short'
    ? /* wgsl */ `fn reduce_max_sum(m: f32, s: f32, lid: u32) -> vec2f { return vec2f(m, s); }`
    : /* wgsl */ `
var<workgroup> part_max: array<f32, ${WG}>;
var<workgroup> part_sum: array<f32, ${WG}>;

fn reduce_max_sum(m: f32, s: f32, lid: u32) -> vec2f {
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
  return vec2f(part_max[0], part_sum[0]);
}`;

const rowsIn = (shape: RowShape) =>
  shape === 'short' ? `one invocation per row (cols ≤ ${SHORT_ROW})` : 'one row per workgroup';

const forwardKernel = (shape: RowShape): Kernel => ({
  name: shape === 'short' ? 'softmax-forward-short' : 'softmax-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, ${rowsIn(shape)} (row-wgsl.ts). Invocation lid owns columns lid, lid + STRIDE, ...: one pass
// keeps a running (max m, Σ exp(scale·x − m)), rescaling the sum when m grows; reduce_max_sum merges the pairs; a
// second pass writes exp(scale·x − m) / Σ (0 where masked). Bindings: out (rows, cols) written; x (rows, cols) read.
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;
${ROW_COMMON}
${reduceMaxSum(shape)}
${rowMainWgsl(shape, WG, 'u.rows')}
  let base = row * u.cols;
  let n = unmasked(row);
  var m = FLOOR;
  var s = 0.0;
  for (var j = lid; j < n; j += STRIDE) {
    let v = u.scale * x[base + j];
    if (v > m) {
      s = s * exp(m - v) + 1.0;
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  let total = reduce_max_sum(m, s, lid);
  m = total.x;
  s = total.y;
  for (var j = lid; j < u.cols; j += STRIDE) {
    var y = 0.0;
    if (j < n) { y = exp(u.scale * x[base + j] - m) / s; }
    out[base + j] = y;
  }
}
`,
  sizes: ({ rows, cols }) => ({ out: rows * cols, x: rows * cols }),
});

const backwardKernel = (shape: RowShape): Kernel => ({
  name: shape === 'short' ? 'softmax-backward-short' : 'softmax-backward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, ${rowsIn(shape)} (row-wgsl.ts). Invocation lid owns columns lid, lid + STRIDE, ...: its part of
// d = Σ_j dout_j·out_j (reduce_sum), then dx_j = scale · out_j · (dout_j − d), 0 where masked.
// Bindings: dx (rows, cols) written; dout (rows, cols), out (rows, cols) read.
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> out: array<f32>;
@group(0) @binding(3) var<uniform> u: Dims;
${ROW_COMMON}
${rowMainWgsl(shape, WG, 'u.rows')}
  let base = row * u.cols;
  let n = unmasked(row);
  var d = 0.0;
  for (var j = lid; j < n; j += STRIDE) { d += dout[base + j] * out[base + j]; }
  d = reduce_sum(d, lid);
  for (var j = lid; j < u.cols; j += STRIDE) {
    var g = 0.0;
    if (j < n) { g = u.scale * out[base + j] * (dout[base + j] - d); }
    dx[base + j] = g;
  }
}
`,
  sizes: ({ rows, cols }) => ({ dx: rows * cols, dout: rows * cols, out: rows * cols }),
});

const KERNELS = {
  forward: { workgroup: forwardKernel('workgroup'), short: forwardKernel('short') },
  backward: { workgroup: backwardKernel('workgroup'), short: backwardKernel('short') },
};

export function softmaxForward(gpu: Gpu, out: GPUBuffer, x: GPUBuffer, dims: SoftmaxDims): void {
  const uniforms = checkDims('softmaxForward', dims);
  const shape = rowShape(dims.cols);
  gpu.dispatch(KERNELS.forward[shape], { out, x }, uniforms, rowShapeGrid(gpu, shape, dims.rows, WG));
}

export function softmaxBackward(
  gpu: Gpu,
  dx: GPUBuffer,
  dout: GPUBuffer,
  out: GPUBuffer,
  dims: SoftmaxDims,
): void {
  const uniforms = checkDims('softmaxBackward', dims);
  const shape = rowShape(dims.cols);
  gpu.dispatch(KERNELS.backward[shape], { dx, dout, out }, uniforms, rowShapeGrid(gpu, shape, dims.rows, WG));
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
