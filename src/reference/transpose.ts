// Float64 reference for swapping axes 1 and 2 of a 4-D tensor, x (d0, d1, d2, d3) → out (d0, d2, d1, d3).
import type { TransposeDims } from '../ops/dims.ts';

export function transposeForwardRef(out: Float64Array, x: Float64Array, dims: TransposeDims): void {
  const { d0, d1, d2, d3 } = dims;
  for (let a = 0; a < d0; a++) {
    for (let i = 0; i < d1; i++) {
      for (let j = 0; j < d2; j++) {
        for (let k = 0; k < d3; k++) {
          out[((a * d2 + j) * d1 + i) * d3 + k] = x[((a * d1 + i) * d2 + j) * d3 + k];
        }
      }
    }
  }
}

/** dx (d0, d1, d2, d3) from dout (d0, d2, d1, d3). */
export function transposeBackwardRef(dx: Float64Array, dout: Float64Array, dims: TransposeDims): void {
  const { d0, d1, d2, d3 } = dims;
  for (let a = 0; a < d0; a++) {
    for (let i = 0; i < d1; i++) {
      for (let j = 0; j < d2; j++) {
        for (let k = 0; k < d3; k++) {
          dx[((a * d1 + i) * d2 + j) * d3 + k] = dout[((a * d2 + j) * d1 + i) * d3 + k];
        }
      }
    }
  }
}
