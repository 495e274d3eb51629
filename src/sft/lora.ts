// LoRA as Hugging Face peft defines it, so adapters trained here load in peft and peft's load here: which Linear
// layers an adapter targets (peft's defaults per architecture, explicit names, all-linear), their factors' init
// (A Kaiming-uniform with a = √5, i.e. U(±1/√in); B zero), the scale (alpha / r, or alpha / √r with rsLoRA), the
// adapter_config.json peft writes and reads, the tensor names of adapter_model.safetensors, and the merge W + s·B·A.
import { InputError, WeightsError } from '../util/errors.ts';
import type { LanguageModel } from '../models/language-model.ts';
import { Linear } from '../nn/layers.ts';
import { Rng } from '../util/random.ts';

export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  /** Module names (peft's target_modules) or ['all-linear']; empty: peft's default for the architecture. */
  targets: string[];
  /** alpha / √r instead of alpha / r. */
  rslora: boolean;
  /** Only these blocks (peft's layers_to_transform); null: every block. */
  layers: number[] | null;
}

export const LORA_DEFAULTS: LoraSettings = {
  r: 8,
  alpha: 16,
  dropout: 0.05,
  targets: [],
  rslora: false,
  layers: null,
};

/** peft's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING for the architectures this engine loads. */
const DEFAULT_TARGETS: Record<LanguageModel['kind'], string[]> = {
  gpt2: ['c_attn'],
  llama: ['q_proj', 'v_proj'],
};
/** The output layers all-linear leaves out, as peft does. */
const OUTPUT_LAYERS = new Set(['lm_head', 'score']);

export const loraScale = (s: Pick<LoraSettings, 'r' | 'alpha' | 'rslora'>): number =>
  s.rslora ? s.alpha / Math.sqrt(s.r) : s.alpha / s.r;

/** The Linear layers an adapter goes on, by their dotted module names, in model order. */
export function loraTargets(
  model: LanguageModel,
  s: LoraSettings,
  where = '--lora-targets',
): [string, Linear][] {
  const targets = s.targets.length ? s.targets : DEFAULT_TARGETS[model.kind];
  const allLinear = targets.length === 1 && targets[0] === 'all-linear';
  const linears = model.namedModules().filter((e): e is [string, Linear] => e[1] instanceof Linear);
  const chosen = linears.filter(([name]) => {
    const short = name.split('.').at(-1)!;
    if (allLinear ? OUTPUT_LAYERS.has(short) : !targets.some((t) => name === t || name.endsWith(`.${t}`)))
      return false;
    const layer = model.layerIndex(`${name}.weight`);
    return s.layers === null || (layer !== null && s.layers.includes(layer));
  });
  if (!allLinear) {
    for (const t of targets) {
      if (!linears.some(([name]) => name === t || name.endsWith(`.${t}`)))
        throw new InputError(
          `${where}: '${t}', expected the name of a Linear layer of this ${model.kind} model, got none by that name`,
          `names here: ${[...new Set(linears.map(([n]) => n.split('.').at(-1)))].join(', ')}`,
        );
    }
  }
  if (chosen.length === 0)
    throw new InputError(`${where}: expected at least one layer to adapt, got none (check --lora-layers)`);
  return chosen;
}

/** Attach fresh adapters (A from `seed`, B zero) and freeze everything else; returns the adapted layers' names. */
export function attachLora(model: LanguageModel, s: LoraSettings, seed: number, where?: string): string[] {
  const rng = new Rng(seed ^ 0x10a4);
  const chosen = loraTargets(model, s, where);
  for (const [, p] of model.namedParameters()) p.requiresGrad = false;
  for (const [, linear] of chosen) {
    const bound = 1 / Math.sqrt(linear.inFeatures); // kaiming_uniform_(a=√5): gain √(1/3) · √(3 / fan_in)
    linear.attachLora(s.r, loraScale(s), s.dropout, rng.uniform(s.r * linear.inFeatures, -bound, bound));
  }
  return chosen.map(([name]) => name);
}

/** Remove every adapter from the model (a job ends; the model is reused). */
export function detachLora(model: LanguageModel): void {
  for (const [, m] of model.namedModules()) if (m instanceof Linear) m.detachLora();
}

/** peft's key for an adapter tensor: `base_model.model.<module>.lora_A.weight`. */
export const peftKey = (name: string): string => `base_model.model.${name}`;

/**
 * A classifier's adapter also saves the whole `score` head (peft's modules_to_save for SEQ_CLS, which names
 * `classifier` too for other architectures): trained in full beside the low-rank factors, saved under this key.
 */
const HEAD_KEY = peftKey('score.weight');
const HEAD_MODULES = ['classifier', 'score'];

/** The adapters a job attached: their settings, the adapted layers' names, and a classifier's head (else null). */
export interface AttachedAdapter {
  settings: LoraSettings;
  targets: string[];
  head: Linear | null;
}

