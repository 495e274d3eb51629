import { describe, expect, it } from 'vitest';
import { swigluBackwardRef, swigluForwardRef } from '../../src/reference/swiglu.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

describe('swiglu reference backward vs finite differences', () => {
  for (const [n, spread] of [
    [7, 3],
    [31, 8],
  ] as const) {
    it(`n=${n} gate∈±${spread}`, () => {
      const gate = randomF64(n, 1, -spread, spread);
      const up = randomF64(n, 2, -2, 2);
      const w = randomF64(n, 3); // dL/dout
      const loss = (g: Float64Array, u: Float64Array): number => {
        const out = new Float64Array(n);
        swigluForwardRef(out, g, u, { n });
        return dot(out, w);
      };
      const [dgate, dup] = [new Float64Array(n), new Float64Array(n)];
      swigluBackwardRef(dgate, dup, w, gate, up, { n });
      const gg = numericalGrad((v) => loss(v, up), gate);
      expect(relL2(dgate, gg)).toBeLessThan(1e-6);
      const gu = numericalGrad((v) => loss(gate, v), up);
      expect(relL2(dup, gu)).toBeLessThan(1e-6);

      // Either gradient alone is the same as with both.
      const [dgateOnly, dupOnly] = [new Float64Array(n), new Float64Array(n)];
      swigluBackwardRef(dgateOnly, null, w, gate, up, { n });
      swigluBackwardRef(null, dupOnly, w, gate, up, { n });
      expect([...dgateOnly]).toEqual([...dgate]);
      expect([...dupOnly]).toEqual([...dup]);
    });
  }
});

describe('swiglu reference known values', () => {
  it('is silu(gate)·up: 0 at gate 0, g·up far right, 0 far left, silu(1) = σ(1)', () => {
    const gate = Float64Array.from([0, 40, -40, 1]);
    const up = Float64Array.from([5, 2, 3, 1]);
    const out = new Float64Array(4);
    swigluForwardRef(out, gate, up, { n: 4 });
    expect(out[0]).toBe(0);
    expect(out[1]).toBeCloseTo(80, 12);
    expect(Math.abs(out[2])).toBeLessThan(1e-15);
    expect(out[3]).toBeCloseTo(0.7310585786300049, 15);
    const [dgate, dup] = [new Float64Array(4), new Float64Array(4)];
    swigluBackwardRef(dgate, dup, new Float64Array(4).fill(1), gate, up, { n: 4 });
    expect(dgate[0]).toBe(2.5); // silu'(0) = ½
    expect(dup[0]).toBe(0);
  });
});
