// A kernel's uniform struct filled by member name from reflected offsets and types: every member given, none extra,
// integers where the WGSL says u32/i32 (a fraction or a negative u32 would be silently truncated by the view).
import { ShapeError } from '../util/errors.ts';
import type { Kernel, UniformMember } from './pipelines.ts';

/** Write `values` into `view` (one uniform slot) at the members' offsets; throws naming the kernel and member. */
export function writeUniforms(
  kernel: Kernel,
  view: DataView,
  members: UniformMember[],
  values: Record<string, number>,
): void {
  for (const m of members) {
    const v = values[m.name];
    if (typeof v !== 'number' || (Number.isNaN(v) && m.type !== 'f32')) {
      throw new ShapeError(`${kernel.name}: uniform '${m.name}', expected a number, got ${String(v)}`);
    }
    if (m.type === 'f32') view.setFloat32(m.offset, v, true);
    else {
      if (!Number.isInteger(v) || (m.type === 'u32' && v < 0)) {
        throw new ShapeError(
          `${kernel.name}: uniform '${m.name}', expected ${m.type === 'u32' ? 'a non-negative ' : 'an '}integer, got ${v}`,
        );
      }
      if (m.type === 'u32') view.setUint32(m.offset, v, true);
      else view.setInt32(m.offset, v, true);
    }
  }
  for (const name of Object.keys(values)) {
    if (!members.some((m) => m.name === name)) {
      throw new ShapeError(
        `${kernel.name}: uniform '${name}', expected one of [${members.map((m) => m.name).join(', ')}], got an unknown name`,
      );
    }
  }
}
