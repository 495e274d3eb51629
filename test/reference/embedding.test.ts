import { describe, expect, it } from 'vitest';
import { embeddingBackwardRef, embeddingForwardRef } from '../../src/reference/embedding.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

// Repeated ids (3 appears three times), an unused row (4), and V=1 / C=1 edge cases.
const CASES = [
  { N: 6, C: 3, V: 5, ids: [3, 0, 3, 1, 3, 2] },
  { N: 4, C: 1, V: 2, ids: [1, 1, 0, 1] },
  { N: 3, C: 7, V: 1, ids: [0, 0, 0] },
];

describe('embedding reference backward vs finite differences', () => {
  for (const { ids: idList, ...dims } of CASES) {
    it(`N=${dims.N} C=${dims.C} V=${dims.V}`, () => {
      const ids = Int32Array.from(idList);
      const weight = randomF64(dims.V * dims.C, 1); // (V, C)
      const w = randomF64(dims.N * dims.C, 2); // dL/dout
      const dweight = new Float64Array(weight.length).fill(NaN); // must be overwritten
      embeddingBackwardRef(dweight, w, ids, dims);
      const grad = numericalGrad((v) => {
        const out = new Float64Array(dims.N * dims.C);
        embeddingForwardRef(out, ids, v, dims);
        return dot(out, w);
      }, weight);
      expect(relL2(dweight, grad)).toBeLessThan(1e-6);
    });
  }
});

describe('embedding reference known values', () => {
  it('copies rows forward and scatter-adds rows backward; rows never hit are zero', () => {
    const dims = { N: 3, C: 2, V: 3 };
    const ids = Int32Array.from([2, 0, 2]);
    const out = new Float64Array(6);
    embeddingForwardRef(out, ids, Float64Array.from([1, 2, 3, 4, 5, 6]), dims);
    expect([...out]).toEqual([5, 6, 1, 2, 5, 6]);
    const dweight = new Float64Array(6).fill(NaN);
    embeddingBackwardRef(dweight, Float64Array.from([1, 2, 3, 4, 5, 6]), ids, dims);
    expect([...dweight]).toEqual([3, 4, 0, 0, 6, 8]);
  });
});
