// Float64 SwiGLU elementwise part (out = silu(gate)·up) and its backward, same argument order as src/kernels/swiglu.ts.
import type { SwigluDims } from '../ops/dims.ts';

const sigmoid = (g: number) => 1 / (1 + Math.exp(-g));

export function swigluForwardRef(
  out: Float64Array,
  gate: Float64Array,
  up: Float64Array,
  { n }: SwigluDims,
): void {
  for (let i = 0; i < n; i++) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
}

export function swigluBackwardRef(
  dgate: Float64Array | null,
  dup: Float64Array | null,
  dout: Float64Array,
  gate: Float64Array,
  up: Float64Array,
  { n }: SwigluDims,
): void {
  for (let i = 0; i < n; i++) {
    const [g, s] = [gate[i], sigmoid(gate[i])];
    // silu'(g) = σ(g) + g·σ(g)·(1 − σ(g))
    if (dgate) dgate[i] = dout[i] * up[i] * (s + g * s * (1 - s));
    if (dup) dup[i] = dout[i] * g * s;
  }
}
