// Float64 reference for the sum over the middle axis of an (outer, axis, inner) view, and its broadcast backward.
import type { SumDims } from '../ops/dims.ts';

export function sumForwardRef(out: Float64Array, x: Float64Array, dims: SumDims): void {
  const { outer, axis, inner } = dims;
  const scale = dims.scale ?? 1;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = 0;
      for (let a = 0; a < axis; a++) acc += x[(o * axis + a) * inner + i];
      out[o * inner + i] = scale * acc;
    }
  }
}

export function sumBackwardRef(dx: Float64Array, dout: Float64Array, dims: SumDims): void {
  const { outer, axis, inner } = dims;
  const scale = dims.scale ?? 1;
  for (let o = 0; o < outer; o++) {
    for (let a = 0; a < axis; a++) {
      for (let i = 0; i < inner; i++) dx[(o * axis + a) * inner + i] = scale * dout[o * inner + i];
    }
  }
}
