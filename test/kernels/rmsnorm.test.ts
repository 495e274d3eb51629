import { describe, expect, it } from 'vitest';
import { rmsnormChecks } from '../../src/check/rmsnorm.ts';
import { rmsnormBackward, rmsnormForward } from '../../src/kernels/rmsnorm.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

// At file level, so the device outlives every describe block.
const gpuPromise = testGpu();

describe('rmsnorm kernels vs reference', () => {
  runChecks(rmsnormChecks);
});

describe('rmsnorm kernels', () => {
  it('gives sign(x)·weight when C = 1 and x² ≫ eps, and 0 at x = 0', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('rmsnorm C=1');
    const N = 4;
    const x = gpu.upload('x', Float32Array.from([4, -1e6, 0.5, 0])); // (N, 1)
    const weight = gpu.upload('weight', Float32Array.from([3])); // (1)
    const [out, rstd] = [gpu.alloc('out', N * 4), gpu.alloc('rstd', N * 4)];
    rmsnormForward(gpu, out, rstd, x, weight, { N, C: 1, eps: 1e-12 });
    const y = await gpu.read(out, 'f32');
    [3, -3, 3, 0].forEach((want, i) =>
      expect(Math.abs(y[i] - want), `out[${i}] = ${y[i]}`).toBeLessThan(1e-6),
    );
  });

  it('reduces dweight in a fixed order: bit-identical across runs', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('rmsnorm determinism');
    const [N, C] = [300, 37];
    const data = (n: number, k: number) => new Float32Array(n).map((_, i) => Math.sin(i * k));
    const [xBuf, wBuf, doutBuf] = [data(N * C, 0.7), data(C, 1.3), data(N * C, 0.37)].map((a, i) =>
      gpu.upload(`in${i}`, a),
    );
    const [out, rstd] = [gpu.alloc('out', N * C * 4), gpu.alloc('rstd', N * 4)];
    rmsnormForward(gpu, out, rstd, xBuf, wBuf, { N, C, eps: 1e-5 });
    const runs: Uint32Array[] = [];
    for (let r = 0; r < 2; r++) {
      const [dx, dweight] = [gpu.alloc('dx', N * C * 4), gpu.alloc('dw', C * 4)];
      rmsnormBackward(gpu, dx, dweight, doutBuf, xBuf, wBuf, rstd, { N, C, eps: 1e-5 });
      runs.push(await gpu.read(dweight, 'u32'));
    }
    expect(runs[1]).toEqual(runs[0]);
  });

  it('bad dims and buffers throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('rmsnorm errors');
    const big = gpu.alloc('big', 12 * 4);
    const [v, r, w] = ['v', 'r', 'w'].map((name) => gpu.alloc(name, 4 * 4));
    const dims = { N: 3, C: 4, eps: 1e-5 };
    expect(() => rmsnormForward(gpu, big, r, v, w, dims)).toThrow(
      "rmsnorm-forward: binding 'x' (v) size, expected 48 bytes or more, got 16",
    );
    expect(() => rmsnormForward(gpu, big, r, big, w, dims)).toThrow(
      /rmsnorm-forward: binding 'out' \(written\), expected a buffer distinct from 'x'/,
    );
    expect(() => rmsnormForward(gpu, v, r, w, w, { N: 1, C: 0, eps: 1e-5 })).toThrow(/dims, expected/);
    expect(() => rmsnormForward(gpu, v, r, w, w, { N: 1, C: 4, eps: NaN })).toThrow(/dims.eps/);
    expect(() => rmsnormBackward(gpu, big, w, big, big, v, r, dims)).toThrow(
      /dx, expected a buffer distinct/,
    );
    const big2 = gpu.alloc('big2', 12 * 4);
    expect(() => rmsnormBackward(gpu, big, big, big2, big2, v, r, dims)).toThrow(
      'rmsnormBackward: dx, expected a buffer distinct from dweight, got the same buffer',
    );
  });
});
