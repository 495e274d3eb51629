// The buffer-size check every kernel's dispatch function runs at entry: a binding shorter than the shape needs
// would read or write out of bounds (clamped or dropped by robustness), so it is an error naming the buffer.
import { ShapeError } from '../util/errors.ts';
import type { Gpu } from './gpu.ts';
import { bufferOf, isRange, type Binding } from './ranges.ts';

/** Throws unless `buf` holds at least `count` 4-byte `unit`s (its requested size when pooled, else its size). */
export function checkBuffer(
  gpu: Gpu,
  where: string,
  name: string,
  buf: Binding,
  count: number,
  unit = 'f32',
): void {
  const bytes = isRange(buf) ? buf.size : (gpu.pool.meta(buf)?.bytes ?? buf.size);
  if (bytes < count * 4) {
    throw new ShapeError(
      `${where}: ${name} size, expected at least ${count * 4} bytes (${count} ${unit}), got ${bytes}`,
    );
  }
}

/** checkBuffer for each of `buffers`, each holding at least `counts[name]` f32. */
export function checkBuffers(
  gpu: Gpu,
  where: string,
  buffers: Record<string, Binding>,
  counts: Record<string, number>,
): void {
  for (const [name, buf] of Object.entries(buffers)) checkBuffer(gpu, where, name, buf, counts[name]);
}

/**
 * Throws when an output is also another output or an input (null: not given). `dispatch` already refuses a buffer
 * written by a dispatch and bound again in it, from the kernel's reflected bindings; an op that spans several
 * dispatches declares its buffers here as well, since no one dispatch sees an output that a later one overwrites or
 * an input read after the output was written.
 */
export function checkDistinct(
  where: string,
  outputs: Record<string, Binding | null>,
  inputs: Record<string, Binding | null>,
): void {
  const outs = Object.entries(outputs);
  for (const [name, buf] of outs) {
    if (buf === null) continue;
    const same = [...outs, ...Object.entries(inputs)].find(
      ([other, b]) => other !== name && b !== null && bufferOf(b) === bufferOf(buf),
    );
    if (same)
      throw new ShapeError(
        `${where}: ${name}, expected a buffer distinct from ${same[0]}, got the same buffer`,
      );
  }
}
