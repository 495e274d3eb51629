// Float64 reference for the batched matmul: out (batch, M, N) = op(A) · op(B) (+ bias) (+ out when accumulating),
// and its gradients dA = dOut · op(B)ᵀ, dB = op(A)ᵀ · dOut (in each operand's storage layout, summed over the batch
// when the operand is shared: batch stride 0), dBias = Σ dOut over batch and rows. Plain loops, clear over fast.
import type { MatmulDims } from '../ops/dims.ts';

// Where op(A)[b, m, k] and op(B)[b, k, n] live in their flat storage.
function layout(dims: MatmulDims) {
  const { M, N, K, transA = false, transB = false } = dims;
  const strideA = dims.batchStrideA ?? M * K;
  const strideB = dims.batchStrideB ?? K * N;
  return {
    a: (b: number, m: number, k: number) => b * strideA + (transA ? k * M + m : m * K + k),
    b: (b: number, k: number, n: number) => b * strideB + (transB ? n * K + k : k * N + n),
  };
}

export function matmulForwardRef(
  out: Float64Array, // (batch, M, N)
  a: Float64Array,
  b: Float64Array,
  bias: Float64Array | null, // (N)
  dims: MatmulDims,
): void {
  const { batch, M, N, K } = dims;
  const at = layout(dims);
  for (let bi = 0; bi < batch; bi++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = bias ? bias[n] : 0;
        for (let k = 0; k < K; k++) acc += a[at.a(bi, m, k)] * b[at.b(bi, k, n)];
        const i = (bi * M + m) * N + n;
        out[i] = dims.accumulate ? out[i] + acc : acc;
      }
    }
  }
}

/** Gradients are overwritten; a null one is skipped. Entries of dA, dB between batches (stride gaps) are zeroed. */
export function matmulBackwardRef(
  dA: Float64Array | null, // A's storage layout
  dB: Float64Array | null, // B's storage layout
  dBias: Float64Array | null, // (N)
  dOut: Float64Array, // (batch, M, N)
  a: Float64Array,
  b: Float64Array,
  dims: MatmulDims,
): void {
  const { batch, M, N, K } = dims;
  const at = layout(dims);
  dA?.fill(0);
  dB?.fill(0);
  dBias?.fill(0);
  for (let bi = 0; bi < batch; bi++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        const g = dOut[(bi * M + m) * N + n];
        if (dBias) dBias[n] += g;
        for (let k = 0; k < K; k++) {
          if (dA) dA[at.a(bi, m, k)] += g * b[at.b(bi, k, n)];
          if (dB) dB[at.b(bi, k, n)] += g * a[at.a(bi, m, k)];
        }
      }
    }
  }
}
