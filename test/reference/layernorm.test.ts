import { describe, expect, it } from 'vitest';
import { layernormBackwardRef, layernormForwardRef } from '../../src/reference/layernorm.ts';
import type { LayernormDims } from '../../src/ops/dims.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

const SIZES: LayernormDims[] = [
  { N: 3, C: 7, eps: 1e-5 },
  { N: 2, C: 13, eps: 0.1 },
  { N: 4, C: 1, eps: 1e-5 },
];

describe('layernorm reference backward vs finite differences', () => {
  for (const dims of SIZES) {
    it(`N=${dims.N} C=${dims.C} eps=${dims.eps}`, () => {
      const { N, C } = dims;
      const x = randomF64(N * C, 1, -2, 2); // (N, C)
      const weight = randomF64(C, 2, -1.5, 1.5); // (C)
      const bias = randomF64(C, 3); // (C)
      const w = randomF64(N * C, 4); // dL/dout
      const loss = (xv: Float64Array, wv: Float64Array, bv: Float64Array): number => {
        const out = new Float64Array(N * C);
        layernormForwardRef(out, new Float64Array(N), new Float64Array(N), xv, wv, bv, dims);
        return dot(out, w);
      };
      const [mean, rstd] = [new Float64Array(N), new Float64Array(N)];
      layernormForwardRef(new Float64Array(N * C), mean, rstd, x, weight, bias, dims);
      const [dx, dweight, dbias] = [new Float64Array(N * C), new Float64Array(C), new Float64Array(C)];
      layernormBackwardRef(dx, dweight, dbias, w, x, weight, mean, rstd, dims);

      const tol = 1e-6;
      const gx = numericalGrad((v) => loss(v, weight, bias), x);
      // With C = 1 the output is the bias whatever x is: dx is exactly 0.
      expect(C === 1 ? Math.max(...dx.map(Math.abs), ...gx.map(Math.abs)) : relL2(dx, gx)).toBeLessThan(tol);
      expect(
        relL2(
          dweight,
          numericalGrad((v) => loss(x, v, bias), weight),
        ),
      ).toBeLessThan(tol);
      expect(
        relL2(
          dbias,
          numericalGrad((v) => loss(x, weight, v), bias),
        ),
      ).toBeLessThan(tol);

      // Frozen weight and bias: dx is the same without them.
      const dxOnly = new Float64Array(N * C);
      layernormBackwardRef(dxOnly, null, null, w, x, weight, mean, rstd, dims);
      expect([...dxOnly]).toEqual([...dx]);
    });
  }
});

describe('layernorm reference known values', () => {
  it('normalizes [1, 2, 3] with the biased variance and eps inside the sqrt', () => {
    const [out, mean, rstd] = [new Float64Array(3), new Float64Array(1), new Float64Array(1)];
    const eps = 1e-5;
    layernormForwardRef(
      out,
      mean,
      rstd,
      Float64Array.from([1, 2, 3]),
      Float64Array.from([1, 2, 1]),
      Float64Array.from([0, 0, 10]),
      { N: 1, C: 3, eps },
    );
    const r = 1 / Math.sqrt(2 / 3 + eps);
    expect(mean[0]).toBe(2);
    expect(rstd[0]).toBeCloseTo(r, 14);
    expect(out[0]).toBeCloseTo(-r, 14);
    expect(out[1]).toBe(0);
    expect(out[2]).toBeCloseTo(r + 10, 14);
  });

  it('gives the bias when C = 1', () => {
    const [out, mean, rstd] = [new Float64Array(2), new Float64Array(2), new Float64Array(2)];
    layernormForwardRef(
      out,
      mean,
      rstd,
      Float64Array.from([3, -7]),
      Float64Array.from([2]),
      Float64Array.from([0.5]),
      { N: 2, C: 1, eps: 1e-5 },
    );
    expect([...out]).toEqual([0.5, 0.5]);
    expect([...mean]).toEqual([3, -7]);
  });
});
