import { describe, expect, it } from 'vitest';
import { dropoutChecks } from '../../src/check/dropout.ts';
import { ShapeError } from '../../src/util/errors.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { dropoutBackward, dropoutForward } from '../../src/kernels/dropout.ts';
import { dropoutKeep } from '../../src/reference/dropout.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';
import type { DropoutDims } from '../../src/ops/dims.ts';

// At file level, so the device outlives every describe block.
const gpuPromise = testGpu();

describe('dropout kernels vs reference', () => {
  runChecks(dropoutChecks);
});

/** Forward on all-ones input: out[i] is 1 / (1 - p) where kept, 0 where dropped. */
async function gpuMask(gpu: Gpu, dims: DropoutDims): Promise<boolean[]> {
  const scope = gpu.scope('dropout test');
  try {
    const out = gpu.alloc('out', dims.n * 4);
    dropoutForward(gpu, out, gpu.upload('x', new Float32Array(dims.n).fill(1)), dims);
    return Array.from(await gpu.read(out, 'f32', dims.n), (v) => v !== 0);
  } finally {
    scope[Symbol.dispose]();
  }
}

describe('dropout kernels', () => {
  it('keeps a fraction within 4 standard deviations of 1 - p (n=100003, p=0.1), matching the reference mask', async () => {
    const gpu = await gpuPromise;
    const dims = { n: 100_003, p: 0.1, seed: 2024, offset: 77 };
    const mask = await gpuMask(gpu, dims);
    const kept = mask.filter(Boolean).length / dims.n;
    expect(Math.abs(kept - 0.9)).toBeLessThan(4 * Math.sqrt((0.1 * 0.9) / dims.n));
    const want = mask.map((_, i) => dropoutKeep(dims.seed, dims.offset, i, dims.p));
    expect(mask).toEqual(want);
  });

  it('a different seed or offset gives a different mask; the same ones give the same mask', async () => {
    const gpu = await gpuPromise;
    const dims = { n: 4099, p: 0.5, seed: 11, offset: 1000 };
    const base = await gpuMask(gpu, dims);
    expect(await gpuMask(gpu, dims)).toEqual(base);
    expect(await gpuMask(gpu, { ...dims, seed: 12 })).not.toEqual(base);
    expect(await gpuMask(gpu, { ...dims, offset: 1001 })).not.toEqual(base);
  });

  it('p = 0 is the identity, exactly', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('dropout p=0');
    const x = Float32Array.from({ length: 1031 }, (_, i) => Math.sin(i) * 1e3);
    const out = gpu.alloc('out', x.byteLength);
    dropoutForward(gpu, out, gpu.upload('x', x), { n: x.length, p: 0, seed: 3, offset: 5 });
    expect(await gpu.read(out, 'f32')).toEqual(x);
  });

  it('kept values equal x / (1 - p) to float32 rounding, and the backward uses the forward mask', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('dropout values');
    const n = 2053;
    const dims = { n, p: 0.3, seed: 0xfeedface, offset: 2 ** 31 };
    const x = Float32Array.from({ length: n }, (_, i) => 1 + Math.cos(i));
    const out = gpu.alloc('out', n * 4);
    const dx = gpu.alloc('dx', n * 4);
    const input = gpu.upload('x', x);
    dropoutForward(gpu, out, input, dims);
    dropoutBackward(gpu, dx, input, dims);
    const got = await gpu.read(out, 'f32');
    expect(await gpu.read(dx, 'f32')).toEqual(got);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const want = dropoutKeep(dims.seed, dims.offset, i, dims.p) ? x[i] / (1 - dims.p) : 0;
      worst = Math.max(worst, want === 0 ? Math.abs(got[i]) : Math.abs(got[i] - want) / Math.abs(want));
    }
    expect(worst).toBeLessThanOrEqual(2 ** -23);
  });

  it('covers n beyond 65535 workgroups of 256 (grid-stride loop)', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('dropout large');
    const n = 65_535 * 256 + 1001;
    const dims = { n, p: 0.5, seed: 8, offset: 9 };
    const out = gpu.alloc('out', n * 4);
    dropoutForward(gpu, out, gpu.upload('x', new Float32Array(n).fill(1)), dims);
    const got = await gpu.read(out, 'f32');
    // The tail is only reached on the loop's second pass; sample the rest.
    for (let i = 0; i < n; i += i < n - 5000 ? 997 : 1) {
      if (
        (got[i] === 2) !== dropoutKeep(dims.seed, dims.offset, i, dims.p) ||
        (got[i] !== 0 && got[i] !== 2)
      ) {
        throw new Error(
          `element ${i}: got ${got[i]}, reference keep ${dropoutKeep(dims.seed, dims.offset, i, dims.p)}`,
        );
      }
    }
  });

  it('rejects p outside [0, 1), bad seeds and offsets, short buffers and aliasing', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('dropout errors');
    const a = gpu.alloc('a', 40);
    const b = gpu.alloc('b', 40);
    const ok = { n: 10, p: 0.1, seed: 0, offset: 0 };
    for (const p of [1, -0.1, 1.5, NaN]) {
      expect(() => dropoutForward(gpu, a, b, { ...ok, p })).toThrow(ShapeError);
      expect(() => dropoutBackward(gpu, a, b, { ...ok, p })).toThrow(ShapeError);
    }
    expect(() => dropoutForward(gpu, a, b, { ...ok, seed: -1 })).toThrow(ShapeError);
    expect(() => dropoutForward(gpu, a, b, { ...ok, offset: 2 ** 32 })).toThrow(ShapeError);
    expect(() => dropoutForward(gpu, a, b, { ...ok, n: 0 })).toThrow(ShapeError);
    expect(() => dropoutForward(gpu, a, b, { ...ok, n: 11 })).toThrow("dropout-forward: binding 'out' (a) size, expected 44 bytes or more, got 40");
    expect(() => dropoutBackward(gpu, gpu.alloc('dx', 44), b, { ...ok, n: 11 })).toThrow(
      "dropout-forward: binding 'x' (b) size, expected 44 bytes or more, got 40",
    );
    expect(() => dropoutForward(gpu, a, a, ok)).toThrow(ShapeError);
    expect(() => dropoutForward(gpu, a, b, { ...ok, p: 1 })).toThrow(
      'dropoutForward: dims.p, expected a number in [0, 1), got 1',
    );
  });
});
