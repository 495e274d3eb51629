// Parameters in from a safetensors store by their Hugging Face names, for any architecture: which key prefix the
// file uses (the *ForCausalLM class's, or none for a file saved from the bare base model), every name and shape
// checked, and every tensor left over refused unless the architecture says to skip it.
import { WeightsError } from '../gpu/errors.ts';
import type { TensorStore } from '../io/safetensors.ts';
import { shapeString } from '../autograd/tensor.ts';
import type { Module } from '../nn/module.ts';

/** How one architecture's parameters are named in its checkpoints, and the hints its errors carry. */
export interface WeightLayout {
  /** For messages: 'GPT-2', 'Llama'. */
  architecture: string;
  /** The engine names' base-model prefix ('transformer.', 'model.'); a bare base model's file lacks it. */
  prefix: string;
  /** A tensor every checkpoint holds, named without the prefix: which of the two namings a file uses. */
  anchor: string;
  /** Tensors that are not parameters here (buffers recomputed at load, other classes' heads). */
  ignored: readonly RegExp[];
  /** The head is the embedding, so a stored `lm_head.weight` is a copy and is skipped. */
  tiedHead: boolean;
  missingHint(key: string): string | undefined;
  shapeHint(key: string): string;
  unknownHint(key: string): string;
}

export async function loadNamedWeights(
  model: Module,
  store: TensorStore,
  layout: WeightLayout,
): Promise<void> {
  const { prefix, anchor } = layout;
  const names = [...store.tensors.keys()];
  const filePrefix = store.tensors.has(prefix + anchor) ? prefix : store.tensors.has(anchor) ? '' : null;
  if (filePrefix === null) {
    const some = `${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}`;
    throw new WeightsError(
      `${store.name}: tensor '${prefix}${anchor}', expected it (or '${anchor}'), got none among ${names.length} tensors: ${some}`,
      `is this a ${layout.architecture} checkpoint?`,
    );
  }
  const toFileKey = (name: string) =>
    name.startsWith(prefix) ? filePrefix + name.slice(prefix.length) : name;
  const expected = new Set<string>();
  for (const [name, param] of model.namedParameters()) {
    const key = toFileKey(name);
    expected.add(key);
    const info = store.tensors.get(key);
    if (!info) {
      throw new WeightsError(
        `${store.name}: tensor '${key}', expected shape ${shapeString(param.shape)}, got no such tensor`,
        layout.missingHint(key),
      );
    }
    if (info.shape.length !== param.shape.length || info.shape.some((d, i) => d !== param.shape[i])) {
      throw new WeightsError(
        `${store.name}: tensor '${key}' has shape ${shapeString(info.shape)}, expected ${shapeString(param.shape)}`,
        layout.shapeHint(key),
      );
    }
    model.load(name, await store.getF32(key));
  }
  for (const key of names) {
    if (expected.has(key) || layout.ignored.some((re) => re.test(key))) continue;
    if (key === 'lm_head.weight' && layout.tiedHead) continue;
    throw new WeightsError(
      `${store.name}: tensor '${key}', expected only ${layout.architecture} parameters, got an unknown tensor`,
      layout.unknownHint(key),
    );
  }
}
