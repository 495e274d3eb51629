// The comparison every kernel check rests on: relL2 against the reference, or against Σ|terms| where terms cancel.
import { describe, expect, it } from 'vitest';
import { compare, describeComparison } from '../../src/check/compare.ts';
import { checkOutput } from '../../src/check/kernel-check.ts';

describe('compare', () => {
  it('relL2 is ‖got − want‖ / ‖want‖, with the worst element named', () => {
    const c = compare([1, 2.5, 3], [1, 2, 3]);
    expect(c.relL2).toBeCloseTo(0.5 / Math.sqrt(14), 12);
    expect([c.worstIndex, c.got, c.want, c.maxAbsError]).toEqual([1, 2.5, 2, 0.5]);
    expect(c.scaled).toBe(false);
  });

  it('with a scale, relL2 is taken against ‖scale‖: a cancelled sum with a tiny absolute error passes', () => {
    // A sum of terms of size ~1 that cancels to 1.2e-10, off by one f32 ulp of the terms.
    const want = [1.2e-10];
    const got = [1.2e-10 + 2 ** -23];
    expect(compare(got, want).relL2).toBeGreaterThan(100);
    const c = compare(got, want, [2]);
    expect(c.relL2).toBeCloseTo(2 ** -24, 15);
    expect(c.scaled).toBe(true);
    expect(describeComparison(c)).toContain('(vs Σ|terms|)');
    expect(checkOutput('db', got, want, 1e-5, [2]).pass).toBe(true);
    expect(checkOutput('db', got, want, 1e-5).pass).toBe(false);
  });

  it('a scale still fails a real error and a NaN', () => {
    expect(checkOutput('db', [0.01], [0], 1e-5, [1]).pass).toBe(false);
    expect(checkOutput('db', [NaN], [0], 1e-5, [1]).pass).toBe(false);
  });

  it('lengths must agree', () => {
    expect(() => compare([1, 2], [1])).toThrow('compare: length, expected 1, got 2');
    expect(() => compare([1], [1], [1, 2])).toThrow('compare: scale length, expected 1, got 2');
  });
});