/** adapter_config.json and adapter_model.safetensors's tensors of a model's attached adapters, in peft's layout. */
export async function exportAdapter(
  model: LanguageModel,
  adapter: AttachedAdapter,
  base: string,
): Promise<{
  config: Record<string, unknown>;
  tensors: { name: string; shape: number[]; data: Float32Array }[];
}> {
  const { settings, targets, head } = adapter;
  return {
    config: adapterConfig(model, settings, targets, base, head ? 'SEQ_CLS' : 'CAUSAL_LM'),
    tensors: await adapterTensors(model, head),
  };
}

/** adapter_config.json as peft writes it for these settings (fields peft reads; the rest take its defaults). */
export function adapterConfig(
  model: LanguageModel,
  s: LoraSettings,
  adapted: string[],
  base: string,
  taskType: 'CAUSAL_LM' | 'SEQ_CLS' = 'CAUSAL_LM',
): Record<string, unknown> {
  const targets = [...new Set(adapted.map((n) => n.split('.').at(-1)!))].sort();
  return {
    peft_type: 'LORA',
    task_type: taskType,
    base_model_name_or_path: base,
    r: s.r,
    lora_alpha: s.alpha,
    lora_dropout: s.dropout,
    target_modules: targets,
    fan_in_fan_out: model.kind === 'gpt2', // GPT-2's Conv1D keeps W as (in, out)
    bias: 'none',
    use_rslora: s.rslora,
    use_dora: false,
    layers_to_transform: s.layers,
    modules_to_save: taskType === 'SEQ_CLS' ? HEAD_MODULES : null,
    init_lora_weights: true,
    inference_mode: true,
  };
}

const nonEmpty = (o: unknown) => typeof o === 'object' && o !== null && Object.keys(o).length > 0;

/** The settings of an adapter_config.json, refusing what this engine does not apply. */
export function parseAdapterConfig(raw: Record<string, unknown>, file: string): LoraSettings {
  const fail = (field: string, expected: string, got: unknown) =>
    new WeightsError(
      `${file}: field '${field}', expected ${expected}, got ${JSON.stringify(got)?.slice(0, 60)}`,
    );
  if (raw.peft_type !== 'LORA')
    throw fail('peft_type', "'LORA' (other peft methods are not supported)", raw.peft_type);
  if (raw.use_dora === true) throw fail('use_dora', 'false (DoRA is not supported)', raw.use_dora);
  if (raw.bias !== undefined && raw.bias !== 'none')
    throw fail('bias', "'none' (trained biases are not supported)", raw.bias);
  const unsupported = [
    'lora_bias',
    'exclude_modules',
    'target_parameters',
    'trainable_token_indices',
    'layer_replication',
    'use_qalora',
    'use_bdlora',
    'alora_invocation_tokens',
  ];
  for (const field of unsupported)
    if (raw[field] != null && raw[field] !== false && !(Array.isArray(raw[field]) && raw[field].length === 0))
      throw fail(field, 'unset (this peft option is not supported)', raw[field]);
  for (const field of ['rank_pattern', 'alpha_pattern'])
    if (nonEmpty(raw[field])) throw fail(field, 'none (per-layer ranks are not supported)', raw[field]);
  adapterHasHead(raw, file);
  const r = raw.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > 4096)
    throw fail('r', 'an integer in [1, 4096]', r);
  const alpha = raw.lora_alpha ?? 8;
  if (typeof alpha !== 'number' || !(alpha > 0)) throw fail('lora_alpha', 'a number > 0', alpha);
  const dropout = raw.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1))
    throw fail('lora_dropout', 'a number in [0, 1)', dropout);
  const t = raw.target_modules;
  const targets = t === 'all-linear' ? ['all-linear'] : t;
  if (!Array.isArray(targets) || targets.length === 0 || !targets.every((x) => typeof x === 'string'))
    throw fail(
      'target_modules',
      "a list of module names or 'all-linear' (regular expressions are not supported)",
      t,
    );
  const layersRaw = raw.layers_to_transform ?? null;
  const layers = typeof layersRaw === 'number' ? [layersRaw] : layersRaw;
  if (
    layers !== null &&
    !(Array.isArray(layers) && layers.every((x) => Number.isInteger(x) && (x as number) >= 0))
  )
    throw fail('layers_to_transform', 'null or a list of block indices', layersRaw);
  const rslora = raw.use_rslora ?? false;
  if (typeof rslora !== 'boolean') throw fail('use_rslora', 'true or false', rslora);
  return { r, alpha, dropout, targets: targets as string[], rslora, layers: layers as number[] | null };
}

/**
 * Whether an adapter_config.json is a classifier's: task_type SEQ_CLS with the `score` head in modules_to_save (as
 * peft writes it). Other modules_to_save are refused: only the classifier's head is trained in full here.
 */
