// RMSNorm over the last axis C of (N, C), as in Llama: y = x·rstd·weight with rstd = 1/√(mean_c(x²) + eps) and no
// mean subtraction or bias. Forward saves rstd (N) for the backward. Backward, with xhat = x·rstd and
// g = dout ⊙ weight: dx = rstd·(g − xhat·mean_c(g ⊙ xhat)), dweight = Σ_n dout ⊙ xhat.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { sumForward } from './sum.ts';
import { checkNormBuffers, checkNormDims, rowGrid, rowReduceWgsl } from './rows.ts';
import { strideGroups } from './grid.ts';
import type { RmsnormDims } from '../ops/dims.ts';

const WG = 64;
// dweight: rows are summed per chunk of this many, then the chunks by sumForward (both in a fixed order).
const ROWS_PER_CHUNK = 64;

// Row n of the grid is workgroup (x, y) with n = y·groups.x + x, so more than 65535 rows fit.
const ROW_REDUCE = rowReduceWgsl(WG);

const RMSNORM_FORWARD: Kernel = {
  name: 'rmsnorm-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one row per workgroup; invocation lid owns columns lid, lid + ${WG}, ... One reduction gives
// Σ x² (squares: no cancellation), then each invocation writes its columns of x·rstd·weight.
// Bindings: out (N, C), rstd (N) written; x (N, C), weight (C) read.
struct Dims { N: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<uniform> u: Dims;
${ROW_REDUCE}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * groups.x + wid.x;
  if (row >= u.N) { return; } // the same for the whole workgroup, so the barriers below stay uniform
  let base = row * u.C;
  var s = 0.0;
  for (var c = lid; c < u.C; c += ${WG}u) {
    let v = x[base + c];
    s += v * v;
  }
  let r = 1.0 / sqrt(reduce_sum(s, lid) / f32(u.C) + u.eps);
  for (var c = lid; c < u.C; c += ${WG}u) { out[base + c] = x[base + c] * r * weight[c]; }
  if (lid == 0u) { rstd[row] = r; }
}
`,
};

const RMSNORM_BACKWARD_DX: Kernel = {
  name: 'rmsnorm-backward-dx',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one row per workgroup; invocation lid owns columns lid, lid + ${WG}, ... One reduction gives
// mean_c(g ⊙ xhat) (g = dout ⊙ weight, xhat = x·rstd); then dx = rstd·(g − xhat·mean_c(g ⊙ xhat)).
// Bindings: dx (N, C) written; dout (N, C), x (N, C), weight (C), rstd (N) read.
struct Dims { N: u32, C: u32 }
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<uniform> u: Dims;
${ROW_REDUCE}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * groups.x + wid.x;
  if (row >= u.N) { return; }
  let base = row * u.C;
  let r = rstd[row];
  var sgx = 0.0;
  for (var c = lid; c < u.C; c += ${WG}u) { sgx += dout[base + c] * weight[c] * x[base + c] * r; }
  let mean_gx = reduce_sum(sgx, lid) / f32(u.C);
  for (var c = lid; c < u.C; c += ${WG}u) {
    dx[base + c] = r * (dout[base + c] * weight[c] - x[base + c] * r * mean_gx);
  }
}
`,
};

const RMSNORM_BACKWARD_WEIGHT: Kernel = {
  name: 'rmsnorm-backward-weight',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over (chunks, C), c fastest so neighbouring invocations read neighbouring
// columns. One invocation (k, c) sums dout·x·rstd over rows n in [k·chunk, min((k + 1)·chunk, N)), ascending.
// Bindings: partial (chunks, C) written; dout, x (N, C), rstd (N) read.
struct Dims { N: u32, C: u32, chunk: u32, chunks: u32 }
@group(0) @binding(0) var<storage, read_write> partial: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = u.chunks * u.C;
  for (var idx = gid.x; idx < total; idx += groups.x * ${WG}u) {
    let c = idx % u.C;
    let k = idx / u.C;
    var dw = 0.0;
    for (var n = k * u.chunk; n < min((k + 1u) * u.chunk, u.N); n++) {
      dw += dout[n * u.C + c] * x[n * u.C + c] * rstd[n];
    }
    partial[idx] = dw;
  }
}
`,
};

export function rmsnormForward(
  gpu: Gpu,
  out: GPUBuffer,
  rstd: GPUBuffer,
  x: GPUBuffer,
  weight: GPUBuffer,
  dims: RmsnormDims,
): void {
  const where = 'rmsnormForward';
  const { N, C, eps } = dims;
  checkNormDims(where, dims);
  checkNormBuffers(gpu, where, { out, rstd }, { x, weight }, { out: N * C, rstd: N, x: N * C, weight: C });
  gpu.dispatch(RMSNORM_FORWARD, { out, rstd, x, weight }, { N, C, eps }, rowGrid(gpu, N));
}

/** dx, and dweight when given (null for a frozen weight), both overwritten. */
export function rmsnormBackward(
  gpu: Gpu,
  dx: GPUBuffer,
  dweight: GPUBuffer | null,
  dout: GPUBuffer,
  x: GPUBuffer,
  weight: GPUBuffer,
  rstd: GPUBuffer,
  dims: RmsnormDims,
): void {
  const where = 'rmsnormBackward';
  const { N, C } = dims;
  checkNormDims(where, dims);
  const outputs: Record<string, GPUBuffer> = dweight ? { dx, dweight } : { dx };
  const sizes = { dx: N * C, dweight: C, dout: N * C, x: N * C, weight: C, rstd: N };
  checkNormBuffers(gpu, where, outputs, { dout, x, weight, rstd }, sizes);

  gpu.dispatch(RMSNORM_BACKWARD_DX, { dx, dout, x, weight, rstd }, { N, C }, rowGrid(gpu, N));
  if (!dweight) return;
  const chunks = Math.max(1, Math.ceil(N / ROWS_PER_CHUNK));
  const partial = gpu.alloc('rmsnorm dweight partial', chunks * C * 4); // (chunks, C)
  const uniforms = { N, C, chunk: ROWS_PER_CHUNK, chunks };
  gpu.dispatch(RMSNORM_BACKWARD_WEIGHT, { partial, dout, x, rstd }, uniforms, strideGroups(gpu, chunks * C, WG));
  sumForward(gpu, dweight, partial, { outer: 1, axis: chunks, inner: C }); // chunks in order: deterministic
  gpu.release(partial);
}
