import { describe, expect, it } from 'vitest';
import { transposeBackwardRef, transposeForwardRef } from '../../src/reference/transpose.ts';
import type { TransposeDims } from '../../src/ops/dims.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

describe('transpose reference', () => {
  it.each<TransposeDims>([
    { d0: 1, d1: 1, d2: 1, d3: 1 },
    { d0: 2, d1: 3, d2: 5, d3: 1 },
    { d0: 1, d1: 7, d2: 2, d3: 3 },
  ])('backward matches central differences (%o)', (dims) => {
    const n = dims.d0 * dims.d1 * dims.d2 * dims.d3;
    const x = randomF64(n, 1);
    const w = randomF64(n, 2);
    const out = new Float64Array(n);
    const loss = (v: Float64Array) => {
      transposeForwardRef(out, v, dims);
      return dot(out, w);
    };
    const dx = new Float64Array(n);
    transposeBackwardRef(dx, w, dims);
    expect(relL2(dx, numericalGrad(loss, x))).toBeLessThanOrEqual(1e-6);
  });

  it('swaps axes 1 and 2 (known values)', () => {
    // x (1, 2, 3, 2): x[0, i, j, k] = 100i + 10j + k
    const x = Float64Array.from([0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121]);
    const out = new Float64Array(12);
    transposeForwardRef(out, x, { d0: 1, d1: 2, d2: 3, d3: 2 });
    expect(Array.from(out)).toEqual([0, 1, 100, 101, 10, 11, 110, 111, 20, 21, 120, 121]);
  });

  it('backward undoes forward', () => {
    const dims = { d0: 3, d1: 5, d2: 7, d3: 2 };
    const x = randomF64(210, 4);
    const out = new Float64Array(210);
    const back = new Float64Array(210);
    transposeForwardRef(out, x, dims);
    transposeBackwardRef(back, out, dims);
    expect(back).toEqual(x);
  });
});
