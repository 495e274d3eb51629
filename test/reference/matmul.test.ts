// The float64 matmul reference: known products, and its backward against central finite differences of
// L = Σ out · w (so dOut = w), across transposes, bias, shared operands (batch stride 0) and gapped strides.
import { describe, expect, it } from 'vitest';
import type { MatmulDims } from '../../src/ops/dims.ts';
import { matmulBackwardRef, matmulForwardRef } from '../../src/reference/matmul.ts';
import { dot, numericalGrad, randomF64, relL2 } from '../helpers/finite-diff.ts';

describe('matmulForwardRef', () => {
  it('multiplies a 2×2 pair, with bias, transposes and accumulate', () => {
    const a = Float64Array.of(1, 2, 3, 4); // (2, 2)
    const b = Float64Array.of(5, 6, 7, 8); // (2, 2)
    const out = new Float64Array(4);
    matmulForwardRef(out, a, b, null, { batch: 1, M: 2, N: 2, K: 2 });
    expect([...out]).toEqual([19, 22, 43, 50]);
    matmulForwardRef(out, a, b, Float64Array.of(10, 20), {
      batch: 1,
      M: 2,
      N: 2,
      K: 2,
      transA: true,
      transB: true,
    });
    // aᵀ = [[1,3],[2,4]], bᵀ = [[5,7],[6,8]]
    expect([...out]).toEqual([23 + 10, 31 + 20, 34 + 10, 46 + 20]);
    matmulForwardRef(out, a, b, null, { batch: 1, M: 2, N: 2, K: 2, accumulate: true });
    expect([...out]).toEqual([33 + 19, 51 + 22, 44 + 43, 66 + 50]);
  });

  it('shares a stride-0 operand across the batch', () => {
    const a = Float64Array.of(1, 2, 3, 4); // (2, 1, 2): two row vectors
    const b = Float64Array.of(1, 0, 0, 1); // (2, 2) identity, shared
    const out = new Float64Array(4);
    matmulForwardRef(out, a, b, null, { batch: 2, M: 1, N: 2, K: 2, batchStrideB: 0 });
    expect([...out]).toEqual([1, 2, 3, 4]);
  });
});

const CASES: (MatmulDims & { bias?: boolean })[] = [
  { batch: 1, M: 1, N: 1, K: 1, bias: true },
  { batch: 1, M: 3, N: 5, K: 7, bias: true },
  { batch: 2, M: 3, N: 2, K: 5, transA: true },
  { batch: 2, M: 4, N: 3, K: 2, transB: true, bias: true },
  { batch: 3, M: 2, N: 5, K: 3, transA: true, transB: true, batchStrideB: 0, bias: true },
  { batch: 3, M: 3, N: 2, K: 4, transB: true, batchStrideA: 0 },
  { batch: 2, M: 2, N: 3, K: 3, transA: true, batchStrideA: 0, batchStrideB: 0 },
  { batch: 2, M: 3, N: 4, K: 2, batchStrideA: 9, batchStrideB: 11 },
];

describe('matmulBackwardRef', () => {
  for (const dims of CASES) {
    const { batch, M, N, K } = dims;
    const span = (stride: number | undefined, matrix: number) =>
      stride === 0 ? matrix : (batch - 1) * (stride ?? matrix) + matrix;
    it(`matches finite differences: ${JSON.stringify(dims)}`, () => {
      const a = randomF64(span(dims.batchStrideA, M * K), 1);
      const b = randomF64(span(dims.batchStrideB, K * N), 2);
      const bias = dims.bias ? randomF64(N, 3) : null;
      const w = randomF64(batch * M * N, 4); // dOut
      const loss = (x: Float64Array, y: Float64Array, z: Float64Array | null) => {
        const out = new Float64Array(batch * M * N);
        matmulForwardRef(out, x, y, z, dims);
        return dot(out, w);
      };
      const dA = new Float64Array(a.length);
      const dB = new Float64Array(b.length);
      const dBias = new Float64Array(N);
      matmulBackwardRef(dA, dB, bias && dBias, w, a, b, dims);
      expect(
        relL2(
          dA,
          numericalGrad((x) => loss(x, b, bias), a),
        ),
      ).toBeLessThanOrEqual(1e-6);
      expect(
        relL2(
          dB,
          numericalGrad((y) => loss(a, y, bias), b),
        ),
      ).toBeLessThanOrEqual(1e-6);
      if (bias)
        expect(
          relL2(
            dBias,
            numericalGrad((z) => loss(a, b, z), bias),
          ),
        ).toBeLessThanOrEqual(1e-6);
    });
  }
});
