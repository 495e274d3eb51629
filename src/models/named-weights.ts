// Parameters in from a safetensors store by their Hugging Face names, for any architecture, after weights-plan.ts
// has checked every name, shape and dtype: each tensor is read, checked for NaN and Inf on its way through the CPU,
// and uploaded.
import { WeightsError } from '../util/errors.ts';
import { shapeString } from '../autograd/tensor.ts';
import type { Module } from '../nn/module.ts';
import { loadedDtype, mayBeHalf, storeParameter, type WeightDtype } from '../nn/weight-dtype.ts';
import type { WeightsPlan } from './weights-plan.ts';

/** dtype 'auto' keeps F16 and BF16 matrices 16-bit (nn/weight-dtype.ts), 'float32' widens every tensor. */
export async function loadPlannedWeights(
  model: Module,
  plan: WeightsPlan,
  dtype: WeightDtype = 'float32',
): Promise<void> {
  const params = new Map(model.namedParameters());
  for (const { name, info } of plan.tensors) {
    const data = await plan.store.getF32(info.name);
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      throw new WeightsError(
        `${info.file}: tensor '${info.name}' ${shapeString(info.shape)}, expected finite values, ` +
          `got ${data[bad]} at index ${bad}${indexIn(info.shape, bad)}`,
      );
    }
    const param = params.get(name);
    if (param && mayBeHalf(name, param)) storeParameter(param, loadedDtype(dtype, info.dtype), data);
    else model.load(name, data);
  }
}

/** The index of the first NaN or ±Inf, or -1. */
function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) return i; // NaN - NaN and Inf - Inf are NaN
  }
  return -1;
}

// ' = [row, col]' for a tensor of rank 2 or more.
function indexIn(shape: readonly number[], flat: number): string {
  if (shape.length < 2) return '';
  const at: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    at.unshift(flat % shape[d]);
    flat = Math.floor(flat / shape[d]);
  }
  return ` = ${shapeString(at)}`;
}
