// One matmul product resolved from its dims (defaults filled in, every field range-checked): what matmulForward and
// matmulBackward validate before encoding anything (the buffers' sizes are checked by each dispatch).
import { ShapeError } from '../util/errors.ts';
import type { OperandDtype } from './matmul-wgsl.ts';
import type { MatmulDims } from '../ops/dims.ts';

// One resolved product: out (batch, M, N) at batch stride strideOut = op(A)·op(B) per batch.
export interface Plan {
  batch: number;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  strideA: number;
  strideB: number;
  strideOut: number;
  dtypeB: OperandDtype;
  offA: number;
  offB: number;
  offOut: number;
}

/** The product `dims` describe, with defaults filled in; throws naming the first field out of range. */
export function resolvePlan(where: string, dims: MatmulDims): Plan {
  for (const key of ['batch', 'M', 'N', 'K'] as const) {
    const v = dims[key];
    if (!Number.isInteger(v) || v < 1)
      throw new ShapeError(`${where}: dims.${key}, expected an integer ≥ 1, got ${v}`);
  }
  const { batch, M, N, K } = dims;
  const [strideA, strideB] = [dims.batchStrideA ?? M * K, dims.batchStrideB ?? K * N];
  // Overlapping batches would make the gradient writes race.
  for (const [key, v, size] of [
    ['batchStrideA', strideA, M * K],
    ['batchStrideB', strideB, K * N],
  ] as const) {
    if (!Number.isInteger(v) || (v !== 0 && v < size)) {
      throw new ShapeError(
        `${where}: dims.${key}, expected 0 or an integer ≥ ${size} (one matrix), got ${v}`,
      );
    }
  }
  const largest = Math.max(batch * M * N, span(batch, strideA, M * K), span(batch, strideB, K * N));
  if (largest >= 2 ** 32)
    throw new ShapeError(`${where}: largest operand, expected < 2^32 elements, got ${largest}`);
  const [transA, transB] = [dims.transA ?? false, dims.transB ?? false];
  const dtypeB = dims.dtypeB ?? 'f32';
  if (!['f32', 'f16', 'bf16'].includes(dtypeB))
    throw new ShapeError(`${where}: dims.dtypeB, expected f32, f16 or bf16, got ${String(dtypeB)}`);
  const { a: offA = 0, b: offB = 0, out: offOut = 0 } = dims.offsets ?? {};
  for (const [key, v] of Object.entries({ a: offA, b: offB, out: offOut })) {
    if (!Number.isInteger(v) || v < 0 || v + largest >= 2 ** 32)
      throw new ShapeError(
        `${where}: dims.offsets.${key}, expected an integer ≥ 0 with the operand below 2^32 elements, got ${v}`,
      );
  }
  return { batch, M, N, K, transA, transB, strideA, strideB, strideOut: M * N, dtypeB, offA, offB, offOut };
}

/** Elements spanned by `batch` matrices of `matrix` elements, `stride` apart (0: one shared matrix). */
export function span(batch: number, stride: number, matrix: number): number {
  return stride === 0 ? matrix : (batch - 1) * stride + matrix;
}
