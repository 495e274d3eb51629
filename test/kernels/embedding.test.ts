import { describe, expect, it } from 'vitest';
import { embeddingChecks } from '../../src/check/embedding.ts';
import { Rng } from '../../src/util/random.ts';
import { embeddingBackward, embeddingForward } from '../../src/kernels/embedding.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

const gpuPromise = testGpu();

describe('embedding kernels vs reference', () => {
  runChecks(embeddingChecks);
});

describe('embedding kernels', () => {
  it('backward is bit-for-bit reproducible across runs, with heavily repeated ids', async () => {
    const gpu = await gpuPromise;
    const dims = { N: 1000, C: 37, V: 13 };
    const rng = new Rng(7);
    const ids = gpu.upload('ids', rng.int(dims.N, 0, 3));
    const dout = gpu.upload('dout', rng.normal(dims.N * dims.C));
    const runs: Uint32Array[] = [];
    for (let r = 0; r < 2; r++) {
      const dweight = gpu.alloc('dweight', dims.V * dims.C * 4);
      gpu.write(dweight, new Float32Array(dims.V * dims.C).fill(r + 1)); // stale contents must not leak through
      embeddingBackward(gpu, dweight, dout, ids, dims);
      runs.push(await gpu.read(dweight, 'u32'));
    }
    expect(runs[1]).toEqual(runs[0]);
    const rows = new Float32Array(runs[0].buffer);
    expect(rows.subarray(3 * dims.C).every((v) => v === 0)).toBe(true); // ids < 3: rows 3.. never hit
  });

  it('ids outside [0, V) read a zero row and get no gradient, without touching memory out of bounds', async () => {
    const gpu = await gpuPromise;
    const dims = { N: 4, C: 2, V: 3 };
    const ids = gpu.upload('ids', new Int32Array([2, -1, 3, 2 ** 31 - 1]));
    const weight = gpu.upload('weight', new Float32Array([1, 2, 3, 4, 5, 6]));
    const out = gpu.alloc('out', dims.N * dims.C * 4);
    embeddingForward(gpu, out, ids, weight, dims);
    expect([...(await gpu.read(out, 'f32', 8))]).toEqual([5, 6, 0, 0, 0, 0, 0, 0]);
    const dweight = gpu.alloc('dweight', dims.V * dims.C * 4);
    embeddingBackward(
      gpu,
      dweight,
      gpu.upload('dout', new Float32Array([1, 2, 3, 4, 5, 6, 7, 8])),
      ids,
      dims,
    );
    expect([...(await gpu.read(dweight, 'f32', 6))]).toEqual([0, 0, 0, 0, 1, 2]);
  });

  it('bad dims throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    const ids = gpu.alloc('ids', 4 * 4);
    const weight = gpu.alloc('weight', 6 * 4);
    const out = gpu.alloc('out', 8 * 4);
    expect(() => embeddingForward(gpu, out, ids, weight, { N: 4, C: 2, V: 0 })).toThrow(
      /dims.V, expected an integer ≥ 1/,
    );
    expect(() => embeddingForward(gpu, out, ids, weight, { N: 4, C: 2, V: 4 })).toThrow(
      "embedding-forward: binding 'weight' (weight) size, expected 32 bytes or more, got 24",
    );
    expect(() => embeddingForward(gpu, out, ids, weight, { N: 5, C: 2, V: 3 })).toThrow(/embedding-forward: binding 'out' \(out\) size, expected 40 bytes or more/);
    expect(() => embeddingBackward(gpu, out, out, ids, { N: 4, C: 2, V: 3 })).toThrow(
      /embedding-backward: binding 'dweight' \(written\), expected a buffer distinct from 'dout'/,
    );
  });
});
