import { describe, expect, it } from 'vitest';
import { geluChecks } from '../../src/check/gelu.ts';
import { geluBackward, geluForward } from '../../src/kernels/gelu.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

const gpuPromise = testGpu();

describe('gelu kernels vs reference', () => {
  runChecks(geluChecks);
});

describe('gelu kernels', () => {
  it('is finite and saturates at large |x|: gelu(x) → x, 0 and gelu′ → 1, 0', async () => {
    const gpu = await gpuPromise;
    const x = Float32Array.from([20, -20, 1e4, -1e4, 3e38, -3e38, 0]);
    const n = x.length;
    const [out, dx] = [gpu.alloc('out', n * 4), gpu.alloc('dx', n * 4)];
    const xBuf = gpu.upload('x', x);
    geluForward(gpu, out, xBuf, { n });
    geluBackward(gpu, dx, gpu.upload('dout', new Float32Array(n).fill(1)), xBuf, { n });
    const y = await gpu.read(out, 'f32');
    const g = await gpu.read(dx, 'f32');
    const close = (got: number, want: number) => Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want));
    [20, 0, 1e4, 0, 3e38, 0, 0].forEach((want, i) =>
      expect(close(y[i], want), `gelu(${x[i]}) = ${y[i]}`).toBe(true),
    );
    [1, 0, 1, 0, 1, 0, 0.5].forEach((want, i) =>
      expect(close(g[i], want), `gelu'(${x[i]}) = ${g[i]}`).toBe(true),
    );
  });

  it('bad dims and buffers throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    const [a, b] = [gpu.alloc('a', 16), gpu.alloc('b', 16)];
    expect(() => geluForward(gpu, a, b, { n: -1 })).toThrow(/dims.n, expected an integer/);
    expect(() => geluForward(gpu, a, b, { n: 5 })).toThrow("gelu-forward: binding 'out' (a) size, expected 20 bytes or more, got 16");
    expect(() => geluBackward(gpu, a, b, a, { n: 4 })).toThrow(/distinct/);
  });
});
