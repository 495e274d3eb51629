import { describe, expect, it } from 'vitest';
import { transposeChecks } from '../../src/check/transpose.ts';
import { ShapeError } from '../../src/util/errors.ts';
import { transposeBackward, transposeForward } from '../../src/kernels/transpose.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

// At file level, so the device outlives every describe block.
const gpuPromise = testGpu();

describe('transpose kernels vs reference', () => {
  runChecks(transposeChecks);
});

describe('transpose kernels', () => {
  it('covers more than 65535 workgroups of 256 elements (grid-stride loop), exactly', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('transpose large');
    const [d0, d1, d2, d3] = [1, 4099, 16, 256]; // 16,789,504 elements > 65535 · 256
    const n = d0 * d1 * d2 * d3;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = i; // every index below 2^24 is an exact f32
    const out = gpu.alloc('out', n * 4);
    const back = gpu.alloc('back', n * 4);
    transposeForward(gpu, out, gpu.upload('x', x), { d0, d1, d2, d3 });
    transposeBackward(gpu, back, out, { d0, d1, d2, d3 });
    const got = await gpu.read(out, 'f32');
    for (let i = 0; i < d1; i++) {
      for (let j = 0; j < d2; j++) {
        const from = (i * d2 + j) * d3;
        const to = (j * d1 + i) * d3;
        for (let k = 0; k < d3; k++) {
          if (got[to + k] !== x[from + k]) {
            throw new Error(`out[0, ${j}, ${i}, ${k}]: got ${got[to + k]}, want ${x[from + k]}`);
          }
        }
      }
    }
    const restored = await gpu.read(back, 'f32');
    // A loop rather than toEqual: vitest's deep equality is far too slow on 16M elements.
    for (let i = 0; i < n; i++) {
      if (restored[i] !== x[i]) throw new Error(`backward [${i}]: got ${restored[i]}, want ${x[i]}`);
    }
  });

  it('rejects bad dims, short buffers and aliasing', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('transpose errors');
    const a = gpu.alloc('a', 24 * 4);
    const b = gpu.alloc('b', 24 * 4);
    const ok = { d0: 2, d1: 3, d2: 4, d3: 1 };
    expect(() => transposeForward(gpu, a, b, { ...ok, d1: 0 })).toThrow(ShapeError);
    expect(() => transposeForward(gpu, a, b, { ...ok, d3: 1.5 })).toThrow(ShapeError);
    expect(() => transposeBackward(gpu, a, b, { ...ok, d2: -1 })).toThrow(ShapeError);
    expect(() => transposeForward(gpu, a, b, { ...ok, d3: 2 })).toThrow(
      "transpose-forward: binding 'out' (a) size, expected 192 bytes or more, got 96",
    );
    expect(() => transposeBackward(gpu, a, a, ok)).toThrow(
      /transpose-forward: binding 'out' \(written\), expected a buffer distinct from 'x', got the same buffer/,
    );
  });
});
