// Buffer checks, made generically where work is recorded: gpu.dispatch checks every storage binding against the size
// its kernel declares from the dispatch's uniforms (Kernel.sizes) and refuses a written binding bound twice; gpu.copy
// and gpu.clear check their byte ranges. A binding shorter than the work needs would read or write out of bounds
// (clamped or dropped by robustness), and a window, copy or alias past what WebGPU allows fails only at submit, far
// from the cause: each is an error naming the buffer.
import { ShaderError, ShapeError } from '../util/errors.ts';
import type { BindingInfo, Kernel, Uniforms } from './pipelines.ts';
import { bufferOf, isRange, type Binding } from './ranges.ts';

const ceil4 = (bytes: number) => Math.ceil(bytes / 4) * 4;

/**
 * Throws unless every storage binding holds at least what `kernel.sizes(uniforms)` declares for it, and every window
 * lies within its buffer. `bytesOf` gives a buffer's requested bytes (the pool rounds sizes up).
 */
export function checkSizes(
  kernel: Kernel,
  bindings: BindingInfo[],
  buffers: Record<string, Binding>,
  uniforms: Uniforms,
  bytesOf: (buf: GPUBuffer) => number,
): void {
  const sizes = kernel.sizes?.(uniforms);
  for (const b of bindings) {
    if (b.kind === 'uniform') continue;
    const bound = buffers[b.name];
    const buffer = bufferOf(bound);
    const where = `${kernel.name}: binding '${b.name}' (${buffer.label})`;
    if (isRange(bound)) checkExtent(`${where} window`, bound.offset, bound.size, bytesOf(buffer));
    if (!sizes) continue;
    const need = sizes[b.name];
    if (need === undefined)
      throw new ShaderError(`${kernel.name}: sizes, expected an entry for binding '${b.name}', got none`);
    if (!Number.isInteger(need) || need < 0)
      throw new ShaderError(
        `${kernel.name}: sizes['${b.name}'], expected a whole number of elements, got ${need}`,
      );
    const bytes = isRange(bound) ? bound.size : bytesOf(buffer);
    if (bytes < need * 4)
      throw new ShapeError(`${where} size, expected ${need * 4} bytes or more, got ${bytes}`);
  }
  for (const name of Object.keys(sizes ?? {})) {
    if (!bindings.some((b) => b.name === name && b.kind !== 'uniform'))
      throw new ShaderError(`${kernel.name}: sizes, expected storage binding names, got '${name}'`);
  }
}

// A buffer a dispatch writes (read_write in the WGSL) may not be bound again in it: WebGPU refuses the pair only when
// the encoder is submitted, far from the cause, and an output sharing an input would overwrite what it reads.
export function checkWrites(kernel: Kernel, bindings: BindingInfo[], buffers: Record<string, Binding>): void {
  const storage = bindings.filter((b) => b.kind !== 'uniform');
  for (const w of storage) {
    if (w.kind !== 'storage') continue;
    const written = bufferOf(buffers[w.name]);
    const other = storage.find((b) => b !== w && bufferOf(buffers[b.name]) === written);
    if (other)
      throw new ShapeError(
        `${kernel.name}: binding '${w.name}' (written), expected a buffer distinct from '${other.name}', got the same buffer (${written.label})`,
      );
  }
}

/** Throws unless bytes [offset, offset + size) lie within a buffer's `total` bytes (rounded up to whole words). */
export function checkExtent(where: string, offset: number, size: number, total: number): void {
  const aligned = Number.isInteger(offset) && offset % 4 === 0 && Number.isInteger(size);
  if (!aligned || offset < 0 || size < 0 || offset + size > ceil4(total)) {
    throw new ShapeError(
      `${where}, expected bytes [offset, offset + size) within its ${total} bytes (offset a multiple of 4), got [${offset}, ${offset + size})`,
    );
  }
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
