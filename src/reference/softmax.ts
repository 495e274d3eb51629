// Float64 softmax over the last axis with optional scale and causal mask, same argument order as the kernel.
import type { SoftmaxDims } from '../ops/dims.ts';

export function softmaxForwardRef(out: Float64Array, x: Float64Array, dims: SoftmaxDims): void {
  const { rows, cols, scale = 1, causal = false } = dims;
  for (let r = 0; r < rows; r++) {
    const n = causal ? (r % cols) + 1 : cols; // unmasked leading columns
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, scale * x[r * cols + j]);
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(scale * x[r * cols + j] - max);
    for (let j = 0; j < cols; j++) {
      out[r * cols + j] = j < n ? Math.exp(scale * x[r * cols + j] - max) / sum : 0;
    }
  }
}

export function softmaxBackwardRef(
  dx: Float64Array,
  dout: Float64Array,
  out: Float64Array,
  dims: SoftmaxDims,
): void {
  const { rows, cols, scale = 1, causal = false } = dims;
  for (let r = 0; r < rows; r++) {
    const n = causal ? (r % cols) + 1 : cols;
    let d = 0;
    for (let j = 0; j < n; j++) d += dout[r * cols + j] * out[r * cols + j];
    for (let j = 0; j < cols; j++) {
      dx[r * cols + j] = j < n ? scale * out[r * cols + j] * (dout[r * cols + j] - d) : 0;
    }
  }
}
