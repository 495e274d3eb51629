import { describe, expect, it } from 'vitest';
import { sliceBackwardRef, sliceForwardRef } from '../../src/reference/slice.ts';
import type { SliceDims } from '../../src/ops/dims.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

describe('slice reference', () => {
  it.each<SliceDims>([
    { rows: 1, cols: 1, start: 0, width: 1 },
    { rows: 3, cols: 7, start: 2, width: 3 },
    { rows: 5, cols: 11, start: 10, width: 1 },
  ])('backward matches central differences (%o)', (dims) => {
    const { rows, cols, width } = dims;
    const x = randomF64(rows * cols, 1);
    const w = randomF64(rows * width, 2);
    const out = new Float64Array(rows * width);
    const loss = (v: Float64Array) => {
      sliceForwardRef(out, v, dims);
      return dot(out, w);
    };
    const dx = new Float64Array(rows * cols); // zeroed, as the autograd does before the backward
    sliceBackwardRef(dx, w, dims);
    expect(relL2(dx, numericalGrad(loss, x))).toBeLessThanOrEqual(1e-6);
  });

  it('takes the named columns (known values)', () => {
    const x = Float64Array.from([0, 1, 2, 3, 10, 11, 12, 13]); // (2, 4)
    const out = new Float64Array(4);
    sliceForwardRef(out, x, { rows: 2, cols: 4, start: 1, width: 2 });
    expect(Array.from(out)).toEqual([1, 2, 11, 12]);
  });

  it('three backward slices (q, k, v) rebuild one dx, each leaving the other columns alone', () => {
    const rows = 3;
    const C = 5;
    const x = randomF64(rows * 3 * C, 3); // (rows, 3C)
    const dx = new Float64Array(rows * 3 * C).fill(NaN);
    for (let s = 0; s < 3; s++) {
      const dims = { rows, cols: 3 * C, start: s * C, width: C };
      const part = new Float64Array(rows * C);
      sliceForwardRef(part, x, dims);
      sliceBackwardRef(dx, part, dims);
      const filled = Array.from(dx).filter((v) => !Number.isNaN(v)).length;
      expect(filled).toBe(rows * C * (s + 1));
    }
    expect(dx).toEqual(x);
  });
});
