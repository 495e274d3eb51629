// RoPE inverse frequencies against the float32 inv_freq buffer transformers 5.18 computes
// (modeling_rope_utils._compute_llama3_parameters, printed once): Llama 3.2's rope_scaling at head_dim 64, and the
// scaled-down one of test/fixtures/families/llama3 at head_dim 16. Each value within 1e-6 relative: transformers
// blends in float32, ~3 ulps off the correctly rounded value in the blended band (kept and divided bands: exact).
import { describe, expect, it } from 'vitest';
import { ropeInverseFrequencies, type Llama3RopeScaling } from '../../src/ops/rope-frequencies.ts';

const LLAMA32: Llama3RopeScaling = { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 };
const HF_HS64 = [
  1.0, 0.663601279258728, 0.44036662578582764, 0.2922278344631195, 0.193922758102417, 0.12868738174438477,
  0.08539710193872452, 0.05666961893439293, 0.03760603070259094, 0.02495540864765644, 0.016560440883040428,
  0.010989529080688953, 0.00729266507551074, 0.00483942124992609, 0.0032114461064338684, 0.0012905480107292533,
  0.000429556705057621, 9.708286233944818e-5, 1.9461638657958247e-5, 1.291476746700937e-5, 8.570255886297673e-6,
  5.687232260243036e-6, 3.7740544485131977e-6, 2.504467147446121e-6, 1.6619674170215148e-6, 1.1028836297555245e-6,
  7.318749339901842e-7, 4.856731266045244e-7, 3.2229328894572973e-7, 2.1387423032592778e-7, 1.4192720243499934e-7,
  9.418306490260875e-8,
];
const HF_HS16 = [
  1.0, 0.06713303923606873, 0.001175188459455967, 0.00022789578360971063, 4.4194170186528936e-5,
  8.570255886297673e-6, 1.6619674170215148e-6, 3.2229328894572973e-7,
];

describe('ropeInverseFrequencies', () => {
  const cases: [string, number, Llama3RopeScaling, number[]][] = [
    ['Llama 3.2, head_dim 64 (kept, blended and divided bands)', 64, LLAMA32, HF_HS64],
    ['families/llama3, head_dim 16, original_max_position_embeddings 64', 16, { ...LLAMA32, originalMaxPositions: 64 }, HF_HS16],
  ];
  for (const [name, HS, scaling, want] of cases) {
    it(`llama3: ${name} equals transformers' inv_freq`, () => {
      const got = ropeInverseFrequencies(HS, 500000, scaling);
      expect(got.length).toBe(want.length);
      want.forEach((w, i) => expect(Math.abs(got[i] - w), `inv_freq[${i}] ${got[i]} vs ${w}`).toBeLessThanOrEqual(1e-6 * w));
    });
  }

  it('plain RoPE: theta^(-2i/HS) in float64', () => {
    expect(Array.from(ropeInverseFrequencies(4, 10000))).toEqual([1, 0.01]);
  });
});
