// LayerNorm over the last axis C of (N, C), as in GPT-2: y = (x − mean)·rstd·weight + bias with the biased variance
// and rstd = 1/√(var + eps). Forward saves mean and rstd (N) for the backward. Backward, with xhat = (x − mean)·rstd
// and g = dout ⊙ weight: dx = rstd·(g − mean_c(g) − xhat·mean_c(g ⊙ xhat)), dweight = Σ_n dout ⊙ xhat, dbias = Σ_n dout.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { checkDistinct } from '../gpu/check-buffer.ts';
import { checkNormDims, columnChunkSums, rowShape, rowShapeGrid, SHORT_ROW, type RowShape } from './rows.ts';
import { columnChunkSumsWgsl, rowMainWgsl } from './row-wgsl.ts';
import type { LayernormDims } from '../ops/dims.ts';

const WG = 64;

const rowsIn = (shape: RowShape) =>
  shape === 'short' ? `one invocation per row (C ≤ ${SHORT_ROW})` : 'one row per workgroup';

const forwardKernel = (shape: RowShape): Kernel => ({
  name: shape === 'short' ? 'layernorm-forward-short' : 'layernorm-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, ${rowsIn(shape)}
// (row-wgsl.ts); invocation lid owns columns lid, lid + STRIDE, ... Two reductions: the mean, then the variance about
// it (two passes, so no E[x²] − E[x]² cancellation); then each writes its columns.
// Bindings: out (N, C), mean (N), rstd (N) written; x (N, C), weight (C), bias (C) read.
struct Dims { N: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read_write> mean: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<uniform> u: Dims;
${rowMainWgsl(shape, WG, 'u.N')}
  let base = row * u.C;
  var s = 0.0;
  for (var c = lid; c < u.C; c += STRIDE) { s += x[base + c]; }
  let m = reduce_sum(s, lid) / f32(u.C);
  var v = 0.0;
  for (var c = lid; c < u.C; c += STRIDE) {
    let d = x[base + c] - m;
    v += d * d;
  }
  let r = 1.0 / sqrt(reduce_sum(v, lid) / f32(u.C) + u.eps);
  for (var c = lid; c < u.C; c += STRIDE) { out[base + c] = (x[base + c] - m) * r * weight[c] + bias[c]; }
  if (lid == 0u) {
    mean[row] = m;
    rstd[row] = r;
  }
}
`,
  sizes: ({ N, C }) => ({ out: N * C, mean: N, rstd: N, x: N * C, weight: C, bias: C }),
});

const backwardDxKernel = (shape: RowShape): Kernel => ({
  name: shape === 'short' ? 'layernorm-backward-dx-short' : 'layernorm-backward-dx',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, ${rowsIn(shape)}
// (row-wgsl.ts); invocation lid owns columns lid, lid + STRIDE, ... Two reductions give mean_c(g) and
// mean_c(g ⊙ xhat) (g = dout ⊙ weight); then dx = rstd·(g − mean_c(g) − xhat·mean_c(g ⊙ xhat)).
// Bindings: dx (N, C) written; dout (N, C), x (N, C), weight (C), mean (N), rstd (N) read.
struct Dims { N: u32, C: u32 }
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> rstd: array<f32>;
@group(0) @binding(6) var<uniform> u: Dims;
${rowMainWgsl(shape, WG, 'u.N')}
  let base = row * u.C;
  let m = mean[row];
  let r = rstd[row];
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = lid; c < u.C; c += STRIDE) {
    let g = dout[base + c] * weight[c];
    sg += g;
    sgx += g * (x[base + c] - m) * r;
  }
  let mean_g = reduce_sum(sg, lid) / f32(u.C);
  let mean_gx = reduce_sum(sgx, lid) / f32(u.C);
  for (var c = lid; c < u.C; c += STRIDE) {
    let g = dout[base + c] * weight[c];
    dx[base + c] = r * (g - mean_g - (x[base + c] - m) * r * mean_gx);
  }
}
`,
  sizes: ({ N, C }) => ({ dx: N * C, dout: N * C, x: N * C, weight: C, mean: N, rstd: N }),
});

const KERNELS = {
  forward: { workgroup: forwardKernel('workgroup'), short: forwardKernel('short') },
  dx: { workgroup: backwardDxKernel('workgroup'), short: backwardDxKernel('short') },
};

// Workgroup ${WG}: partial[0, k, c] = Σ dout·xhat (for dweight), partial[1, k, c] = Σ dout (for dbias) over chunk k.
const LAYERNORM_BACKWARD_PARAMS: Kernel = {
  name: 'layernorm-backward-params',
  wgsl: columnChunkSumsWgsl(
    WG,
    ['dout', 'x', 'mean', 'rstd'],
    ['dout[i] * (x[i] - mean[n]) * rstd[n]', 'dout[i]'],
  ),
  sizes: ({ N, C, chunks }) => ({ partial: 2 * chunks * C, dout: N * C, x: N * C, mean: N, rstd: N }),
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
  const shape = rowShape(C);
  gpu.dispatch(
    KERNELS.forward[shape],
    { out, mean, rstd, x, weight, bias },
    { N, C, eps },
    rowShapeGrid(gpu, shape, N, WG),
  );
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
  // dx, dweight and dbias are written by different dispatches
  checkDistinct(where, { dx, dweight, dbias }, { dout, x, weight, mean, rstd });

  const shape = rowShape(C);
  gpu.dispatch(
    KERNELS.dx[shape],
    { dx, dout, x, weight, mean, rstd },
    { N, C },
    rowShapeGrid(gpu, shape, N, WG),
  );
  if (!dweight && !dbias) return;
  columnChunkSums(gpu, LAYERNORM_BACKWARD_PARAMS, { dout, x, mean, rstd }, { N, C, wg: WG }, [
    dweight,
    dbias,
  ]);
}
