import { describe, expect, it } from 'vitest';
import { ropeBackwardRef, ropeForwardRef } from '../../src/reference/rope.ts';
import type { RopeDims } from '../../src/ops/dims.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

const SIZES: RopeDims[] = [
  { B: 2, NH: 3, T: 5, HS: 8, theta: 10_000, positionOffset: 0 },
  { B: 1, NH: 2, T: 7, HS: 6, theta: 500_000, positionOffset: 13 },
  { B: 1, NH: 1, T: 3, HS: 2, theta: 10_000, positionOffset: 4093 },
];

const sizeOf = ({ B, NH, T, HS }: RopeDims) => B * NH * T * HS;

describe('rope reference backward vs finite differences', () => {
  for (const dims of SIZES) {
    it(`B=${dims.B} NH=${dims.NH} T=${dims.T} HS=${dims.HS} theta=${dims.theta} offset=${dims.positionOffset}`, () => {
      const n = sizeOf(dims);
      const x = randomF64(n, 1, -2, 2); // (B, NH, T, HS)
      const w = randomF64(n, 2); // dL/dout
      const dx = new Float64Array(n);
      ropeBackwardRef(dx, w, dims);
      const grad = numericalGrad((v) => {
        const out = new Float64Array(n);
        ropeForwardRef(out, v, dims);
        return dot(out, w);
      }, x);
      expect(relL2(dx, grad)).toBeLessThan(1e-6);
    });
  }
});

describe('rope reference known values', () => {
  it('is the identity at position 0 and rotates pair (0, HS/2) by pos radians (inv_freq[0] = 1)', () => {
    const dims = { B: 1, NH: 1, T: 3, HS: 4, theta: 10_000, positionOffset: 0 };
    // Rows t = 0, 1, 2 of (1, 1, 3, 4), each x = (1, 1, 0, 0): pairs (0, 2) and (1, 3) start at angle 0.
    const x = Float64Array.from([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
    const out = new Float64Array(12);
    ropeForwardRef(out, x, dims);
    expect([...out.subarray(0, 4)]).toEqual([1, 1, 0, 0]);
    // Row t = 2: pair 0 turns by 2 rad, pair 1 by 2·10000^(−1/2) = 0.02 rad.
    const [a0, a1] = [2, 0.02];
    const want = [Math.cos(a0), Math.cos(a1), Math.sin(a0), Math.sin(a1)];
    out.subarray(8).forEach((v, i) => expect(v).toBeCloseTo(want[i], 15));
  });

  it("matches Hugging Face's x·cos + rotate_half(x)·sin with cos/sin repeated over both halves", () => {
    const dims = { B: 2, NH: 1, T: 4, HS: 6, theta: 10_000, positionOffset: 5 };
    const { T, HS } = dims;
    const x = randomF64(sizeOf(dims), 7);
    const out = new Float64Array(x.length);
    ropeForwardRef(out, x, dims);
    const half = HS / 2;
    for (let row = 0; row < 2 * T; row++) {
      const pos = (row % T) + dims.positionOffset;
      for (let d = 0; d < HS; d++) {
        const angle = pos / 10_000 ** ((2 * (d % half)) / HS); // emb = cat(freqs, freqs)
        const rotated = d < half ? -x[row * HS + d + half] : x[row * HS + d - half]; // cat(−x2, x1)
        const want = x[row * HS + d] * Math.cos(angle) + rotated * Math.sin(angle);
        expect(out[row * HS + d]).toBeCloseTo(want, 14);
      }
    }
  });

  it('backward undoes forward (the inverse rotation) and keeps each pair’s norm', () => {
    const dims = { B: 1, NH: 2, T: 5, HS: 8, theta: 10_000, positionOffset: 3 };
    const x = randomF64(sizeOf(dims), 3);
    const [out, back] = [new Float64Array(x.length), new Float64Array(x.length)];
    ropeForwardRef(out, x, dims);
    ropeBackwardRef(back, out, dims);
    expect(relL2(back, x)).toBeLessThan(1e-15);
    expect(dot(out, out)).toBeCloseTo(dot(x, x), 12);
  });
});
