// LayerNorm over the last axis C of (N, C), as in GPT-2: y = (x − mean)·rstd·weight + bias with the biased variance
// and rstd = 1/√(var + eps). Forward saves mean and rstd (N) for the backward. Backward, with xhat = (x − mean)·rstd
// and g = dout ⊙ weight: dx = rstd·(g − mean_c(g) − xhat·mean_c(g ⊙ xhat)), dweight = Σ_n dout ⊙ xhat, dbias = Σ_n dout.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { LAYERNORM_BACKWARD_DX_SHORT, LAYERNORM_FORWARD_SHORT, SHORT_ROW, SHORT_WG } from './layernorm-short.ts';
import { sumForward } from './sum.ts';
import { checkNormBuffers, checkNormDims, rowGrid, rowReduceWgsl, shortRowGrid } from './rows.ts';
import { strideGroups } from './grid.ts';
import type { LayernormDims } from '../ops/dims.ts';

const WG = 64;
// dweight/dbias: rows are summed per chunk of this many, then the chunks by sumForward (both in a fixed order).
const ROWS_PER_CHUNK = 64;

// Row n of the grid is workgroup (x, y) with n = y·groups.x + x, so more than 65535 rows fit.
const ROW_REDUCE = rowReduceWgsl(WG);

const LAYERNORM_FORWARD: Kernel = {
  name: 'layernorm-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one row per workgroup; invocation lid owns columns lid, lid + ${WG}, ... Two reductions: the mean,
// then the variance about it (two passes, so no E[x²] − E[x]² cancellation); then each writes its columns.
// Bindings: out (N, C), mean (N), rstd (N) written; x (N, C), weight (C), bias (C) read.
struct Dims { N: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read_write> mean: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<uniform> u: Dims;
${ROW_REDUCE}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * groups.x + wid.x;
  if (row >= u.N) { return; } // the same for the whole workgroup, so the barriers below stay uniform
  let base = row * u.C;
  var s = 0.0;
  for (var c = lid; c < u.C; c += ${WG}u) { s += x[base + c]; }
  let m = reduce_sum(s, lid) / f32(u.C);
  var v = 0.0;
  for (var c = lid; c < u.C; c += ${WG}u) {
    let d = x[base + c] - m;
    v += d * d;
  }
  let r = 1.0 / sqrt(reduce_sum(v, lid) / f32(u.C) + u.eps);
  for (var c = lid; c < u.C; c += ${WG}u) { out[base + c] = (x[base + c] - m) * r * weight[c] + bias[c]; }
  if (lid == 0u) {
    mean[row] = m;
    rstd[row] = r;
  }
}
`,
};

const LAYERNORM_BACKWARD_DX: Kernel = {
  name: 'layernorm-backward-dx',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one row per workgroup; invocation lid owns columns lid, lid + ${WG}, ... Two reductions give
// mean_c(g) and mean_c(g ⊙ xhat) (g = dout ⊙ weight); then dx = rstd·(g − mean_c(g) − xhat·mean_c(g ⊙ xhat)).
// Bindings: dx (N, C) written; dout (N, C), x (N, C), weight (C), mean (N), rstd (N) read.
struct Dims { N: u32, C: u32 }
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;
@group(0) @binding(6) var<uniform> u: Dims;
${ROW_REDUCE}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * groups.x + wid.x;
  if (row >= u.N) { return; }
  let base = row * u.C;
  let m = mean[row];
  let r = rstd[row];
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = lid; c < u.C; c += ${WG}u) {
    let g = dout[base + c] * weight[c];
    sg += g;
    sgx += g * (x[base + c] - m) * r;
  }
  let mean_g = reduce_sum(sg, lid) / f32(u.C);
  let mean_gx = reduce_sum(sgx, lid) / f32(u.C);
  for (var c = lid; c < u.C; c += ${WG}u) {
    let g = dout[base + c] * weight[c];
    dx[base + c] = r * (g - mean_g - (x[base + c] - m) * r * mean_gx);
  }
}
`,
};

