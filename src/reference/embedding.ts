// Float64 reference for the embedding lookup and its scatter-add backward; ids outside [0, V) act as in the kernel
// (a zero row forward, no gradient backward).
import type { EmbeddingDims } from '../ops/dims.ts';

export function embeddingForwardRef(
  out: Float64Array,
  ids: Int32Array,
  weight: Float64Array,
  dims: EmbeddingDims,
): void {
  const { N, C, V } = dims;
  for (let n = 0; n < N; n++) {
    const id = ids[n];
    for (let c = 0; c < C; c++) out[n * C + c] = id >= 0 && id < V ? weight[id * C + c] : 0;
  }
}

export function embeddingBackwardRef(
  dweight: Float64Array,
  dout: Float64Array,
  ids: Int32Array,
  dims: EmbeddingDims,
): void {
  const { N, C, V } = dims;
  dweight.fill(0, 0, V * C);
  for (let n = 0; n < N; n++) {
    const id = ids[n];
    if (id < 0 || id >= V) continue;
    for (let c = 0; c < C; c++) dweight[id * C + c] += dout[n * C + c];
  }
}
