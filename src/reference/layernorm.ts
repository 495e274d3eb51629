// Float64 LayerNorm forward (with mean and rstd) and backward, same argument order as src/kernels/layernorm.ts.
import type { LayernormDims } from '../ops/dims.ts';

export function layernormForwardRef(
  out: Float64Array,
  mean: Float64Array,
  rstd: Float64Array,
  x: Float64Array,
  weight: Float64Array,
  bias: Float64Array,
  { N, C, eps }: LayernormDims,
): void {
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let c = 0; c < C; c++) m += x[n * C + c];
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[n * C + c] - m) ** 2;
    const r = 1 / Math.sqrt(v / C + eps);
    for (let c = 0; c < C; c++) out[n * C + c] = (x[n * C + c] - m) * r * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = r;
  }
}

export function layernormBackwardRef(
  dx: Float64Array,
  dweight: Float64Array | null,
  dbias: Float64Array | null,
  dout: Float64Array,
  x: Float64Array,
  weight: Float64Array,
  mean: Float64Array,
  rstd: Float64Array,
  { N, C }: LayernormDims,
): void {
  dweight?.fill(0);
  dbias?.fill(0);
  for (let n = 0; n < N; n++) {
    // With g = dout ⊙ weight: dx = rstd·(g − mean_c(g) − xhat·mean_c(g ⊙ xhat)).
    let meanG = 0;
    let meanGXhat = 0;
    for (let c = 0; c < C; c++) {
      const g = dout[n * C + c] * weight[c];
      const xhat = (x[n * C + c] - mean[n]) * rstd[n];
      meanG += g / C;
      meanGXhat += (g * xhat) / C;
      if (dweight) dweight[c] += dout[n * C + c] * xhat;
      if (dbias) dbias[c] += dout[n * C + c];
    }
    for (let c = 0; c < C; c++) {
      const xhat = (x[n * C + c] - mean[n]) * rstd[n];
      dx[n * C + c] = rstd[n] * (dout[n * C + c] * weight[c] - meanG - xhat * meanGXhat);
    }
  }
}
