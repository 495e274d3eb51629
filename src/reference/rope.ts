// Float64 rotary position embedding (rotate_half layout) and its inverse, same argument order as src/kernels/rope.ts.
import type { RopeDims } from '../ops/dims.ts';
import { ropeInverseFrequencies } from '../ops/rope-frequencies.ts';

// Rotate every (i, i + HS/2) pair of every row of (B, NH, T, HS) by sign·pos·inv_freq[i].
function rotate(
  out: Float64Array,
  x: Float64Array,
  { B, NH, T, HS, theta, positionOffset, scaling }: RopeDims,
  sign: number,
): void {
  const half = HS / 2;
  const inv = ropeInverseFrequencies(HS, theta, scaling);
  for (let row = 0; row < B * NH * T; row++) {
    const pos = (row % T) + positionOffset;
    for (let i = 0; i < half; i++) {
      const angle = pos * inv[i];
      const [c, s] = [Math.cos(angle), sign * Math.sin(angle)];
      const [a, b] = [row * HS + i, row * HS + i + half];
      out[a] = x[a] * c - x[b] * s;
      out[b] = x[b] * c + x[a] * s;
    }
  }
}

export function ropeForwardRef(out: Float64Array, x: Float64Array, dims: RopeDims): void {
  rotate(out, x, dims, 1);
}

export function ropeBackwardRef(dx: Float64Array, dout: Float64Array, dims: RopeDims): void {
  rotate(dx, dout, dims, -1);
}
