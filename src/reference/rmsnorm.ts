// Float64 RMSNorm forward (with rstd) and backward, same argument order as src/kernels/rmsnorm.ts.
import type { RmsnormDims } from '../ops/dims.ts';

export function rmsnormForwardRef(
  out: Float64Array,
  rstd: Float64Array,
  x: Float64Array,
  weight: Float64Array,
  { N, C, eps }: RmsnormDims,
): void {
  for (let n = 0; n < N; n++) {
    let ms = 0;
    for (let c = 0; c < C; c++) ms += x[n * C + c] ** 2;
    const r = 1 / Math.sqrt(ms / C + eps);
    for (let c = 0; c < C; c++) out[n * C + c] = x[n * C + c] * r * weight[c];
    rstd[n] = r;
  }
}

export function rmsnormBackwardRef(
  dx: Float64Array,
  dweight: Float64Array | null,
  dout: Float64Array,
  x: Float64Array,
  weight: Float64Array,
  rstd: Float64Array,
  { N, C }: RmsnormDims,
): void {
  dweight?.fill(0);
  for (let n = 0; n < N; n++) {
    // With g = dout ⊙ weight and xhat = x·rstd: dx = rstd·(g − xhat·mean_c(g ⊙ xhat)).
    let meanGXhat = 0;
    for (let c = 0; c < C; c++) {
      const xhat = x[n * C + c] * rstd[n];
      meanGXhat += (dout[n * C + c] * weight[c] * xhat) / C;
      if (dweight) dweight[c] += dout[n * C + c] * xhat;
    }
    for (let c = 0; c < C; c++) {
      const xhat = x[n * C + c] * rstd[n];
      dx[n * C + c] = rstd[n] * (dout[n * C + c] * weight[c] - xhat * meanGXhat);
    }
  }
}
