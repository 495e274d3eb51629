import { describe, expect, it } from 'vitest';
import { ADAMW_KNOWN_ANSWER } from '../../src/check/adamw.ts';
import type { AdamwDims } from '../../src/ops/dims.ts';
import { adamwUpdateRef } from '../../src/reference/adamw.ts';

function expectRel(got: Float64Array, want: number[], rel: number): void {
  for (let i = 0; i < want.length; i++) {
    const message = `[${i}] got ${got[i]} want ${want[i]}`;
    expect(Math.abs(got[i] - want[i]), message).toBeLessThanOrEqual(rel * Math.abs(want[i]));
  }
}

describe('adamw reference', () => {
  it('two steps on known gradients match the PyTorch AdamW formula worked by hand (≤ 1e-12 rel)', () => {
    const { hyper, grads, expected } = ADAMW_KNOWN_ANSWER;
    const param = Float64Array.from(ADAMW_KNOWN_ANSWER.param);
    const m = new Float64Array(3);
    const v = new Float64Array(3);
    for (let t = 0; t < 2; t++) {
      adamwUpdateRef(param, m, v, Float64Array.from(grads[t]), null, { ...hyper, step: t + 1 });
      expectRel(param, expected[t].param, 1e-12);
      expectRel(m, expected[t].m, 1e-12);
      expectRel(v, expected[t].v, 1e-12);
    }
  });

  it('step 1 of element 0 in closed form: 0.999 − 0.001 / 0.10000001', () => {
    const param = Float64Array.of(1);
    adamwUpdateRef(param, new Float64Array(1), new Float64Array(1), Float64Array.of(0.1), null, {
      ...ADAMW_KNOWN_ANSWER.hyper,
      n: 1,
      step: 1,
    });
    expect(param[0]).toBeCloseTo(0.999 - 0.001 / 0.10000001, 15);
  });

  it('a clip scale s multiplies the gradient: the same as passing s·g', () => {
    const dims: Omit<AdamwDims, 'slot'> = { ...ADAMW_KNOWN_ANSWER.hyper, step: 3 };
    const state = () => [
      Float64Array.of(0.3, -0.1, 2),
      Float64Array.of(0.01, 0, -0.2),
      Float64Array.of(0.1, 0.2, 0.3),
    ];
    const [pa, ma, va] = state();
    const [pb, mb, vb] = state();
    adamwUpdateRef(pa, ma, va, Float64Array.of(1, -2, 3), Float64Array.of(0.25), dims);
    adamwUpdateRef(pb, mb, vb, Float64Array.of(0.25, -0.5, 0.75), null, dims);
    expect([...pa, ...ma, ...va]).toEqual([...pb, ...mb, ...vb]);
  });

  it('a zero gradient at step 1 only decays the parameter', () => {
    const param = Float64Array.of(2, -4);
    const dims = { ...ADAMW_KNOWN_ANSWER.hyper, n: 2, step: 1 };
    adamwUpdateRef(param, new Float64Array(2), new Float64Array(2), new Float64Array(2), null, dims);
    expect([...param]).toEqual([2 - 0.01 * 0.1 * 2, -4 + 0.01 * 0.1 * 4]);
  });
});
