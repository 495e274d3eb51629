// How a model's weights are stored on the GPU. Matrices that do not train (frozen layers, the LoRA base, the head
// strategy's backbone, eval and generate) may stay 16-bit, two per u32, read by matmul and the embedding lookup; a
// trained parameter is always f32 (its master copy), and 1-D ones (norms, biases: tiny) stay f32 too.
import { ShapeError } from '../util/errors.ts';
import { packHalves, storageBytes, type HalfDtype } from '../util/half.ts';
import { isHalf, type DType, type Tensor } from '../autograd/tensor.ts';
import { isAdapterParameter, type Module } from './module.ts';

/** The --dtype setting: auto keeps the file's dtype for frozen matrices; the others store them so. */
export type WeightDtype = 'auto' | 'float32' | 'bfloat16' | 'float16';
export const WEIGHT_DTYPES: readonly WeightDtype[] = ['auto', 'float32', 'bfloat16', 'float16'];

const STORED: Record<Exclude<WeightDtype, 'auto'>, 'f32' | HalfDtype> = {
  float32: 'f32',
  bfloat16: 'bf16',
  float16: 'f16',
};

/** Whether a parameter may be held in 16 bits when frozen: a matrix of the model (not a LoRA factor). */
export const mayBeHalf = (name: string, t: Tensor): boolean =>
  t.shape.length === 2 && !isAdapterParameter(name);

/** What a frozen matrix loaded from a file tensor of dtype `fileDtype` ('F32', 'BF16', ...) is stored as. */
export function loadedDtype(setting: WeightDtype, fileDtype: string): 'f32' | HalfDtype {
  if (setting !== 'auto') return STORED[setting];
  return fileDtype === 'F16' ? 'f16' : fileDtype === 'BF16' ? 'bf16' : 'f32';
}

/** Write `data` into parameter `t` stored as `dtype` (rounded to nearest even when 16-bit), in a new buffer if needed. */
export function storeParameter(t: Tensor, dtype: 'f32' | HalfDtype, data: Float32Array): void {
  if (data.length !== t.size)
    throw new ShapeError(`${t.label}: data length, expected ${t.size}, got ${data.length}`);
  const words = isHalf(dtype) ? packHalves(data, dtype) : data;
  if (dtype === t.dtype) {
    t.gpu.write(t.buf(), words);
    return;
  }
  const buffer = t.gpu.alloc(t.label, storageBytes(dtype, t.size), true);
  t.gpu.write(buffer, words);
  t.restore(buffer, dtype);
}

/**
 * After a strategy set requiresGrad: trained parameters become f32 (widened exactly), frozen matrices take the
 * setting's dtype (auto: as loaded). Conversions go through the CPU, one tensor at a time.
 */
export async function storeWeights(module: Module, setting: WeightDtype): Promise<void> {
  for (const [name, t] of module.namedParameters()) {
    const want: DType =
      t.requiresGrad || !mayBeHalf(name, t) ? 'f32' : setting === 'auto' ? t.dtype : STORED[setting];
    if (want !== t.dtype) storeParameter(t, want as 'f32' | HalfDtype, await t.readF32());
  }
}

/** Bytes the parameters hold on the GPU, by storage dtype. */
export function weightBytesByDtype(module: Module): Partial<Record<DType, number>> {
  const out: Partial<Record<DType, number>> = {};
  for (const t of module.parameters()) out[t.dtype] = (out[t.dtype] ?? 0) + storageBytes(t.dtype, t.size);
  return out;
}
