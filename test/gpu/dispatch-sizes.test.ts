// Buffer sizes are checked once, in gpu.dispatch, from the sizes each kernel declares for its bindings (computed from
// the dispatch's uniforms), and gpu.copy / gpu.clear check their byte ranges: each refusal names the kernel or call,
// the WGSL binding and the buffer's label, before that dispatch is recorded (an op of several dispatches may have
// recorded its first ones).
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import type { Kernel } from '../../src/gpu/gpu.ts';
import { createMetaGpu } from '../../src/gpu/meta-device.ts';
import { ShaderError, ShapeError } from '../../src/util/errors.ts';

const gpuPromise = testGpu();

const WGSL = `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { y[g.x] = 2.0 * x[g.x + 1u]; }
}`;

// y (n) written from x (n + 1): x[i + 1] is read.
const SHIFT: Kernel = { name: 'test-shift', wgsl: WGSL, sizes: (u) => ({ x: u.n + 1, y: u.n }) };

describe('dispatch sizes', () => {
  it('runs a dispatch whose bindings hold what the kernel declares, whole or windowed', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('t');
    const x = gpu.upload('x', new Float32Array([1, 2, 3, 4, 5, 6]));
    const y = gpu.alloc('y', 5 * 4);
    gpu.dispatch(SHIFT, { x, y }, { n: 5 }, 1);
    expect(Array.from(await gpu.read(y, 'f32'))).toEqual([4, 6, 8, 10, 12]);
    gpu.dispatch(SHIFT, { x: { buffer: x, offset: 0, size: 12 }, y }, { n: 2 }, 1);
    expect(Array.from(await gpu.read(y, 'f32', 2))).toEqual([4, 6]);
  });

  it('refuses a binding shorter than declared, naming the kernel, the binding and the buffer', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('t');
    const x = gpu.alloc('input', 5 * 4); // one short: x needs n + 1
    const y = gpu.alloc('output', 5 * 4);
    const call = () => gpu.dispatch(SHIFT, { x, y }, { n: 5 }, 1);
    expect(call).toThrow(ShapeError);
    expect(call).toThrow("test-shift: binding 'x' (input) size, expected 24 bytes or more, got 20");
    const window = { buffer: gpu.alloc('long', 128 * 4), offset: 256, size: 16 };
    expect(() => gpu.dispatch(SHIFT, { x: window, y }, { n: 4 }, 1)).toThrow(
      "test-shift: binding 'x' (long) size, expected 20 bytes or more, got 16",
    );
  });

  it('refuses a window past the end of its buffer, with or without declared sizes', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('t');
    const x = gpu.alloc('x-short', 16 * 4); // the pool rounds it up to 256 bytes: the check uses the 64 requested
    const y = gpu.alloc('y', 4 * 4);
    const past = { buffer: x, offset: 0, size: 80 };
    expect(() => gpu.dispatch(SHIFT, { x: past, y }, { n: 4 }, 1)).toThrow(
      "test-shift: binding 'x' (x-short) window, expected bytes [offset, offset + size) within its 64 bytes (offset a multiple of 4), got [0, 80)",
    );
    const undeclared = { name: 'test-undeclared', wgsl: WGSL } as Kernel; // a plain-JS caller's kernel
    expect(() => gpu.dispatch(undeclared, { x: past, y }, { n: 4 }, 1)).toThrow(
      /test-undeclared: binding 'x' \(x-short\) window/,
    );
  });

  it('refuses a kernel whose sizes leave a binding out or name one it does not have', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('t');
    const [x, y] = [gpu.alloc('x', 64), gpu.alloc('y', 64)];
    const missing: Kernel = { name: 'test-missing', wgsl: WGSL, sizes: (u) => ({ y: u.n }) };
    expect(() => gpu.dispatch(missing, { x, y }, { n: 4 }, 1)).toThrow(ShaderError);
    expect(() => gpu.dispatch(missing, { x, y }, { n: 4 }, 1)).toThrow(
      "test-missing: sizes, expected an entry for binding 'x', got none",
    );
    const nan: Kernel = { name: 'test-nan', wgsl: WGSL, sizes: (u) => ({ x: 2 * u.count, y: u.n }) }; // no uniform 'count'
    expect(() => gpu.dispatch(nan, { x, y }, { n: 4 }, 1)).toThrow(
      "test-nan: sizes['x'], expected a whole number of elements, got NaN",
    );
    const extra: Kernel = { name: 'test-extra', wgsl: WGSL, sizes: (u) => ({ x: u.n, y: u.n, z: 1 }) };
    expect(() => gpu.dispatch(extra, { x, y }, { n: 4 }, 1)).toThrow(
      /test-extra: sizes, expected storage binding names, got 'z'/,
    );
  });

  it('copy and clear refuse byte ranges past their buffers and clear exactly what is asked', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('t');
    const src = gpu.upload('src', new Float32Array([1, 2, 3, 4]));
    const dst = gpu.upload('dst', new Float32Array([9, 9, 9, 9, 9, 9]));
    expect(() => gpu.copy(src, dst, 20)).toThrow(
      "gpu.copy: source 'src', expected bytes [offset, offset + size) within its 16 bytes (offset a multiple of 4), got [0, 20)",
    );
    expect(() => gpu.copy(src, dst, 16, 0, 12)).toThrow(/gpu\.copy: destination 'dst', .*got \[12, 28\)/);
    expect(() => gpu.copy(src, dst, 4, 2)).toThrow(/offset a multiple of 4/);
    expect(() => gpu.clear(dst, 28)).toThrow(
      /gpu\.clear: buffer 'dst', .*within its 24 bytes .*got \[0, 28\)/,
    );
    expect(() => gpu.copy(src, src, 4, 0, 8)).toThrow(
      "gpu.copy: destination, expected a buffer other than the source, got 'src'",
    );
    await expect(gpu.read(src, 'f32', 4, dst.size)).rejects.toThrow(
      /gpu\.read: buffer 'src', .*got \[\d+, \d+\)/,
    );
    gpu.copy(src, dst, 8, 8, 4);
    gpu.clear(dst, 4);
    expect(Array.from(await gpu.read(dst, 'f32'))).toEqual([0, 3, 4, 9, 9, 9]);
    gpu.write(dst, Float32Array.of(7, 7), 24); // past the 24 requested bytes, in the pool's rounding
    gpu.clear(dst);
    expect(Array.from(await gpu.read(dst, 'f32', 8))).toEqual([0, 0, 0, 0, 0, 0, 7, 7]);
  });

  it('checks sizes on the meta device too (the memory planner runs the same dispatches)', () => {
    const gpu = createMetaGpu();
    using _s = gpu.scope('t');
    const [x, y] = [gpu.alloc('meta-x', 16), gpu.alloc('meta-y', 16)];
    gpu.dispatch(SHIFT, { x, y }, { n: 3 }, 1);
    expect(() => gpu.dispatch(SHIFT, { x, y }, { n: 4 }, 1)).toThrow(
      "test-shift: binding 'x' (meta-x) size, expected 20 bytes or more, got 16",
    );
  });
});
