import { describe, expect, it } from 'vitest';
import { rmsnormBackwardRef, rmsnormForwardRef } from '../../src/reference/rmsnorm.ts';
import type { RmsnormDims } from '../../src/ops/dims.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

const SIZES: RmsnormDims[] = [
  { N: 3, C: 7, eps: 1e-5 },
  { N: 2, C: 13, eps: 0.1 },
  { N: 4, C: 1, eps: 0.01 },
  { N: 5, C: 64, eps: 1e-6 },
];

describe('rmsnorm reference backward vs finite differences', () => {
  for (const dims of SIZES) {
    it(`N=${dims.N} C=${dims.C} eps=${dims.eps}`, () => {
      const { N, C } = dims;
      const x = randomF64(N * C, 1, -2, 2); // (N, C)
      const weight = randomF64(C, 2, -1.5, 1.5); // (C)
      const w = randomF64(N * C, 4); // dL/dout
      const loss = (xv: Float64Array, wv: Float64Array): number => {
        const out = new Float64Array(N * C);
        rmsnormForwardRef(out, new Float64Array(N), xv, wv, dims);
        return dot(out, w);
      };
      const rstd = new Float64Array(N);
      rmsnormForwardRef(new Float64Array(N * C), rstd, x, weight, dims);
      const [dx, dweight] = [new Float64Array(N * C), new Float64Array(C)];
      rmsnormBackwardRef(dx, dweight, w, x, weight, rstd, dims);

      const gx = numericalGrad((v) => loss(v, weight), x);
      expect(relL2(dx, gx)).toBeLessThan(1e-6);
      const gw = numericalGrad((v) => loss(x, v), weight);
      expect(relL2(dweight, gw)).toBeLessThan(1e-6);

      // Frozen weight: dx is the same without dweight.
      const dxOnly = new Float64Array(N * C);
      rmsnormBackwardRef(dxOnly, null, w, x, weight, rstd, dims);
      expect([...dxOnly]).toEqual([...dx]);
    });
  }
});

describe('rmsnorm reference known values', () => {
  it('divides by the root mean square with eps inside the sqrt, no mean subtracted', () => {
    const [out, rstd] = [new Float64Array(2), new Float64Array(1)];
    const eps = 1e-5;
    rmsnormForwardRef(out, rstd, Float64Array.from([3, 4]), Float64Array.from([1, -2]), { N: 1, C: 2, eps });
    const r = 1 / Math.sqrt(12.5 + eps);
    expect(rstd[0]).toBeCloseTo(r, 15);
    expect(out[0]).toBeCloseTo(3 * r, 15);
    expect(out[1]).toBeCloseTo(-8 * r, 15);
  });

  it('is scale-invariant in x when eps = 0', () => {
    const x = randomF64(6, 9); // (2, 3)
    const weight = randomF64(3, 10);
    const [a, b] = [new Float64Array(6), new Float64Array(6)];
    rmsnormForwardRef(a, new Float64Array(2), x, weight, { N: 2, C: 3, eps: 0 });
    const scaled = x.map((v) => 7 * v);
    rmsnormForwardRef(b, new Float64Array(2), scaled, weight, { N: 2, C: 3, eps: 0 });
    expect(relL2(b, a)).toBeLessThan(1e-15);
  });
});
