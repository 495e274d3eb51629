// What every entry of the op table shares: output and gradient allocation named after the input, and the shape and
// dtype checks that turn a wrong call into one ShapeError naming the op (the one check per boundary).
import { ShapeError } from '../util/errors.ts';
import { Tensor, shapeString } from './tensor.ts';

export const empty = (like: Tensor, shape: readonly number[], name: string) =>
  Tensor.empty(like.gpu, shape, `${like.label}.${name}`);
export const gradOf = (t: Tensor) => Tensor.empty(t.gpu, t.shape, `${t.label}.grad`);
export const last = (t: Tensor) => t.shape[t.shape.length - 1];

export function expectShape(op: string, what: string, got: readonly number[], want: readonly number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new ShapeError(`${op}: ${what} shape, expected ${shapeString(want)}, got ${shapeString(got)}`);
  }
}

export function expectF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts)
    if (t.dtype !== 'f32') throw new ShapeError(`${op}: ${t.label} dtype, expected f32, got ${t.dtype}`);
}
