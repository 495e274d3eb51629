import { describe, expect, it } from 'vitest';
import type { CrossEntropyDims } from '../../src/ops/dims.ts';
import {
  crossEntropyAccuracyRef,
  crossEntropyBackwardRef,
  crossEntropyForwardRef,
  IGNORE_INDEX,
} from '../../src/reference/cross-entropy.ts';
import { numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

function forward(logits: Float64Array, targets: Int32Array, dims: CrossEntropyDims) {
  const loss = new Float64Array(1);
  const losses = new Float64Array(dims.N);
  crossEntropyForwardRef(loss, losses, logits, targets, dims);
  return { loss: loss[0], losses };
}

describe('cross-entropy reference', () => {
  it.each([
    { N: 1, V: 1, targets: [0] },
    { N: 1, V: 2, targets: [1] },
    { N: 3, V: 7, targets: [6, IGNORE_INDEX, 0] },
    { N: 5, V: 13, targets: [2, 12, IGNORE_INDEX, 7, IGNORE_INDEX] },
  ])('backward matches central differences (N=$N V=$V targets=$targets)', ({ N, V, targets }) => {
    const dims = { N, V };
    const t = Int32Array.from(targets);
    const logits = randomF64(N * V, 3, -4, 4);
    const dloss = Float64Array.of(1.7);
    const dlogits = new Float64Array(N * V);
    crossEntropyBackwardRef(dlogits, dloss, logits, t, dims);
    const numeric = numericalGrad((x) => dloss[0] * forward(x, t, dims).loss, logits);
    expect(relL2(dlogits, numeric)).toBeLessThanOrEqual(1e-6);
    for (let i = 0; i < N; i++) {
      if (t[i] === IGNORE_INDEX)
        expect(dlogits.subarray(i * V, (i + 1) * V).every((g) => g === 0)).toBe(true);
    }
  });

  it('equal logits give log V per row; the mean skips ignored rows', () => {
    const dims = { N: 3, V: 5 };
    const { loss, losses } = forward(
      new Float64Array(15).fill(0.25),
      Int32Array.of(4, IGNORE_INDEX, 0),
      dims,
    );
    expect(losses[0]).toBeCloseTo(Math.log(5), 14);
    expect(losses[1]).toBe(0);
    expect(loss).toBeCloseTo(Math.log(5), 14);
  });

  it('a known two-class row: −log(e^2 / (e^1 + e^2))', () => {
    const { loss } = forward(Float64Array.of(1, 2), Int32Array.of(1), { N: 1, V: 2 });
    expect(loss).toBeCloseTo(Math.log(1 + Math.exp(-1)), 14);
  });

  it('an all-ignored batch has loss 0 and zero gradients, not NaN', () => {
    const dims = { N: 2, V: 3 };
    const logits = randomF64(6, 5);
    const targets = Int32Array.of(IGNORE_INDEX, IGNORE_INDEX);
    expect(forward(logits, targets, dims).loss).toBe(0);
    const dlogits = new Float64Array(6).fill(NaN);
    crossEntropyBackwardRef(dlogits, Float64Array.of(1), logits, targets, dims);
    expect([...dlogits]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('accuracy takes the first maximum on ties and does not count ignored rows', () => {
    // rows: tie between 0 and 2 (target 0: hit), tie (target 2: miss), clear max 1 (hit), ignored
    const logits = Float64Array.of(3, 1, 3, 3, 1, 3, 0, 5, 2, 9, 9, 9);
    const correct = new Float64Array(1);
    const counted = new Float64Array(1);
    crossEntropyAccuracyRef(correct, counted, logits, Int32Array.of(0, 2, 1, IGNORE_INDEX), { N: 4, V: 3 });
    expect([correct[0], counted[0]]).toEqual([2, 3]);
  });
});
