// The runtime under the kernels: compile and validation errors name the kernel, uniforms and bindings are checked
// by name, scopes release what they own, and the pool keeps live counts flat.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { createDevice } from '../../src/gpu/device.ts';
import type { Uniforms } from '../../src/gpu/pipelines.ts';
import { ShaderError, ShapeError } from '../../src/util/errors.ts';

const gpuPromise = testGpu();

const ADD_ONE = {
  name: 'test-add-one',
  wgsl: `
struct Params { n: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { y[g.x] = x[g.x] + p.alpha; }
}`,
  sizes: (u: Uniforms) => ({ x: u.n, y: u.n }),
};

describe('gpu runtime', () => {
  it('dispatches with bindings and uniforms matched by name, batching into one submit', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('t');
    const x = gpu.upload('x', new Float32Array([1, 2, 3, 4, 5]));
    const y = gpu.alloc('y', 20);
    const before = gpu.stats().submits;
    gpu.dispatch(ADD_ONE, { x, y }, { n: 5, alpha: 0.5 }, 1);
    gpu.dispatch(ADD_ONE, { x: y, y: x }, { n: 5, alpha: 1 }, 1);
    expect(Array.from(await gpu.read(x, 'f32'))).toEqual([2.5, 3.5, 4.5, 5.5, 6.5]);
    expect(gpu.stats().submits - before).toBe(1);
    expect(() => gpu.dispatch(ADD_ONE, { x, y }, { n: 5 }, 1)).toThrow(
      /test-add-one: uniform 'alpha', expected a number/,
    );
    expect(() => gpu.dispatch(ADD_ONE, { x, y }, { n: 5, alpha: 1, beta: 2 }, 1)).toThrow(
      /uniform 'beta'.*unknown name/,
    );
    expect(() => gpu.dispatch(ADD_ONE, { x }, { n: 5, alpha: 1 }, 1)).toThrow(/test-add-one: binding 'y'/);
    expect(() => gpu.dispatch(ADD_ONE, { x, y }, { n: -1, alpha: 1 }, 1)).toThrow(
      /uniform 'n', expected a non-negative integer/,
    );
  });

  it('a shader compile error surfaces as a ShaderError naming the kernel and the line', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('t');
    const y = gpu.alloc('y', 4);
    const broken = {
      name: 'broken-kernel',
      wgsl: '@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n@compute @workgroup_size(1) fn main() { y[0] = foo; }',
      sizes: () => ({ y: 1 }),
    };
    gpu.dispatch(broken, { y }, {}, 1);
    const err = await gpu.sync().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShaderError);
    expect((err as Error).message).toMatch(/broken-kernel: pipeline creation failed/);
    expect((err as Error).message).toMatch(/2:\d+ .*foo/);
  });

  it('a validation error (buffer too small for the binding) surfaces as an Error naming the kernel', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('t');
    const kernel = {
      name: 'needs-vec4-kernel',
      wgsl: '@group(0) @binding(0) var<storage, read_write> y: array<vec4f, 64>;\n@compute @workgroup_size(1) fn main() { y[0] = vec4f(1.0); }',
      sizes: () => ({ y: 1 }), // understated: WebGPU's own validation, past checkSizes, is what this tests
    };
    const y = gpu.alloc('small-y', 16); // 256 bytes after pool rounding; the binding needs 1024
    gpu.dispatch(kernel, { y }, {}, 1);
    const err = await gpu.sync().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/needs-vec4-kernel/);
  });

  it('scopes release what they own, keep() hands a buffer out, and the pool reuses released buffers', async () => {
    const gpu = await gpuPromise;
    const base = gpu.stats().liveBuffers;
    let kept: GPUBuffer;
    {
      using scope = gpu.scope('outer');
      gpu.alloc('a', 100);
      kept = scope.keep(gpu.alloc('b', 100));
      expect(gpu.stats().liveBuffers).toBe(base + 2);
    }
    expect(gpu.stats().liveBuffers).toBe(base + 1);
    gpu.release(kept);
    const pooled = gpu.stats().pooledBuffers;
    {
      using _s = gpu.scope('again');
      gpu.alloc('c', 100);
      expect(gpu.stats().pooledBuffers).toBe(pooled - 1);
    }
    expect(gpu.stats().liveBuffers).toBe(base);
  });

  it('rejects a buffer larger than maxBufferSize, naming the tensor; binds one past the binding limit only in windows', async () => {
    const gpu = await gpuPromise;
    const max = gpu.limits.maxBufferSize;
    expect(() => gpu.alloc('transformer.wte.weight', max + 4)).toThrow(ShapeError);
    expect(() => gpu.alloc('transformer.wte.weight', max + 4)).toThrow(
      /transformer\.wte\.weight: buffer size, expected at most \d+ bytes \(device maxBufferSize\)/,
    );
    const small = await createDevice({ log: null, maxBindingBytes: 4096 });
    const x = small.upload('big-x', new Float32Array(2000).fill(1)); // 8000 bytes: two bindings' worth
    const y = small.alloc('big-y', 8000);
    expect(() => small.dispatch(ADD_ONE, { x, y }, { n: 2000, alpha: 1 }, 1)).toThrow(
      "test-add-one: binding 'x' (big-x), expected at most 4096 bytes (binding limit), got 8000",
    );
    // Windows at offsets that are multiples of the alignment, each within the limit: the kernel runs per window.
    for (const first of [0, 1024]) {
      const count = Math.min(1024, 2000 - first);
      const bind = (buffer: GPUBuffer) => ({ buffer, offset: first * 4, size: count * 4 });
      small.dispatch(ADD_ONE, { x: bind(x), y: bind(y) }, { n: count, alpha: 1 }, Math.ceil(count / 64));
    }
    expect(Array.from(new Set(await small.read(y, 'f32')))).toEqual([2]);
    expect(() =>
      small.dispatch(ADD_ONE, { x: { buffer: x, offset: 0, size: 4100 }, y }, { n: 1, alpha: 1 }, 1),
    ).toThrow(/binding 'x' \(big-x\), expected at most 4096 bytes \(binding limit\), got 4100/);
    await expect(createDevice({ log: null, maxBindingBytes: 1000 })).rejects.toThrow(
      /maxBindingBytes, expected a multiple of 256 ≥ 1024, got 1000/,
    );
    small.dispose();
  });

  it('requests the adapter limits (not the defaults) and announces the software adapter', async () => {
    const lines: string[] = [];
    const gpu = await createDevice({ log: (l) => lines.push(l) });
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThan(128 * 2 ** 20);
    if (gpu.software) expect(lines.join('\n')).toMatch(/software adapter/);
    gpu.dispose();
    expect(() => gpu.alloc('x', 4)).toThrow(/used after dispose/);
  });
});
