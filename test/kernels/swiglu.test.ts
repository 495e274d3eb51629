import { describe, expect, it } from 'vitest';
import { swigluChecks } from '../../src/check/swiglu.ts';
import { swigluBackward, swigluForward } from '../../src/kernels/swiglu.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

// At file level, so the device outlives every describe block.
const gpuPromise = testGpu();

describe('swiglu kernels vs reference', () => {
  runChecks(swigluChecks);
});

describe('swiglu kernels', () => {
  it('is finite and saturates at large |gate|: silu(g) → g, 0 and silu′ → 1, 0', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('swiglu saturation');
    const gate = Float32Array.from([100, -100, 1e4, -1e4, 3e38, -3e38, 0]);
    const n = gate.length;
    const [out, dgate, dup] = [gpu.alloc('out', n * 4), gpu.alloc('dgate', n * 4), gpu.alloc('dup', n * 4)];
    const [gateBuf, ones] = [gpu.upload('gate', gate), gpu.upload('ones', new Float32Array(n).fill(1))];
    swigluForward(gpu, out, gateBuf, ones, { n });
    swigluBackward(gpu, dgate, dup, gpu.upload('dout', new Float32Array(n).fill(1)), gateBuf, ones, { n });
    const close = (got: number, want: number) => Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want));
    const [y, dg, du] = [
      await gpu.read(out, 'f32'),
      await gpu.read(dgate, 'f32'),
      await gpu.read(dup, 'f32'),
    ];
    [100, 0, 1e4, 0, 3e38, 0, 0].forEach((want, i) => {
      expect(close(y[i], want), `silu(${gate[i]}) = ${y[i]}`).toBe(true);
      expect(close(du[i], want), `dup at ${gate[i]} = ${du[i]}`).toBe(true);
    });
    [1, 0, 1, 0, 1, 0, 0.5].forEach((want, i) =>
      expect(close(dg[i], want), `silu'(${gate[i]}) = ${dg[i]}`).toBe(true),
    );
  });

  it('bad dims and buffers throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('swiglu errors');
    const [a, b, c] = [gpu.alloc('a', 16), gpu.alloc('b', 16), gpu.alloc('c', 16)];
    expect(() => swigluForward(gpu, a, b, c, { n: -1 })).toThrow(/dims.n, expected an integer/);
    expect(() => swigluForward(gpu, a, b, c, { n: 5 })).toThrow(
      "swiglu-forward: binding 'out' (a) size, expected 20 bytes or more, got 16",
    );
    expect(() => swigluForward(gpu, a, a, c, { n: 4 })).toThrow(
      /swiglu-forward: binding 'out' \(written\), expected a buffer distinct from 'gate'/,
    );
    expect(() => swigluBackward(gpu, a, a, b, c, b, { n: 4 })).toThrow(
      /binding 'dgate' \(written\), expected a buffer distinct from 'dup'/,
    );
    // dup alone reads no up: only an output a dispatch also reads is refused.
    expect(() => swigluBackward(gpu, c, null, a, b, c, { n: 4 })).toThrow(
      /swiglu-backward-dgate: binding 'dgate' \(written\), expected a buffer distinct from 'up'/,
    );
  });
});
