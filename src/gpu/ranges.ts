// Tensors past the binding limit: one GPUBuffer holds the tensor (up to maxBufferSize), and a kernel binds it in
// windows {buffer, offset, size} no larger than the binding limit (offsets a multiple of
// minStorageBufferOffsetAlignment), dispatching once per window. A window whose tensor fits binds the whole buffer.
import { ShapeError } from '../util/errors.ts';
import type { Gpu } from './gpu.ts';

/** A storage binding: a whole buffer, or a byte range of one. */
export interface BufferRange {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}
export type Binding = GPUBuffer | BufferRange;

export function isRange(b: Binding): b is BufferRange {
  return 'buffer' in b && 'offset' in b;
}

export function bufferOf(b: Binding): GPUBuffer {
  return isRange(b) ? b.buffer : b;
}

/** Whether binding `buf` whole stays within the binding limit (its requested bytes; the pool rounds sizes up). */
export function fitsWhole(gpu: Gpu, buf: GPUBuffer): boolean {
  return Math.ceil(gpu.bytesOf(buf) / 4) * 4 <= gpu.maxBindingBytes;
}

/** A window of a buffer: `binding`, and the element index of `first` counted from the binding's start. */
export interface Window {
  binding: Binding;
  skip: number;
}

/**
 * The window of `buf` holding elements [first, first + count) of `elementBytes` each (2 for 16-bit weights packed two
 * to a word), its start rounded down to the offset alignment. The whole buffer when it fits one binding.
 */
export function window(gpu: Gpu, buf: GPUBuffer, first: number, count: number, elementBytes = 4): Window {
  const max = gpu.maxBindingBytes;
  if (fitsWhole(gpu, buf)) return { binding: buf, skip: first };
  const align = gpu.limits.minStorageBufferOffsetAlignment;
  const begin = first * elementBytes;
  const offset = Math.floor(begin / align) * align;
  const size = Math.ceil(((first + count) * elementBytes - offset) / 4) * 4;
  if (size > max) {
    throw new ShapeError(
      `${buf.label}: window of ${count} elements at ${first}, expected at most ${max} bytes (binding limit), got ${size}`,
    );
  }
  return { binding: { buffer: buf, offset, size }, skip: (begin - offset) / elementBytes };
}

/**
 * Split `total` units (rows of `unitElements` elements of `elementBytes`) into runs that each fit one binding with
 * room for the alignment: [{ first, count }] in order, one run when the whole fits.
 */
export function bindingRuns(
  gpu: Gpu,
  total: number,
  unitElements = 1,
  elementBytes = 4,
): { first: number; count: number }[] {
  const unitBytes = unitElements * elementBytes;
  const align = gpu.limits.minStorageBufferOffsetAlignment;
  const fits = Math.ceil((total * unitBytes) / 4) * 4 <= gpu.maxBindingBytes;
  const per = fits ? total : Math.floor((gpu.maxBindingBytes - align) / unitBytes);
  if (per < 1) {
    throw new ShapeError(
      `binding runs: one unit of ${unitBytes} bytes, expected at most ${gpu.maxBindingBytes - align} (binding limit less the alignment), got more`,
    );
  }
  return runsOf(total, per);
}

/**
 * Flat element-wise work over `n` f32 elements of buffers laid out alike: the windows are aligned at both ends, so
 * every buffer binds [first, first + count) at one offset and the kernel indexes from 0.
 */
export function elementRuns(gpu: Gpu, n: number, multipleOf = 1): { first: number; count: number }[] {
  if (n * 4 <= gpu.maxBindingBytes) return [{ first: 0, count: n }];
  const granule = lcm(gpu.limits.minStorageBufferOffsetAlignment / 4, multipleOf);
  const per = Math.floor(gpu.maxBindingBytes / 4 / granule) * granule;
  if (per < 1)
    throw new ShapeError(
      `element runs: a run of ${granule} elements, expected at most ${gpu.maxBindingBytes} bytes (binding limit), got ${granule * 4}`,
    );
  return runsOf(n, per);
}

/** [first, first + count) runs of `per` covering `total`, in order. */
function runsOf(total: number, per: number): { first: number; count: number }[] {
  const runs = [];
  for (let first = 0; first < total; first += per) runs.push({ first, count: Math.min(per, total - first) });
  return runs;
}

export function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  return (a / gcd(a, b)) * b;
}

/** Bytes [first, first + count) f32 elements of `buf` as one binding (the whole buffer when that is all of it). */
export function slice(buf: GPUBuffer, first: number, count: number, n: number): Binding {
  return first === 0 && count === n ? buf : { buffer: buf, offset: first * 4, size: count * 4 };
}
