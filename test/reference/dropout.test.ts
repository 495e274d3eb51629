import { describe, expect, it } from 'vitest';
import {
  dropoutBackwardRef,
  dropoutForwardRef,
  dropoutKeep,
  philox2x32,
} from '../../src/reference/dropout.ts';
import type { DropoutDims } from '../../src/ops/dims.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

function keptFraction(seed: number, offset: number, n: number, p: number): number {
  let kept = 0;
  for (let i = 0; i < n; i++) if (dropoutKeep(seed, offset, i, p)) kept++;
  return kept / n;
}

describe('dropout reference', () => {
  it('philox2x32-10 matches the Random123 known-answer vectors', () => {
    expect(philox2x32(0, 0, 0)).toEqual([0xff1dae59, 0x6cd10df2]);
    expect(philox2x32(0xffffffff, 0xffffffff, 0xffffffff)).toEqual([0x2c3f628b, 0xab4fd7ad]);
    expect(philox2x32(0x243f6a88, 0x85a308d3, 0x13198a2e)).toEqual([0xdd7ce038, 0xf62a4c12]);
  });

  it.each([
    { n: 1, p: 0.1 },
    { n: 13, p: 0.5 },
    { n: 97, p: 0.3 },
  ])('backward matches central differences (n=$n p=$p)', ({ n, p }) => {
    const dims: DropoutDims = { n, p, seed: 1234, offset: 99 };
    const x = randomF64(n, 1);
    const w = randomF64(n, 2);
    const out = new Float64Array(n);
    const loss = (v: Float64Array) => {
      dropoutForwardRef(out, v, dims);
      return dot(out, w);
    };
    const dx = new Float64Array(n);
    dropoutBackwardRef(dx, w, dims);
    expect(relL2(dx, numericalGrad(loss, x))).toBeLessThanOrEqual(1e-6);
  });

  it('keeps about 1 - p of 100003 elements (within 4 standard deviations)', () => {
    const n = 100_003;
    const p = 0.1;
    const sd = Math.sqrt((p * (1 - p)) / n);
    for (const [seed, offset] of [
      [0, 0],
      [42, 7],
      [0xdeadbeef, 2 ** 32 - 50_000],
    ]) {
      expect(Math.abs(keptFraction(seed, offset, n, p) - (1 - p))).toBeLessThan(4 * sd);
    }
  });

  it('the mask depends on seed and offset, and element i of offset o is element i - 1 of offset o + 1', () => {
    const n = 1000;
    const mask = (seed: number, offset: number) =>
      Array.from({ length: n }, (_, i) => dropoutKeep(seed, offset, i, 0.5));
    const base = mask(5, 100);
    expect(mask(5, 100)).toEqual(base);
    expect(mask(6, 100)).not.toEqual(base);
    expect(mask(5, 101)).not.toEqual(base);
    expect(mask(5, 101).slice(0, n - 1)).toEqual(base.slice(1));
  });

  it('p = 0 is the identity and kept values are scaled by 1 / (1 - p)', () => {
    const n = 101;
    const x = randomF64(n, 3);
    const out = new Float64Array(n);
    dropoutForwardRef(out, x, { n, p: 0, seed: 9, offset: 9 });
    expect(out).toEqual(x);
    dropoutForwardRef(out, x, { n, p: 0.25, seed: 9, offset: 9 });
    for (let i = 0; i < n; i++) expect(out[i]).toBe(dropoutKeep(9, 9, i, 0.25) ? x[i] / 0.75 : 0);
  });
});
