import { describe, expect, it } from 'vitest';
import { sliceChecks } from '../../src/check/slice.ts';
import { ShapeError } from '../../src/util/errors.ts';
import { sliceBackward, sliceForward } from '../../src/kernels/slice.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

// At file level, so the device outlives every describe block.
const gpuPromise = testGpu();

describe('slice kernels vs reference', () => {
  runChecks(sliceChecks);
});

describe('slice kernels', () => {
  it('three backward slices (q, k, v) fill one dx, each leaving the other columns untouched', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('slice qkv');
    const [rows, C] = [37, 13];
    const x = Float32Array.from({ length: rows * 3 * C }, (_, i) => i + 0.5); // (rows, 3C)
    const input = gpu.upload('x', x);
    const dx = gpu.upload('dx', new Float32Array(rows * 3 * C).fill(-1)); // poisoned with a known value
    for (let s = 0; s < 3; s++) {
      const dims = { rows, cols: 3 * C, start: s * C, width: C };
      const part = gpu.alloc(`part ${s}`, rows * C * 4); // (rows, C)
      sliceForward(gpu, part, input, dims);
      sliceBackward(gpu, dx, part, dims);
      const got = await gpu.read(dx, 'f32');
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < 3 * C; c++) {
          const want = c < (s + 1) * C ? x[r * 3 * C + c] : -1;
          if (got[r * 3 * C + c] !== want) {
            throw new Error(`after slice ${s}, dx[${r}, ${c}]: got ${got[r * 3 * C + c]}, want ${want}`);
          }
        }
      }
    }
  });

  it('covers more than 65535 workgroups of 256 elements (grid-stride loop), exactly', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('slice large');
    const [rows, cols, start, width] = [65_537, 258, 1, 256]; // 16,777,472 outputs > 65535 · 256
    const x = new Float32Array(rows * cols);
    for (let i = 0; i < x.length; i++) x[i] = i % 1_000_003;
    const out = gpu.alloc('out', rows * width * 4);
    const dx = gpu.upload('dx', new Float32Array(rows * cols).fill(-1));
    sliceForward(gpu, out, gpu.upload('x', x), { rows, cols, start, width });
    sliceBackward(gpu, dx, out, { rows, cols, start, width });
    const got = await gpu.read(out, 'f32');
    const back = await gpu.read(dx, 'f32');
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const inSlice = c >= start && c < start + width;
        const v = x[r * cols + c];
        if (inSlice && got[r * width + c - start] !== v) {
          throw new Error(`out[${r}, ${c - start}]: got ${got[r * width + c - start]}, want ${v}`);
        }
        if (back[r * cols + c] !== (inSlice ? v : -1)) {
          throw new Error(`dx[${r}, ${c}]: got ${back[r * cols + c]}`);
        }
      }
    }
  });

  it('rejects column ranges outside the matrix, bad dims, short buffers and aliasing', async () => {
    const gpu = await gpuPromise;
    using _scope = gpu.scope('slice errors');
    const a = gpu.alloc('a', 40 * 4);
    const b = gpu.alloc('b', 40 * 4);
    const ok = { rows: 4, cols: 10, start: 2, width: 5 };
    expect(() => sliceForward(gpu, a, b, { ...ok, start: 6 })).toThrow(
      'sliceForward: columns [start, start + width), expected within [0, 10), got [6, 11)',
    );
    expect(() => sliceBackward(gpu, a, b, { ...ok, start: -1 })).toThrow(ShapeError);
    expect(() => sliceForward(gpu, a, b, { ...ok, width: 0 })).toThrow(ShapeError);
    expect(() => sliceForward(gpu, a, b, { ...ok, rows: 0 })).toThrow(ShapeError);
    expect(() => sliceForward(gpu, a, b, { ...ok, rows: 5 })).toThrow(
      "slice-forward: binding 'x' (b) size, expected 200 bytes or more",
    );
    expect(() => sliceBackward(gpu, a, a, ok)).toThrow(ShapeError);
  });
});
