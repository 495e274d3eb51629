// RMSNorm over the last axis C of (N, C), as in Llama: y = x·rstd·weight with rstd = 1/√(mean_c(x²) + eps) and no
// mean subtraction or bias. Forward saves rstd (N) for the backward. Backward, with xhat = x·rstd and
// g = dout ⊙ weight: dx = rstd·(g − xhat·mean_c(g ⊙ xhat)), dweight = Σ_n dout ⊙ xhat.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { checkDistinct } from '../gpu/check-buffer.ts';
import { checkNormDims, columnChunkSums, rowGrid } from './rows.ts';
import { columnChunkSumsWgsl, rowMainWgsl } from './row-wgsl.ts';
import type { RmsnormDims } from '../ops/dims.ts';

const WG = 64;

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
${rowMainWgsl('workgroup', WG, 'u.N')}
  let base = row * u.C;
  var s = 0.0;
  for (var c = lid; c < u.C; c += STRIDE) {
    let v = x[base + c];
    s += v * v;
  }
  let r = 1.0 / sqrt(reduce_sum(s, lid) / f32(u.C) + u.eps);
  for (var c = lid; c < u.C; c += STRIDE) { out[base + c] = x[base + c] * r * weight[c]; }
  if (lid == 0u) { rstd[row] = r; }
}
`,
  sizes: ({ N, C }) => ({ out: N * C, rstd: N, x: N * C, weight: C }),
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
${rowMainWgsl('workgroup', WG, 'u.N')}
  let base = row * u.C;
  let r = rstd[row];
  var sgx = 0.0;
  for (var c = lid; c < u.C; c += STRIDE) { sgx += dout[base + c] * weight[c] * x[base + c] * r; }
  let mean_gx = reduce_sum(sgx, lid) / f32(u.C);
  for (var c = lid; c < u.C; c += STRIDE) {
    dx[base + c] = r * (dout[base + c] * weight[c] - x[base + c] * r * mean_gx);
  }
}
`,
  sizes: ({ N, C }) => ({ dx: N * C, dout: N * C, x: N * C, weight: C, rstd: N }),
};

// Workgroup ${WG}: partial[k, c] = Σ dout·x·rstd = Σ dout·xhat over the rows of chunk k.
const RMSNORM_BACKWARD_WEIGHT: Kernel = {
  name: 'rmsnorm-backward-weight',
  wgsl: columnChunkSumsWgsl(WG, ['dout', 'x', 'rstd'], ['dout[i] * x[i] * rstd[n]']),
  sizes: ({ N, C, chunks }) => ({ partial: chunks * C, dout: N * C, x: N * C, rstd: N }),
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
  checkDistinct(where, { dx, dweight }, { dout, x, weight, rstd }); // dx and dweight: different dispatches

  gpu.dispatch(RMSNORM_BACKWARD_DX, { dx, dout, x, weight, rstd }, { N, C }, rowGrid(gpu, N));
  if (!dweight) return;
  columnChunkSums(gpu, RMSNORM_BACKWARD_WEIGHT, { dout, x, rstd }, { N, C, wg: WG }, [dweight]);
}
