// A checkpoint's header checked against the tensors its config implies, and against the device's buffer limits,
// before any GPU buffer exists or any tensor data is read: a config that disagrees with its weights, or a model
// this device cannot hold, is refused in one line naming the tensor and the config field behind it.
import { WeightsError } from '../util/errors.ts';
import type { Dtype, TensorInfo, TensorStore } from '../io/safetensors.ts';
import { numel, shapeString } from '../autograd/tensor.ts';
import { storageBytes, type HalfDtype } from '../util/half.ts';

/** One parameter a config implies, named as the engine (and the *ForCausalLM class) names it. */
export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** The config field behind each dimension: 'n_embd', '3·n_embd'. */
  dims: readonly string[];
  /** The config field (and value) that makes it exist, when one does: 'n_layer 12', 'tie_word_embeddings false'. */
  because?: string;
}

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

/** What loading will read: each parameter's tensor in the file, and what the model will hold on the GPU. */
export interface WeightsPlan {
  store: TensorStore;
  tensors: { name: string; info: TensorInfo }[];
  parameters: number;
  /** Bytes of the parameters on the GPU (f32, whatever the file's dtype). */
  bytes: number;
}

export type BufferLimits = Pick<GPUSupportedLimits, 'maxBufferSize' | 'maxStorageBufferBindingSize'>;

// What getF32 widens or rounds to f32; anything else (ints, f8) is not a parameter this engine reads.
const FLOAT_DTYPES: readonly Dtype[] = ['F32', 'F16', 'BF16', 'F64'];

/** Every expected tensor present with its exact shape and a float dtype, and nothing else in the file. */
export function planWeights(
  store: TensorStore,
  expected: readonly ExpectedTensor[],
  layout: WeightLayout,
  configFile: string,
): WeightsPlan {
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
  const byKey = new Map<string, ExpectedTensor>();
  const tensors: WeightsPlan['tensors'] = [];
  let parameters = 0;
  for (const t of expected) {
    const key = toFileKey(t.name);
    byKey.set(key, t);
    const info = store.tensors.get(key);
    if (!info) {
      const implied = t.because ? ` (${configFile} ${t.because} asks for it)` : '';
      throw new WeightsError(
        `${store.name}: tensor '${key}', expected shape ${shapeString(t.shape)}, got no such tensor${implied}`,
        layout.missingHint(key),
      );
    }
    if (info.shape.length !== t.shape.length || info.shape.some((d, i) => d !== t.shape[i])) {
      const i = info.shape.length === t.shape.length ? info.shape.findIndex((d, j) => d !== t.shape[j]) : -1;
      const fields = i >= 0 ? `dim ${i} is ${t.dims[i]}` : `dims are ${t.dims.join(', ')}`;
      throw new WeightsError(
        `${store.name}: tensor '${key}' has shape ${shapeString(info.shape)}, expected ${shapeString(t.shape)} ` +
          `(${fields} in ${configFile})`,
        layout.shapeHint(key),
      );
    }
    if (!FLOAT_DTYPES.includes(info.dtype)) {
      throw new WeightsError(
        `${store.name}: tensor '${key}' dtype, expected one of ${FLOAT_DTYPES.join(', ')}, got ${info.dtype}`,
      );
    }
    tensors.push({ name: t.name, info });
    parameters += numel(t.shape);
  }
  for (const key of names) {
    if (byKey.has(key) || layout.ignored.some((re) => re.test(key))) continue;
    if (key === 'lm_head.weight' && layout.tiedHead) continue;
    // A layer past the config's count reads as its layer 0 twin: name the field that sets the count.
    const because = byKey.get(key.replace(/\.\d+\./, '.0.'))?.because;
    const what = because ? `the layers of ${configFile} ${because}` : `${layout.architecture} parameters`;
    throw new WeightsError(
      `${store.name}: tensor '${key}', expected only ${what}, got an unknown tensor`,
      because ? undefined : layout.unknownHint(key),
    );
  }
  if (!Number.isSafeInteger(4 * parameters)) {
    throw new WeightsError(
      `${store.name}: parameter count, expected one whose f32 bytes are below 2^53, got ${parameters}`,
    );
  }
  return { store, tensors, parameters, bytes: 4 * parameters };
}

/** A file's dtype for the model's matrices (its first 2-D tensor's): what `--dtype auto` keeps them as. */
export function fileMatrixDtype(tensors: Iterable<TensorInfo>): Dtype {
  for (const info of tensors) if (info.shape.length === 2) return info.dtype;
  return 'F32';
}

// What one tensor of the file holds on the GPU when matrices are stored as `matrices` (1-D ones are always f32).
const storedDtype = (info: TensorInfo, matrices: 'f32' | HalfDtype) =>
  info.shape.length === 2 ? matrices : 'f32';

/**
 * Each parameter is one buffer, so its size as stored (`matrices`: the dtype 2-D tensors are loaded as, 16-bit
 * ones two per u32) must fit maxBufferSize; kernels bind one past maxStorageBufferBindingSize in windows
 * (gpu/ranges.ts). WebGPU reports no free memory, so the total is only announced (planNote); a device that runs out
 * says so at allocation.
 */
export function checkBufferLimits(
  plan: WeightsPlan,
  limits: BufferLimits,
  device = 'this device',
  matrices: 'f32' | HalfDtype = 'f32',
): void {
  const max = limits.maxBufferSize;
  for (const { info } of plan.tensors) {
    const dtype = storedDtype(info, matrices);
    const bytes = storageBytes(dtype, numel(info.shape));
    if (bytes > max) {
      // The model is too large for this device: the user's choice to change, so refused like other bad input.
      throw new WeightsError(
        `${plan.store.name}: tensor '${info.name}' ${shapeString(info.shape)} as ${dtype}, expected at most ${max} bytes ` +
          `(maxBufferSize of ${device}), got ${bytes} bytes`,
      );
    }
  }
}

/** One line on what the model will hold (matrices stored as `matrices`): parameters and bytes, and what training adds. */
export function planNote(plan: WeightsPlan, matrices: 'f32' | HalfDtype = 'f32'): string {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const stored = plan.tensors.reduce(
    (n, { info }) => n + storageBytes(storedDtype(info, matrices), numel(info.shape)),
    0,
  );
  const as = matrices === 'f32' ? 'as f32' : `with ${matrices} matrices`;
  return (
    `${plan.store.name}: ${plan.tensors.length} tensors, ${plan.parameters} parameters, ${mib(stored)} on the ` +
    `GPU ${as} (full fine-tuning with AdamW holds about 4x the f32 size: weights, grads, m, v = ${mib(4 * plan.bytes)})`
  );
}
