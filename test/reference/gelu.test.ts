import { describe, expect, it } from 'vitest';
import { geluBackwardRef, geluForwardRef } from '../../src/reference/gelu.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

describe('gelu reference backward vs finite differences', () => {
  for (const [n, spread] of [
    [7, 3],
    [31, 6],
  ] as const) {
    it(`n=${n} x∈±${spread}`, () => {
      const x = randomF64(n, 1, -spread, spread);
      const w = randomF64(n, 2); // dL/dout
      const dx = new Float64Array(n);
      geluBackwardRef(dx, w, x, { n });
      const grad = numericalGrad((v) => {
        const out = new Float64Array(n);
        geluForwardRef(out, v, { n });
        return dot(out, w);
      }, x);
      expect(relL2(dx, grad)).toBeLessThan(1e-6);
    });
  }
});

describe('gelu reference known values', () => {
  it('is 0 at 0 with slope ½, the identity far right and 0 far left', () => {
    const x = Float64Array.from([0, 20, -20, 1]);
    const out = new Float64Array(4);
    geluForwardRef(out, x, { n: 4 });
    expect(out[0]).toBe(0);
    expect(out[1]).toBe(20);
    expect(Math.abs(out[2])).toBe(0);
    // 0.5·(1 + tanh(√(2/π)·1.044715)), GPT-2's tanh form (erf GELU gives 0.8413447).
    expect(out[3]).toBeCloseTo(0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * 1.044715)), 15);
    expect(out[3]).toBeCloseTo(0.841192, 6);
    const dx = new Float64Array(4);
    geluBackwardRef(dx, new Float64Array(4).fill(1), x, { n: 4 });
    expect(dx[0]).toBe(0.5);
    expect(dx[1]).toBe(1);
    expect(Math.abs(dx[2])).toBe(0);
  });
});