const LAYERNORM_BACKWARD_PARAMS: Kernel = {
  name: 'layernorm-backward-params',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over (chunks, C), c fastest so neighbouring invocations read neighbouring
// columns. One invocation (k, c) sums rows n in [k·chunk, min((k + 1)·chunk, N)) in ascending order:
// partial[0, k, c] = Σ dout·xhat (for dweight), partial[1, k, c] = Σ dout (for dbias).
// Bindings: partial (2, chunks, C) written; dout, x (N, C), mean, rstd (N) read.
struct Dims { N: u32, C: u32, chunk: u32, chunks: u32 }
@group(0) @binding(0) var<storage, read_write> partial: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = u.chunks * u.C;
  for (var idx = gid.x; idx < total; idx += groups.x * ${WG}u) {
    let c = idx % u.C;
    let k = idx / u.C;
    var dw = 0.0;
    var db = 0.0;
    for (var n = k * u.chunk; n < min((k + 1u) * u.chunk, u.N); n++) {
      let d = dout[n * u.C + c];
      dw += d * (x[n * u.C + c] - mean[n]) * rstd[n];
      db += d;
    }
    partial[idx] = dw;
    partial[total + idx] = db;
  }
}
`,
};

export function layernormForward(
  gpu: Gpu,
  out: GPUBuffer,
  mean: GPUBuffer,
  rstd: GPUBuffer,
  x: GPUBuffer,
  weight: GPUBuffer,
  bias: GPUBuffer,
  dims: LayernormDims,
): void {
  const where = 'layernormForward';
  const { N, C, eps } = dims;
  checkNormDims(where, dims);
  const sizes = { out: N * C, mean: N, rstd: N, x: N * C, weight: C, bias: C };
  checkNormBuffers(gpu, where, { out, mean, rstd }, { x, weight, bias }, sizes);
  const [kernel, grid] = C <= SHORT_ROW ? [LAYERNORM_FORWARD_SHORT, shortRowGrid(gpu, N, SHORT_WG)] : [LAYERNORM_FORWARD, rowGrid(gpu, N)];
  gpu.dispatch(kernel, { out, mean, rstd, x, weight, bias }, { N, C, eps }, grid);
}

/** dx, and dweight/dbias when given (null for a frozen weight or bias), all overwritten. */
export function layernormBackward(
  gpu: Gpu,
  dx: GPUBuffer,
  dweight: GPUBuffer | null,
  dbias: GPUBuffer | null,
  dout: GPUBuffer,
  x: GPUBuffer,
  weight: GPUBuffer,
  mean: GPUBuffer,
  rstd: GPUBuffer,
  dims: LayernormDims,
): void {
  const where = 'layernormBackward';
  const { N, C } = dims;
  checkNormDims(where, dims);
  const outputs: Record<string, GPUBuffer> = { dx };
  if (dweight) outputs.dweight = dweight;
  if (dbias) outputs.dbias = dbias;
  const sizes = { dx: N * C, dweight: C, dbias: C, dout: N * C, x: N * C, weight: C, mean: N, rstd: N };
  checkNormBuffers(gpu, where, outputs, { dout, x, weight, mean, rstd }, sizes);

  const [kernel, grid] = C <= SHORT_ROW ? [LAYERNORM_BACKWARD_DX_SHORT, shortRowGrid(gpu, N, SHORT_WG)] : [LAYERNORM_BACKWARD_DX, rowGrid(gpu, N)];
  gpu.dispatch(kernel, { dx, dout, x, weight, mean, rstd }, { N, C }, grid);
  if (!dweight && !dbias) return;
  const chunks = Math.max(1, Math.ceil(N / ROWS_PER_CHUNK));
  const partial = gpu.alloc('layernorm dweight/dbias partial', 2 * chunks * C * 4); // (2, chunks, C)
  const uniforms = { N, C, chunk: ROWS_PER_CHUNK, chunks };
  const groups = strideGroups(gpu, chunks * C, WG);
  gpu.dispatch(LAYERNORM_BACKWARD_PARAMS, { partial, dout, x, mean, rstd }, uniforms, groups);
  const sums = gpu.alloc('layernorm dweight/dbias', 2 * C * 4); // (2, C)
  sumForward(gpu, sums, partial, { outer: 2, axis: chunks, inner: C }); // chunks in order: deterministic
  if (dweight) gpu.copy(sums, dweight, C * 4);
  if (dbias) gpu.copy(sums, dbias, C * 4, C * 4, 0);
  gpu.release(partial);
  gpu.release(sums);
}
