// The memory planner: what one training step of a model will hold on the GPU, found before any weight is read by
// running the step itself (the engine's own model, strategy, optimizer, loss and backward) on the meta device, which
// allocates nothing and counts every buffer (gpu/meta-device.ts). So the figure follows the code: fused kernels,
// checkpointing and LoRA change it with no formula to keep in step. A tensor past the device's maxBufferSize, or one
// bound whole past its binding limit (kernels bind weights such as GPT-2's wte in windows; activations they bind
// whole), fails here, in milliseconds, instead of minutes into loading. Since activations grow with a batch's rows,
// the batch then runs in passes of the most rows that fit (the gradient is the same mean); only a tensor too large
// even for one row refuses the run, with what to change.
import { createMetaGpu, type MetaLimits } from '../gpu/meta-device.ts';
import { createModelFromConfig } from '../models/load-model.ts';
import { AdamW } from '../optim/adamw.ts';
import { InputError, ShapeError } from '../util/errors.ts';
import { applyStrategy, type Strategy } from './finetune-modes.ts';
import { attachLora, LORA_DEFAULTS, type LoraSettings } from './lora.ts';
import { LmTask } from './tasks.ts';
import { storeWeights, weightBytesByDtype, type WeightDtype } from '../nn/weight-dtype.ts';
import { storageBytes } from '../util/half.ts';
import type { DType } from '../autograd/tensor.ts';
import type { Dtype } from '../io/safetensors.ts';

export interface PlanSettings {
  strategy: Exclude<Strategy, 'head'>;
  freezeLayers: number;
  trainable?: string;
  lora?: LoraSettings;
  batchSize: number;
  maxLength: number;
  gradientCheckpointing: boolean;
  dropout: number | null;
  /** How frozen matrices are stored (default auto: the file's dtype, fileDtype else config.json's torch_dtype). */
  dtype?: WeightDtype;
  /** The safetensors header's dtype for the matrices (models/weights-plan.ts fileMatrixDtype), when read. */
  fileDtype?: Dtype;
}

