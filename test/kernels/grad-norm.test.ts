import { describe, expect, it } from 'vitest';
import { gradNormChecks } from '../../src/check/grad-norm.ts';
import { Rng } from '../../src/util/random.ts';
import { gradNorm } from '../../src/kernels/grad-norm.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

const gpuPromise = testGpu();

describe('grad-norm kernel vs reference', () => {
  runChecks(gradNormChecks);
});

describe('grad-norm kernel', () => {
  it('[3, 4] and [12] give norm 13 exactly, and the clip scale 1 / (13 + 1e-6)', async () => {
    const gpu = await gpuPromise;
    const grads = [Float32Array.of(3, 4), Float32Array.of(12)].map((g, k) => ({
      buffer: gpu.upload(`g${k}`, g),
      n: g.length,
    }));
    const norm = gpu.alloc('norm', 4);
    const scale = gpu.alloc('scale', 4);
    gradNorm(gpu, norm, scale, grads, 1);
    expect((await gpu.read(norm, 'f32'))[0]).toBe(13);
    expect((await gpu.read(scale, 'f32'))[0]).toBe(Math.fround(1 / (13 + 1e-6)));
    gradNorm(gpu, norm, scale, grads, 0);
    expect((await gpu.read(scale, 'f32'))[0]).toBe(1);
  });

  it('is bit-for-bit reproducible across runs (fixed-order two-stage reduction)', async () => {
    const gpu = await gpuPromise;
    const rng = new Rng(5);
    const grads = [300_007, 1, 65_537].map((n, k) => ({ buffer: gpu.upload(`g${k}`, rng.normal(n)), n }));
    const runs: number[] = [];
    for (let r = 0; r < 3; r++) {
      const norm = gpu.alloc('norm', 4);
      gradNorm(gpu, norm, gpu.alloc('scale', 4), grads, 1);
      runs.push((await gpu.read(norm, 'u32'))[0]);
    }
    expect(new Set(runs).size).toBe(1);
  });

  it('bad arguments throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    const norm = gpu.alloc('norm', 4);
    const scale = gpu.alloc('scale', 4);
    const g = gpu.alloc('g', 8 * 4);
    expect(() => gradNorm(gpu, norm, scale, [{ buffer: g, n: 8 }], -1)).toThrow(
      /gradNorm: maxNorm, expected a finite/,
    );
    expect(() => gradNorm(gpu, norm, scale, [{ buffer: g, n: 9 }], 1)).toThrow(
      /grad-norm-partial.*: binding 'g' \(g\) size, expected 36 bytes or more, got 32/,
    );
    expect(() => gradNorm(gpu, norm, scale, [{ buffer: g, n: 1.5 }], 1)).toThrow(/grads\[0\].n/);
    expect(() => gradNorm(gpu, norm, norm, [], 1)).toThrow(/scale, expected a buffer other than norm/);
    expect(() => gradNorm(gpu, norm, scale, [{ buffer: scale, n: 1 }], 1)).toThrow(
      /grads\[0\], expected a buffer other/,
    );
  });
});
