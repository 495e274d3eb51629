import { describe, expect, it } from 'vitest';
import { softmaxBackwardRef, softmaxForwardRef } from '../../src/reference/softmax.ts';
import type { SoftmaxDims } from '../../src/ops/dims.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

const SIZES: SoftmaxDims[] = [
  { rows: 3, cols: 7 },
  { rows: 2, cols: 13, scale: 0.3 },
  { rows: 2 * 5, cols: 5, scale: -1.7, causal: true },
  { rows: 4, cols: 1 },
];

function label(d: SoftmaxDims): string {
  return `rows=${d.rows} cols=${d.cols} scale=${d.scale ?? 1}${d.causal ? ' causal' : ''}`;
}

describe('softmax reference backward vs finite differences', () => {
  for (const dims of SIZES) {
    it(label(dims), () => {
      const n = dims.rows * dims.cols;
      const x = randomF64(n, 1, -3, 3); // (rows, cols)
      const w = randomF64(n, 2); // dL/dout
      const out = new Float64Array(n);
      softmaxForwardRef(out, x, dims);
      const dx = new Float64Array(n);
      softmaxBackwardRef(dx, w, out, dims);
      const grad = numericalGrad((v) => {
        const y = new Float64Array(n);
        softmaxForwardRef(y, v, dims);
        return dot(y, w);
      }, x);
      expect(relL2(dx, grad)).toBeLessThan(1e-6);
    });
  }
});

describe('softmax reference known values', () => {
  it('gives 1/cols on a constant row and ignores a shift', () => {
    const out = new Float64Array(8);
    softmaxForwardRef(out, Float64Array.from([5, 5, 5, 5, 1001, 1002, 1003, 1004]), { rows: 2, cols: 4 });
    for (let j = 0; j < 4; j++) expect(out[j]).toBe(0.25);
    const e = [1, Math.E, Math.E ** 2, Math.E ** 3];
    const s = e.reduce((a, b) => a + b);
    for (let j = 0; j < 4; j++) expect(out[4 + j]).toBeCloseTo(e[j] / s, 15);
  });

  it('masks columns after the query position r % cols, with exact zeros', () => {
    const x = randomF64(2 * 3 * 3, 7); // (2, 3, 3): batch 2, T = 3
    const out = new Float64Array(x.length);
    softmaxForwardRef(out, x, { rows: 6, cols: 3, causal: true });
    for (let r = 0; r < 6; r++) {
      let sum = 0;
      for (let j = 0; j < 3; j++) {
        if (j > r % 3) expect(out[r * 3 + j]).toBe(0);
        sum += out[r * 3 + j];
      }
      expect(sum).toBeCloseTo(1, 14);
    }
    expect(out[0]).toBe(1);
    expect(out[9]).toBe(1);
  });
});
