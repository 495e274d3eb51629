import { describe, expect, it } from 'vitest';
import { sumChecks } from '../../src/check/sum.ts';
import { sumBackward, sumForward } from '../../src/kernels/sum.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

const gpuPromise = testGpu();

describe('sum kernels vs reference', () => {
  runChecks(sumChecks);
});

describe('sum kernels', () => {
  it('sums exactly representable values exactly, chunked or not', async () => {
    const gpu = await gpuPromise;
    for (const axis of [3, 4096]) {
      const x = new Float32Array(2 * axis); // (2, axis, 1)
      for (let i = 0; i < x.length; i++) x[i] = i < axis ? 1 : 0.5;
      const out = gpu.alloc('out', 2 * 4);
      sumForward(gpu, out, gpu.upload('x', x), { outer: 2, axis, inner: 1 });
      expect([...(await gpu.read(out, 'f32', 2))]).toEqual([axis, axis / 2]);
    }
  });

  it('is bit-for-bit reproducible on a chunked shape', async () => {
    const gpu = await gpuPromise;
    const x = new Float32Array(5000).map((_, i) => Math.sin(i * 0.37)); // (1, 5000, 1)
    const xBuf = gpu.upload('x', x);
    const runs: Uint32Array[] = [];
    for (let r = 0; r < 2; r++) {
      const out = gpu.alloc('out', 4);
      sumForward(gpu, out, xBuf, { outer: 1, axis: 5000, inner: 1 });
      runs.push(await gpu.read(out, 'u32', 1));
    }
    expect(runs[1]).toEqual(runs[0]);
  });

  it('bad dims throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    const x = gpu.alloc('x', 12 * 4);
    const out = gpu.alloc('out', 4 * 4);
    expect(() => sumForward(gpu, out, x, { outer: 1, axis: 0, inner: 4 })).toThrow(
      /dims.axis, expected an integer ≥ 1/,
    );
    expect(() => sumForward(gpu, out, x, { outer: 1, axis: 4, inner: 4 })).toThrow(
      "sum-forward: binding 'x' (x) size, expected 64 bytes or more, got 48",
    );
    expect(() => sumForward(gpu, x, x, { outer: 1, axis: 3, inner: 4 })).toThrow(/distinct/);
    expect(() => sumBackward(gpu, x, out, { outer: 1, axis: 3, inner: 4, scale: Infinity })).toThrow(
      /dims.scale/,
    );
  });
});
