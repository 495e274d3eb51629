import { describe, expect, it } from 'vitest';
import { sumBackwardRef, sumForwardRef } from '../../src/reference/sum.ts';
import type { SumDims } from '../../src/ops/dims.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

const SIZES: SumDims[] = [
  { outer: 3, axis: 5, inner: 7 },
  { outer: 1, axis: 13, inner: 1, scale: 1 / 13 },
  { outer: 2, axis: 1, inner: 3, scale: -2.5 },
];

describe('sum reference backward vs finite differences', () => {
  for (const dims of SIZES) {
    it(`outer=${dims.outer} axis=${dims.axis} inner=${dims.inner} scale=${dims.scale ?? 1}`, () => {
      const { outer, axis, inner } = dims;
      const x = randomF64(outer * axis * inner, 1); // (outer, axis, inner)
      const w = randomF64(outer * inner, 2); // dL/dout
      const dx = new Float64Array(x.length);
      sumBackwardRef(dx, w, dims);
      const grad = numericalGrad((v) => {
        const out = new Float64Array(outer * inner);
        sumForwardRef(out, v, dims);
        return dot(out, w);
      }, x);
      expect(relL2(dx, grad)).toBeLessThan(1e-6);
    });
  }
});

describe('sum reference known values', () => {
  it('sums the middle axis and takes a mean with scale 1/axis', () => {
    const x = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]); // (2, 3, 2)
    const out = new Float64Array(4);
    sumForwardRef(out, x, { outer: 2, axis: 3, inner: 2 });
    expect([...out]).toEqual([9, 12, 27, 30]);
    sumForwardRef(out, x, { outer: 2, axis: 3, inner: 2, scale: 1 / 3 });
    expect([...out]).toEqual([3, 4, 9, 10]);
  });
});
