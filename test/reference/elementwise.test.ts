import { describe, expect, it } from 'vitest';
import {
  accumulateRef,
  addBackwardRef,
  addForwardRef,
  mulBackwardRef,
  mulForwardRef,
  scaleBackwardRef,
  scaleForwardRef,
} from '../../src/reference/elementwise.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

// (n, bn): no broadcast, a prime row count, a single broadcast element.
const SIZES: [number, number][] = [
  [7, 7],
  [5 * 3, 3],
  [11, 1],
];

describe('elementwise reference backward vs finite differences', () => {
  for (const [n, bn] of SIZES) {
    const dims = { n, bn };
    const a = randomF64(n, 1);
    const b = randomF64(bn, 2);
    const w = randomF64(n, 3); // L = Σ out ⊙ w, so dL/dout = w

    it(`add n=${n} bn=${bn}`, () => {
      const loss = (x: Float64Array, y: Float64Array) => {
        const out = new Float64Array(n);
        addForwardRef(out, x, y, dims);
        return dot(out, w);
      };
      const da = new Float64Array(n);
      const db = new Float64Array(bn);
      addBackwardRef(da, db, w, dims);
      expect(
        relL2(
          da,
          numericalGrad((x) => loss(x, b), a),
        ),
      ).toBeLessThan(1e-6);
      expect(
        relL2(
          db,
          numericalGrad((y) => loss(a, y), b),
        ),
      ).toBeLessThan(1e-6);
    });

    it(`mul n=${n} bn=${bn}`, () => {
      const loss = (x: Float64Array, y: Float64Array) => {
        const out = new Float64Array(n);
        mulForwardRef(out, x, y, dims);
        return dot(out, w);
      };
      const da = new Float64Array(n);
      const db = new Float64Array(bn);
      mulBackwardRef(da, db, w, a, b, dims);
      expect(
        relL2(
          da,
          numericalGrad((x) => loss(x, b), a),
        ),
      ).toBeLessThan(1e-6);
      expect(
        relL2(
          db,
          numericalGrad((y) => loss(a, y), b),
        ),
      ).toBeLessThan(1e-6);
    });
  }

  it('scale n=13', () => {
    const dims = { n: 13, alpha: -0.75 };
    const a = randomF64(13, 4);
    const w = randomF64(13, 5);
    const da = new Float64Array(13);
    scaleBackwardRef(da, w, dims);
    const grad = numericalGrad((x) => {
      const out = new Float64Array(13);
      scaleForwardRef(out, x, dims);
      return dot(out, w);
    }, a);
    expect(relL2(da, grad)).toBeLessThan(1e-6);
  });
});

describe('elementwise reference known values', () => {
  it('broadcast forward and row-summed gradients', () => {
    const dims = { n: 6, bn: 3 };
    const a = Float64Array.from([1, 2, 3, 4, 5, 6]);
    const b = Float64Array.from([10, 20, 30]);
    const out = new Float64Array(6);
    addForwardRef(out, a, b, dims);
    expect([...out]).toEqual([11, 22, 33, 14, 25, 36]);
    mulForwardRef(out, a, b, dims);
    expect([...out]).toEqual([10, 40, 90, 40, 100, 180]);
    const db = new Float64Array(3);
    mulBackwardRef(null, db, Float64Array.from([1, 1, 1, 2, 2, 2]), a, b, dims);
    expect([...db]).toEqual([1 + 8, 2 + 10, 3 + 12]);
    addBackwardRef(null, db, a, dims);
    expect([...db]).toEqual([5, 7, 9]);
  });

  it('accumulate adds in place', () => {
    const acc = Float64Array.from([1, 2, 3]);
    accumulateRef(acc, Float64Array.from([0.5, -2, 10]), { n: 3 });
    expect([...acc]).toEqual([1.5, 0, 13]);
  });
});