/** Bytes, by owner. */
export interface MemoryPlan {
  /** Rows and tokens per row of the planned micro-batch (maxLength capped at the model's context). */
  batchSize: number;
  /**
   * Rows per forward/backward pass: batchSize, or fewer when one of the batch's activations would be past the
   * device's binding or buffer limit (the trainer then runs each batch in passes: sft/tasks.ts LmTask.passes).
   */
  rowsPerPass: number;
  length: number;
  /** Parameters, trained (float32) and frozen (16-bit where --dtype keeps them so). */
  trainedWeights: number;
  frozenWeights: number;
  /** Every parameter's bytes by storage dtype. */
  weightsByDtype: Partial<Record<DType, number>>;
  /** One float32 gradient per trained parameter, kept across the steps. */
  gradients: number;
  /** AdamW's m and v. */
  optimizer: number;
  /** What one micro-batch's forward and backward hold at its peak: activations, their gradients, temporaries. */
  step: number;
  /** Everything at once: the most the buffer pool will hold live during training. */
  peak: number;
}

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * Plan one optimizer step of a model of config.json `raw` (named `file` in errors) under `settings`, every position
 * a target (the most a batch can cost), with the device `limits` (WebGPU's defaults where not given).
 */
export async function planMemory(
  raw: Record<string, unknown>,
  file: string,
  settings: PlanSettings,
  limits: MetaLimits = {},
): Promise<MemoryPlan> {
  // Past maxBufferSize (one buffer), or bound whole past the binding limit by a kernel that has no windows.
  const tooLarge = (e: unknown): e is ShapeError =>
    e instanceof ShapeError && /buffer size|binding limit/.test(e.message);
  let refused: ShapeError;
  try {
    return await planPass(raw, file, settings, limits, settings.batchSize);
  } catch (e) {
    if (!tooLarge(e)) throw e;
    refused = e;
  }
  // Activations grow with the rows of a pass, weights do not: the most rows per pass that fit (lo fits, hi does not).
  let [lo, hi] = [0, settings.batchSize];
  let plan: MemoryPlan | undefined;
  while (hi - lo > 1) {
    const rows = (lo + hi) >> 1;
    try {
      plan = await planPass(raw, file, settings, limits, rows);
      lo = rows;
    } catch (e) {
      if (!tooLarge(e)) throw e;
      [hi, refused] = [rows, e]; // the last refusal is the one at the fewest rows: what to name
    }
  }
  if (plan) return plan;
  throw new InputError(
    `memory plan: ${refused.message.split('\n')[0]}`,
    'one tensor of this step is too large for this GPU even one row at a time: for an activation lower --max-length (fineTune: maxLength); for a weight train LoRA on a 16-bit base (--strategy lora --dtype bfloat16)',
  );
}

/** The plan of a step whose batch of settings.batchSize rows runs in passes of `rows` (throws what the step throws). */
async function planPass(
  raw: Record<string, unknown>,
  file: string,
  settings: PlanSettings,
  limits: MetaLimits,
  rows: number,
): Promise<MemoryPlan> {
  const gpu = createMetaGpu(limits);
  try {
    const model = createModelFromConfig(gpu, raw, file);
    model.gradientCheckpointing = settings.gradientCheckpointing;
    if (settings.dropout !== null) model.setDropout(settings.dropout);
    if (settings.strategy === 'lora') attachLora(model, settings.lora ?? LORA_DEFAULTS, 0);
    applyStrategy(model, settings.strategy, {
      freezeLayers: settings.freezeLayers,
      trainable: settings.trainable,
    });
    await storeWeights(model, resolveDtype(settings.dtype ?? 'auto', raw, settings.fileDtype));
    let trainedWeights = 0;
    let frozenWeights = 0;
    for (const p of model.parameters()) {
      if (p.requiresGrad) trainedWeights += storageBytes(p.dtype, p.size);
      else frozenWeights += storageBytes(p.dtype, p.size);
    }
    const weightsByDtype = weightBytesByDtype(model);
    const beforeOptimizer = gpu.stats().liveBytes;
    const optimizer = new AdamW(gpu, model.namedParameters(), { lr: 1e-3, clipGradNorm: 1 });
    const afterOptimizer = gpu.stats().liveBytes;
    gpu.pool.takePeakBytes();
    const B = rows;
    const T = Math.min(settings.maxLength, model.contextLength);
    model.train();
    {
      using _scope = gpu.scope('plan-step'); // every position a target
      const batch = { ids: new Int32Array(B * T), targets: new Int32Array(B * T), B, T, tokens: B * T };
      const { loss } = new LmTask(model).loss(batch);
      loss.backward();
      optimizer.step();
    }
    const peak = gpu.pool.takePeakBytes();
    const gradients = trainedWeights;
    return {
      batchSize: settings.batchSize,
      rowsPerPass: rows,
      length: T,
      trainedWeights,
      frozenWeights,
      weightsByDtype,
      gradients,
      optimizer: afterOptimizer - beforeOptimizer,
      step: peak - afterOptimizer - gradients,
      peak,
    };
  } finally {
    gpu.dispose();
  }
}

// auto on the meta device, which reads no tensor: the header's dtype when given (what loading keeps), else the one
// config.json says the weights are in (transformers writes torch_dtype, or dtype since 4.56).
function resolveDtype(
  setting: WeightDtype,
  raw: Record<string, unknown>,
  fileDtype: Dtype | undefined,
): WeightDtype {
  if (setting !== 'auto') return setting;
  if (fileDtype) return fileDtype === 'BF16' ? 'bfloat16' : fileDtype === 'F16' ? 'float16' : 'float32';
  const stored = raw.torch_dtype ?? raw.dtype;
  return stored === 'bfloat16' || stored === 'float16' ? stored : 'float32';
}

/** The plan as one line for the run's output. */
export function describePlan(p: MemoryPlan): string {
  const half = Object.keys(p.weightsByDtype).filter((d) => d === 'f16' || d === 'bf16');
  const frozen = `${MiB(p.frozenWeights)} frozen${half.length ? ` (${half.map((d) => `${d} ${MiB(p.weightsByDtype[d as DType] ?? 0)}`).join(', ')})` : ''}`;
  const weights =
    p.frozenWeights > 0
      ? `weights ${MiB(p.trainedWeights)} trained + ${frozen}`
      : `weights ${MiB(p.trainedWeights)}`;
  const passes =
    p.rowsPerPass < p.batchSize
      ? `, in passes of ${p.rowsPerPass} rows: one tensor of ${p.batchSize} rows is past this GPU's binding or buffer limit`
      : '';
  return `memory plan (micro-batch ${p.batchSize} × ${p.length} tokens${passes}): ${weights}, gradients ${MiB(p.gradients)}, AdamW state ${MiB(p.optimizer)}, one step's activations ${MiB(p.step)}; peak ${MiB(p.peak)} of GPU memory`;
}
