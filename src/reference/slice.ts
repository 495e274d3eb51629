// Float64 reference for taking columns [start, start + width) of a (rows, cols) matrix, and its backward, which
// writes only those columns of dx.
import type { SliceDims } from '../ops/dims.ts';

export function sliceForwardRef(out: Float64Array, x: Float64Array, dims: SliceDims): void {
  const { rows, cols, start, width } = dims;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < width; j++) out[r * width + j] = x[r * cols + start + j];
  }
}

/** dx[r, start + j] = dout[r, j]; the other columns of dx are left as they are. */
export function sliceBackwardRef(dx: Float64Array, dout: Float64Array, dims: SliceDims): void {
  const { rows, cols, start, width } = dims;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < width; j++) dx[r * cols + start + j] = dout[r * width + j];
  }
}
