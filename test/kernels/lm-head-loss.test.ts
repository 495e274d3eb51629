import { describe, expect, it } from 'vitest';
import { lmHeadLossChecks } from '../../src/check/lm-head-loss.ts';
import { lmHeadLossBackward, lmHeadLossForward } from '../../src/kernels/lm-head-loss.ts';
import { Rng } from '../../src/util/random.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

const gpuPromise = testGpu();

describe('lm-head-loss kernels vs reference', () => {
  runChecks(lmHeadLossChecks);
});

describe('lm-head-loss kernels', () => {
  it('gives the same loss and gradients, to f32 rounding, whatever the chunk', async () => {
    const gpu = await gpuPromise;
    const [N, C, V] = [6, 8, 100];
    const rng = new Rng(5);
    const h = gpu.upload('hidden', rng.normal(N * C));
    const w = gpu.upload('weight', rng.normal(V * C));
    const t = gpu.upload('targets', Int32Array.of(0, 99, -100, 50, 7, 64));
    const dloss = gpu.upload('dloss', Float32Array.of(1));
    const results: Float32Array[] = [];
    for (const chunk of [1, 4, 6]) {
      const [loss, count] = [gpu.alloc('loss', 4), gpu.alloc('count', 4)];
      const [dh, dw] = [gpu.alloc('dh', N * C * 4), gpu.alloc('dw', V * C * 4)];
      lmHeadLossForward(gpu, loss, count, h, w, t, { N, C, V, chunk }, { dhidden: dh, dweight: dw });
      lmHeadLossBackward(gpu, dh, dw, dloss, count, { N, C, V, chunk });
      expect((await gpu.read(count, 'f32'))[0]).toBe(5);
      results.push(
        Float32Array.of(
          ...(await gpu.read(loss, 'f32')),
          ...(await gpu.read(dh, 'f32')),
          ...(await gpu.read(dw, 'f32')),
        ),
      );
    }
    for (const r of results.slice(1)) r.forEach((x, i) => expect(x).toBeCloseTo(results[0][i], 5));
  });

  it('bad dims and buffers throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    const [h, w, t] = [gpu.alloc('hidden', 4 * 3 * 4), gpu.alloc('weight', 5 * 3 * 4), gpu.alloc('targets', 4 * 4)];
    const [loss, count] = [gpu.alloc('loss', 4), gpu.alloc('count', 4)];
    expect(() => lmHeadLossForward(gpu, loss, count, h, w, t, { N: 4, C: 3, V: 5, chunk: 0 })).toThrow(
      /lmHeadLossForward: dims.chunk, expected an integer ≥ 1, got 0/,
    );
    expect(() => lmHeadLossForward(gpu, loss, count, h, w, t, { N: 4, C: 3, V: 6 })).toThrow(
      "matmul-naive: binding 'B' (weight) size, expected 72 bytes or more, got 60",
    );
    expect(() => lmHeadLossBackward(gpu, h, null, loss, count, { N: 5, C: 3, V: 5 })).toThrow(
      "lm-head-loss-scale: binding 'x' (hidden) size, expected 60 bytes or more, got 48",
    );
    const dw = gpu.alloc('dw', 5 * 3 * 4);
    expect(() =>
      lmHeadLossForward(gpu, loss, count, h, w, t, { N: 4, C: 3, V: 5 }, { dhidden: h, dweight: dw }),
    ).toThrow(/lmHeadLossForward: dhidden, expected a buffer distinct from hidden/);
  });
});
