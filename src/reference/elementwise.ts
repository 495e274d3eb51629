// Float64 references for elementwise add, mul, scale and accumulate; b broadcasts as b[i % bn] over n / bn rows.
import type { BroadcastDims, ScaleDims } from '../ops/dims.ts';

export function addForwardRef(
  out: Float64Array,
  a: Float64Array,
  b: Float64Array,
  dims: BroadcastDims,
): void {
  for (let i = 0; i < dims.n; i++) out[i] = a[i] + b[i % dims.bn];
}

export function addBackwardRef(
  da: Float64Array | null,
  db: Float64Array | null,
  dout: Float64Array,
  dims: BroadcastDims,
): void {
  const { n, bn } = dims;
  if (da) for (let i = 0; i < n; i++) da[i] = dout[i];
  if (db) {
    db.fill(0, 0, bn);
    for (let i = 0; i < n; i++) db[i % bn] += dout[i];
  }
}

export function mulForwardRef(
  out: Float64Array,
  a: Float64Array,
  b: Float64Array,
  dims: BroadcastDims,
): void {
  for (let i = 0; i < dims.n; i++) out[i] = a[i] * b[i % dims.bn];
}

export function mulBackwardRef(
  da: Float64Array | null,
  db: Float64Array | null,
  dout: Float64Array,
  a: Float64Array,
  b: Float64Array,
  dims: BroadcastDims,
): void {
  const { n, bn } = dims;
  if (da) for (let i = 0; i < n; i++) da[i] = dout[i] * b[i % bn];
  if (db) {
    db.fill(0, 0, bn);
    for (let i = 0; i < n; i++) db[i % bn] += dout[i] * a[i];
  }
}

export function scaleForwardRef(out: Float64Array, a: Float64Array, dims: ScaleDims): void {
  for (let i = 0; i < dims.n; i++) out[i] = dims.alpha * a[i];
}

export function scaleBackwardRef(da: Float64Array, dout: Float64Array, dims: ScaleDims): void {
  for (let i = 0; i < dims.n; i++) da[i] = dims.alpha * dout[i];
}

export function accumulateRef(acc: Float64Array, x: Float64Array, dims: { n: number }): void {
  for (let i = 0; i < dims.n; i++) acc[i] += x[i];
}
