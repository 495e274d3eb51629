import { describe, expect, it } from 'vitest';
import { elementwiseChecks } from '../../src/check/elementwise.ts';
import { ShapeError } from '../../src/util/errors.ts';
import {
  accumulate,
  addBackward,
  addForward,
  mulBackward,
  scaleForward,
} from '../../src/kernels/elementwise.ts';
import { runChecks, testGpu } from '../helpers/gpu.ts';

const gpuPromise = testGpu();

describe('elementwise kernels vs reference', () => {
  runChecks(elementwiseChecks);
});

describe('elementwise kernels', () => {
  it('accumulate covers n past the 65535-workgroup grid (grid-stride loop)', async () => {
    const gpu = await gpuPromise;
    const n = 65535 * 256 + 1000; // one dispatch covers 65535·256 elements, the loop does the rest
    const acc = gpu.upload('acc', new Float32Array(n).fill(1));
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = i % 1024;
    accumulate(gpu, acc, gpu.upload('x', x), { n });
    const got = await gpu.read(acc, 'f32', n);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (got[i] !== 1 + (i % 1024)) wrong++;
    expect(wrong).toBe(0);
  });

  it('null gradients are skipped', async () => {
    const gpu = await gpuPromise;
    const dout = gpu.upload('dout', new Float32Array([1, 2, 3, 4, 5, 6]));
    const db = gpu.alloc('db', 3 * 4);
    addBackward(gpu, null, db, dout, { n: 6, bn: 3 });
    expect([...(await gpu.read(db, 'f32', 3))]).toEqual([5, 7, 9]);
    const da = gpu.alloc('da', 6 * 4);
    const a = gpu.upload('a', new Float32Array(6).fill(2));
    const b = gpu.upload('b', new Float32Array([1, 10, 100]));
    mulBackward(gpu, da, null, dout, a, b, { n: 6, bn: 3 });
    expect([...(await gpu.read(da, 'f32', 6))]).toEqual([1, 20, 300, 4, 50, 600]);
  });

  it('bad dims and aliased buffers throw ShapeError at the call', async () => {
    const gpu = await gpuPromise;
    const a = gpu.alloc('a', 12 * 4);
    const b = gpu.alloc('b', 5 * 4);
    const out = gpu.alloc('out', 12 * 4);
    expect(() => addForward(gpu, out, a, b, { n: 12, bn: 5 })).toThrow(
      /addForward: dims.bn, expected a divisor/,
    );
    expect(() => addForward(gpu, out, a, b, { n: 0, bn: 1 })).toThrow(ShapeError);
    expect(() => addForward(gpu, out, a, b, { n: 13, bn: 1 })).toThrow(
      "add-forward: binding 'out' (out) size, expected 52 bytes or more, got 48",
    );
    expect(() => addForward(gpu, a, a, b, { n: 12, bn: 4 })).toThrow(
      "add-forward: binding 'out' (written), expected a buffer distinct from 'a', got the same buffer",
    );
    expect(() => scaleForward(gpu, out, a, { n: 12, alpha: NaN })).toThrow(
      /dims.alpha, expected a finite number/,
    );
    expect(() => mulBackward(gpu, out, out, a, a, b, { n: 12, bn: 4 })).toThrow(
      /da, expected a buffer distinct from db/,
    );
    expect(() => accumulate(gpu, a, a, { n: 12 })).toThrow(ShapeError);
  });
});
