// LayerNorm forward and dx for short rows (C ≤ 256, e.g. GPT-2 small models): one invocation per row, no workgroup
// barriers, which SwiftShader makes costlier than a short serial loop. Same math and bindings as layernorm.ts.
import type { Kernel } from '../gpu/gpu.ts';

export const SHORT_ROW = 256;
const WG = 64;
/** Invocations per workgroup of the short-row kernels (one row each): the dispatch grid's divisor. */
export const SHORT_WG = WG;
const ROW = /* wgsl */ `fn row_of(gid: vec3u, groups: vec3u) -> u32 { return gid.y * groups.x * ${WG}u + gid.x; }`;

export const LAYERNORM_FORWARD_SHORT: Kernel = {
  name: 'layernorm-forward-short',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one invocation per row: mean, variance about it (two passes), then write; columns in order.
// Bindings: out (N, C), mean (N), rstd (N) written; x (N, C), weight (C), bias (C) read.
struct Dims { N: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read_write> mean: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<uniform> u: Dims;
${ROW}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = row_of(gid, groups);
  if (row >= u.N) { return; }
  let base = row * u.C;
  var s = 0.0;
  for (var c = 0u; c < u.C; c++) { s += x[base + c]; }
  let m = s / f32(u.C);
  var v = 0.0;
  for (var c = 0u; c < u.C; c++) {
    let d = x[base + c] - m;
    v += d * d;
  }
  let r = 1.0 / sqrt(v / f32(u.C) + u.eps);
  for (var c = 0u; c < u.C; c++) { out[base + c] = (x[base + c] - m) * r * weight[c] + bias[c]; }
  mean[row] = m;
  rstd[row] = r;
}
`,
};

export const LAYERNORM_BACKWARD_DX_SHORT: Kernel = {
  name: 'layernorm-backward-dx-short',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, one invocation per row: mean_c(g), mean_c(g ⊙ xhat) with g = dout ⊙ weight, then
// dx = rstd·(g − mean_c(g) − xhat·mean_c(g ⊙ xhat)). Bindings: dx (N, C) written; dout, x (N, C), weight (C), mean, rstd (N) read.
struct Dims { N: u32, C: u32 }
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;
@group(0) @binding(6) var<uniform> u: Dims;
${ROW}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = row_of(gid, groups);
  if (row >= u.N) { return; }
  let base = row * u.C;
  let m = mean[row];
  let r = rstd[row];
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = 0u; c < u.C; c++) {
    let g = dout[base + c] * weight[c];
    sg += g;
    sgx += g * (x[base + c] - m) * r;
  }
  let mean_g = sg / f32(u.C);
  let mean_gx = sgx / f32(u.C);
  for (var c = 0u; c < u.C; c++) {
    let g = dout[base + c] * weight[c];
    dx[base + c] = r * (g - mean_g - (x[base + c] - m) * r * mean_gx);
  }
}
`,
};