export function adapterHasHead(raw: Record<string, unknown>, file: string): boolean {
  const modules = raw.modules_to_save ?? [];
  if (!Array.isArray(modules) || !modules.every((m) => HEAD_MODULES.includes(m as string)))
    throw new WeightsError(
      `${file}: field 'modules_to_save', expected none or the classifier's head ${JSON.stringify(HEAD_MODULES)} (other fully trained modules are not supported), got ${JSON.stringify(modules)?.slice(0, 60)}`,
    );
  const head = modules.includes('score');
  if (head !== (raw.task_type === 'SEQ_CLS'))
    throw new WeightsError(
      `${file}: field 'task_type', expected ${head ? "'SEQ_CLS' with modules_to_save 'score'" : "a causal LM's (CAUSAL_LM or unset) without a 'score' head to save"}, got ${JSON.stringify(raw.task_type)}`,
    );
  return head;
}

/** The adapter's tensors of a model with attached adapters (and a classifier's head), under peft's names. */
export async function adapterTensors(
  model: LanguageModel,
  head: Linear | null = null,
): Promise<{ name: string; shape: number[]; data: Float32Array }[]> {
  const out = [];
  for (const [name, linear] of model.namedModules()) {
    if (!(linear instanceof Linear) || !linear.lora) continue;
    for (const [factor, t] of [
      ['lora_A', linear.lora.A],
      ['lora_B', linear.lora.B],
    ] as const)
      out.push({ name: peftKey(`${name}.${factor}.weight`), shape: [...t.shape], data: await t.readF32() });
  }
  if (head) out.push({ name: HEAD_KEY, shape: [...head.weight.shape], data: await head.weight.readF32() });
  return out;
}

/**
 * An adapter file's tensors under peft's saved names: a state dict saved with the adapter's name left in
 * (`….lora_A.default.weight`) is taken as peft's usual `….lora_A.weight`. Loading and merging both read through it.
 */
export function peftTensors(tensors: Map<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...tensors].map(([k, v]) => [k.replace(/\.default\.weight$/, '.weight'), v]));
}

/**
 * Load adapter tensors (peft's names) into the attached adapters, every one present with its shape; a classifier's
 * adapter loads its `score` head into `head` (and is refused without one: it is not a language model's).
 */
export function loadAdapterTensors(
  model: LanguageModel,
  saved: Map<string, Float32Array>,
  file: string,
  head: Linear | null = null,
): void {
  const tensors = peftTensors(saved);
  const expected = new Set<string>();
  if (head) {
    const data = tensors.get(HEAD_KEY);
    if (!data || data.length !== head.weight.size)
      throw new WeightsError(
        `${file}: tensor '${HEAD_KEY}', expected the classifier's head (${head.weight.shape.join('×')}), got ${data ? `${data.length} values` : 'none'}`,
      );
    head.load('weight', data);
    expected.add(HEAD_KEY);
  } else if (tensors.has(HEAD_KEY)) {
    throw new WeightsError(
      `${file}: tensor '${HEAD_KEY}', expected a language model's adapter, got a classifier's`,
      'a classifier adapter (task_type SEQ_CLS) needs labelled data: eval or train it with {"text","label"} rows',
    );
  }
  for (const [name, linear] of model.namedModules()) {
    if (!(linear instanceof Linear) || !linear.lora) continue;
    for (const [factor, t] of [
      ['lora_A', linear.lora.A],
      ['lora_B', linear.lora.B],
    ] as const) {
      const key = peftKey(`${name}.${factor}.weight`);
      expected.add(key);
      const data = tensors.get(key);
      if (!data)
        throw new WeightsError(
          `${file}: tensor '${key}', expected it for the adapter's target ${name}, got none`,
        );
      if (data.length !== t.size)
        throw new WeightsError(
          `${file}: tensor '${key}', expected ${t.size} values (${t.shape.join('×')}), got ${data.length}`,
        );
      model.load(`${name}.${factor}.weight`, data);
    }
  }
  const extra = [...tensors.keys()].find((k) => !expected.has(k));
  if (extra)
    throw new WeightsError(
      `${file}: tensor '${extra.slice(0, 80)}', expected only the adapter's targets, got one more`,
      'do target_modules and layers_to_transform match the tensors?',
    );
}

/**
 * W + scale·B·A for one layer, in float64 then rounded: W (out, in) as torch.nn.Linear keeps it, or (in, out) for
 * GPT-2's Conv1D (fan_in_fan_out), where the product is added transposed.
 */
export function mergedWeight(
  W: Float32Array,
  A: Float32Array, // (r, in)
  B: Float32Array, // (out, r)
  dims: { r: number; inFeatures: number; outFeatures: number; scale: number; fanInFanOut: boolean },
): Float32Array {
  const { r, inFeatures: nIn, outFeatures: nOut, scale, fanInFanOut } = dims;
  const out = new Float32Array(W.length);
  for (let o = 0; o < nOut; o++) {
    for (let i = 0; i < nIn; i++) {
      let d = 0;
      for (let k = 0; k < r; k++) d += B[o * r + k] * A[k * nIn + i];
      const at = fanInFanOut ? i * nOut + o : o * nIn + i;
      out[at] = W[at] + scale * d;
    }
  }
  return out;
}
