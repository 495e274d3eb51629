// config.json's `dtype` as transformers 5 writes it (it renamed torch_dtype): the dtype the checkpoint's weights are
// stored in, so from_pretrained(dtype="auto") loads them as written.
import type { TensorToWrite } from '../io/safetensors.ts';

const TORCH_NAMES = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

/** config with `dtype` of the tensors (the one most of their values are in) and no torch_dtype. */
export function withDtype(
  config: Record<string, unknown>,
  tensors: readonly TensorToWrite[],
): Record<string, unknown> {
  const count = new Map<string, number>();
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    count.set(t.dtype, (count.get(t.dtype) ?? 0) + n);
  }
  const most = [...count].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32';
  const out: Record<string, unknown> = { ...config };
  delete out.torch_dtype;
  out.dtype = TORCH_NAMES[most as keyof typeof TORCH_NAMES] ?? 'float32';
  return out;
}
