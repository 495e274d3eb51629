import { describe, expect, it } from 'vitest';
import { causalAttentionBackwardRef, causalAttentionForwardRef } from '../../src/reference/causal-attention.ts';
import type { CausalAttentionDims } from '../../src/ops/dims.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

// Dropout masks are a fixed function of (seed, offset), so the loss stays differentiable in q, k, v.
const SIZES: CausalAttentionDims[] = [
  { B: 1, NQ: 2, NKV: 2, T: 4, HS: 3, scale: 0.6, p: 0, seed: 7, offset: 0 },
  { B: 2, NQ: 4, NKV: 2, T: 5, HS: 3, scale: 0.5, p: 0.3, seed: 11, offset: 2 ** 32 - 20 },
  { B: 1, NQ: 3, NKV: 1, T: 1, HS: 2, scale: 1, p: 0.2, seed: 3, offset: 5 },
];

describe('causal attention reference backward vs finite differences', () => {
  for (const dims of SIZES) {
    it(`B=${dims.B} NQ=${dims.NQ} NKV=${dims.NKV} T=${dims.T} HS=${dims.HS} p=${dims.p}`, () => {
      const { B, NQ, NKV, T, HS } = dims;
      const [nq, nkv] = [B * NQ * T * HS, B * NKV * T * HS];
      const x = { q: randomF64(nq, 1, -2, 2), k: randomF64(nkv, 2, -2, 2), v: randomF64(nkv, 3) };
      const w = randomF64(nq, 4); // dL/dout
      const loss = () => {
        const out = new Float64Array(nq);
        causalAttentionForwardRef(out, new Float64Array(B * NQ * T), x.q, x.k, x.v, dims);
        return dot(out, w);
      };
      const got = { q: new Float64Array(nq), k: new Float64Array(nkv), v: new Float64Array(nkv) };
      causalAttentionBackwardRef(got.q, got.k, got.v, w, x.q, x.k, x.v, dims);
      for (const name of ['q', 'k', 'v'] as const) {
        expect(relL2(got[name], numericalGrad(loss, x[name])), `d loss / d ${name}`).toBeLessThan(1e-7);
      }
    });
  }

  it('lse is log Σ exp of the scaled scores, and dropout zeroes some keys at p = 0.5', () => {
    const dims: CausalAttentionDims = { B: 1, NQ: 1, NKV: 1, T: 2, HS: 1, scale: 2, p: 0, seed: 1, offset: 0 };
    const [out, lse] = [new Float64Array(2), new Float64Array(2)];
    causalAttentionForwardRef(out, lse, Float64Array.of(1, 1), Float64Array.of(0.5, -1), Float64Array.of(3, 5), dims);
    expect(lse[1]).toBeCloseTo(Math.log(Math.exp(1) + Math.exp(-2)), 12);
    expect(out[0]).toBe(3);
    const dropped = new Float64Array(64);
    const many: CausalAttentionDims = { ...dims, B: 32, T: 2, p: 0.5 };
    causalAttentionForwardRef(dropped, new Float64Array(64), new Float64Array(64).fill(1), new Float64Array(64).fill(1), new Float64Array(64).fill(1), many);
    const rowZero = [...dropped].filter((_, i) => i % 2 === 0).filter((y) => y === 0).length; // T = 0 rows: one key
    expect(rowZero).toBeGreaterThan(4);
    expect(rowZero).toBeLessThan(28);
  });
});
