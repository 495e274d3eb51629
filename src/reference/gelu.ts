// Float64 GELU (GPT-2's tanh form) and its derivative, same argument order as src/kernels/gelu.ts.
import type { GeluDims } from '../ops/dims.ts';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const COEF = 0.044715;

export function geluForwardRef(out: Float64Array, x: Float64Array, { n }: GeluDims): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    out[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + COEF * v ** 3)));
  }
}

export function geluBackwardRef(
  dx: Float64Array,
  dout: Float64Array,
  x: Float64Array,
  { n }: GeluDims,
): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const t = Math.tanh(SQRT_2_OVER_PI * (v + COEF * v ** 3));
    const du = SQRT_2_OVER_PI * (1 + 3 * COEF * v * v); // du/dx
    dx[i] = dout[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du);
  }
}
