import { describe, expect, it } from 'vitest';
import { crossEntropyChecks } from '../../src/check/cross-entropy.ts';
import { Rng } from '../../src/util/random.ts';
import {
  crossEntropyAccuracy,
  crossEntropyBackward,
  crossEntropyForward,
} from '../../src/kernels/cross-entropy.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

const gpuPromise = testGpu();

describe('cross-entropy kernels vs reference', () => {
  runChecks(crossEntropyChecks);
});

describe('cross-entropy kernels', () => {
  it('equal logits give log V, and accuracy takes the first maximum on ties', async () => {
    const gpu = await gpuPromise;
    const dims = { N: 3, V: 300 };
    const logits = gpu.upload('logits', new Float32Array(dims.N * dims.V).fill(-2));
    const targets = gpu.upload('targets', Int32Array.of(0, 299, -100));
    const loss = gpu.alloc('loss', 4);
    const losses = gpu.alloc('losses', dims.N * 4);
    crossEntropyForward(gpu, loss, losses, logits, targets, dims);
    const got = await gpu.read(losses, 'f32');
    expect(got[0]).toBeCloseTo(Math.log(300), 5);
    expect(got[1]).toBeCloseTo(Math.log(300), 5);
    expect(got[2]).toBe(0);
    expect((await gpu.read(loss, 'f32'))[0]).toBeCloseTo(Math.log(300), 5);
    const correct = gpu.alloc('correct', 4);
    const counted = gpu.alloc('counted', 4);
    crossEntropyAccuracy(gpu, correct, counted, logits, targets, dims);
    expect([(await gpu.read(correct, 'f32'))[0], (await gpu.read(counted, 'f32'))[0]]).toEqual([1, 2]);
  });

  it('a target outside [0, V) other than −100 gives NaN loss and gradient rows, and reads nothing out of bounds', async () => {
    const gpu = await gpuPromise;
    const dims = { N: 3, V: 4 };
    const logits = gpu.upload('logits', new Rng(3).normal(12));
    const targets = gpu.upload('targets', Int32Array.of(1, 4, -1));
    const losses = gpu.alloc('losses', 12);
    crossEntropyForward(gpu, gpu.alloc('loss', 4), losses, logits, targets, dims);
    const got = await gpu.read(losses, 'f32');
    expect(Number.isFinite(got[0])).toBe(true);
    expect([Number.isNaN(got[1]), Number.isNaN(got[2])]).toEqual([true, true]);
    const dlogits = gpu.alloc('dlogits', 48);
    crossEntropyBackward(gpu, dlogits, gpu.upload('dloss', Float32Array.of(1)), logits, targets, dims);
    const grad = await gpu.read(dlogits, 'f32');
    expect(grad.subarray(0, 4).every(Number.isFinite)).toBe(true);
    expect(grad.subarray(4).every(Number.isNaN)).toBe(true);
  });

  it('is bit-for-bit reproducible across runs (fixed-order reductions)', async () => {
    const gpu = await gpuPromise;
    const dims = { N: 2, V: 50257 };
    const rng = new Rng(11);
    const logits = gpu.upload('logits', rng.normal(dims.N * dims.V, 4));
    const targets = gpu.upload('targets', Int32Array.of(17, 50256));
    const dloss = gpu.upload('dloss', Float32Array.of(0.5));
    const runs: Uint32Array[] = [];
    for (let r = 0; r < 2; r++) {
      const loss = gpu.alloc('loss', 4);
      const dlogits = gpu.alloc('dlogits', dims.N * dims.V * 4);
      crossEntropyForward(gpu, loss, gpu.alloc('losses', 8), logits, targets, dims);
      crossEntropyBackward(gpu, dlogits, dloss, logits, targets, dims);
      runs.push(Uint32Array.of(...(await gpu.read(loss, 'u32')), ...(await gpu.read(dlogits, 'u32'))));
    }
    expect(runs[1]).toEqual(runs[0]);
  });

  it('bad dims and buffers throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    const logits = gpu.alloc('logits', 6 * 4);
    const targets = gpu.alloc('targets', 2 * 4);
    const loss = gpu.alloc('loss', 4);
    const losses = gpu.alloc('losses', 2 * 4);
    expect(() => crossEntropyForward(gpu, loss, losses, logits, targets, { N: 2, V: 0 })).toThrow(
      /crossEntropyForward: dims.V, expected an integer ≥ 1, got 0/,
    );
    expect(() => crossEntropyForward(gpu, loss, losses, logits, targets, { N: 2, V: 4 })).toThrow(
      "cross-entropy-forward-wg8: binding 'logits' (logits) size, expected 32 bytes or more, got 24",
    );
    expect(() => crossEntropyForward(gpu, loss, losses, logits, targets, { N: 3, V: 2 })).toThrow(
      /cross-entropy-forward-wg8: binding 'losses' \(losses\) size, expected 12 bytes or more, got 8/,
    );
    expect(() => crossEntropyBackward(gpu, logits, loss, logits, targets, { N: 2, V: 3 })).toThrow(
      /logits, expected a buffer other than dlogits/,
    );
    expect(() => crossEntropyForward(gpu, loss, losses, logits, targets, { N: 2, V: 3, maxWorkgroup: 48 })).toThrow(
      /dims.maxWorkgroup, expected a power of two from 8 to 256, got 48/,
    );
    const shortStats = gpu.alloc('stats', 3 * 4);
    expect(() => crossEntropyForward(gpu, loss, losses, logits, targets, { N: 2, V: 3 }, shortStats)).toThrow(
      /binding 'stats' \(stats\) size, expected 16 bytes or more, got 12/,
    );
    expect(() => crossEntropyAccuracy(gpu, loss, loss, logits, targets, { N: 2, V: 3 })).toThrow(
      /counted, expected a buffer other than correct/,
    );
  });
});
