import { describe, expect, it } from 'vitest';
import { CLIP_EPS, gradNormRef } from '../../src/reference/grad-norm.ts';

function run(grads: number[][], maxNorm: number): [number, number] {
  const norm = new Float64Array(1);
  const scale = new Float64Array(1);
  gradNormRef(
    norm,
    scale,
    grads.map((g) => Float64Array.from(g)),
    maxNorm,
  );
  return [norm[0], scale[0]];
}

describe('grad-norm reference', () => {
  it('is the L2 norm over all buffers together: [3, 4] and [12] give 13', () => {
    expect(run([[3, 4], [12]], 0)).toEqual([13, 1]);
  });

  it('clips as clip_grad_norm_ does: maxNorm / (norm + 1e-6), clamped to 1, off at maxNorm 0', () => {
    expect(CLIP_EPS).toBe(1e-6);
    expect(run([[3, 4], [12]], 1)[1]).toBe(1 / (13 + 1e-6));
    expect(run([[3, 4], [12]], 13)[1]).toBe(13 / (13 + 1e-6));
    expect(run([[3, 4], [12]], 14)[1]).toBe(1);
    expect(run([[3, 4], [12]], 0)[1]).toBe(1);
  });

  it('no buffers, or only empty ones, give norm 0 and scale 1', () => {
    expect(run([], 1)).toEqual([0, 1]);
    expect(run([[], []], 1)).toEqual([0, 1]);
  });
});
