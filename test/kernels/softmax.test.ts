import { describe, expect, it } from 'vitest';
import { softmaxChecks } from '../../src/check/softmax.ts';
import { softmaxBackward, softmaxForward } from '../../src/kernels/softmax.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

const gpuPromise = testGpu();

describe('softmax kernels vs reference', () => {
  runChecks(softmaxChecks);
});

describe('softmax kernels', () => {
  it('writes exact zeros at masked columns (even over NaN logits and gradients) and rows that sum to 1', async () => {
    const gpu = await gpuPromise;
    const T = 5;
    const x = new Float32Array(2 * T * T).map((_, i) => Math.sin(i) * 3); // (2, T, T)
    for (let r = 0; r < 2 * T; r++) for (let j = (r % T) + 1; j < T; j++) x[r * T + j] = NaN;
    const out = gpu.alloc('out', x.length * 4);
    softmaxForward(gpu, out, gpu.upload('x', x), { rows: 2 * T, cols: T, scale: 0.5, causal: true });
    const y = await gpu.read(out, 'f32');
    const dout = new Float32Array(x.length).map((_, i) => (i % 3 === 0 ? NaN : Math.cos(i)));
    for (let r = 0; r < 2 * T; r++) for (let j = 0; j <= r % T; j++) dout[r * T + j] = Math.cos(r + j);
    const dx = gpu.alloc('dx', x.length * 4);
    softmaxBackward(gpu, dx, gpu.upload('dout', dout), out, {
      rows: 2 * T,
      cols: T,
      scale: 0.5,
      causal: true,
    });
    const g = await gpu.read(dx, 'f32');
    for (let r = 0; r < 2 * T; r++) {
      let sum = 0;
      for (let j = 0; j < T; j++) {
        if (j > r % T) {
          expect(y[r * T + j]).toBe(0);
          expect(g[r * T + j]).toBe(0);
        }
        sum += y[r * T + j];
      }
      expect(sum).toBeCloseTo(1, 6);
    }
    expect(y[0]).toBe(1);
  });

  it('stays finite with logits of ±1e30 (the max is subtracted first)', async () => {
    const gpu = await gpuPromise;
    const x = Float32Array.from([1e30, -1e30, 1e30, 0]);
    const out = gpu.alloc('out', 16);
    softmaxForward(gpu, out, gpu.upload('x', x), { rows: 1, cols: 4 });
    expect([...(await gpu.read(out, 'f32'))]).toEqual([0.5, 0, 0.5, 0]);
  });

  it('bad dims and buffers throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    const a = gpu.alloc('a', 12 * 4);
    const b = gpu.alloc('b', 12 * 4);
    expect(() => softmaxForward(gpu, a, b, { rows: 3, cols: 0 })).toThrow(
      /dims.cols, expected an integer ≥ 1/,
    );
    expect(() => softmaxForward(gpu, a, b, { rows: 1.5, cols: 4 })).toThrow(/dims.rows/);
    expect(() => softmaxForward(gpu, a, b, { rows: 4, cols: 4 })).toThrow(
      "softmax-forward-short: binding 'out' (a) size, expected 64 bytes or more, got 48",
    );
    expect(() => softmaxForward(gpu, a, b, { rows: 3, cols: 4, scale: NaN })).toThrow(/dims.scale/);
    expect(() => softmaxForward(gpu, a, a, { rows: 3, cols: 4 })).toThrow(/distinct/);
    expect(() => softmaxBackward(gpu, a, b, a, { rows: 3, cols: 4 })).toThrow(/distinct/);
  });
});
