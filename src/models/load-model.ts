// Chooses and loads a causal LM from a model folder's files (NamedFiles: a folder on disk, or Blobs in a page):
// config.json's model_type picks the architecture, model.safetensors or its sharded index holds the weights, and
// load-tokenizer.ts picks the tokenizer from the files present. load-node.ts and load-browser.ts both use it.
import type { Gpu } from '../gpu/gpu.ts';
import { InputError, WeightsError } from '../util/errors.ts';
import { readJsonObject, type NamedFiles } from '../io/named-files.ts';
import type { TensorStore } from '../io/safetensors.ts';
import { loadTokenizerFrom } from '../tokenizers/load-tokenizer.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { parseGpt2Config } from './gpt2/config.ts';
import { Gpt2Model } from './gpt2/model.ts';
import { planGpt2Weights } from './gpt2/weights.ts';
import { parseLlamaConfig } from './llama/config.ts';
import { LlamaModel } from './llama/model.ts';
import { planLlamaWeights } from './llama/weights.ts';
import { loadPlannedWeights } from './named-weights.ts';
import { loadedDtype, type WeightDtype } from '../nn/weight-dtype.ts';
import { createWithMatrixDtype } from '../nn/module.ts';
import { checkBufferLimits, fileMatrixDtype, planNote, type WeightsPlan } from './weights-plan.ts';

/** Every model this loader builds; `model.kind` tells them apart. */
export type AnyModel = Gpt2Model | LlamaModel;
export type ModelKind = AnyModel['kind'];

/** Where a loader announces what the model will hold (planNote), before allocating it. */
export interface LoadOptions {
  log?: (line: string) => void;
  /**
   * How weight matrices are stored (nn/weight-dtype.ts): 'float32' (default) widens all; 'auto' keeps an F16 or
   * BF16 file's matrices 16-bit; 'bfloat16' / 'float16' round them. Training makes trained ones f32 (storeWeights).
   */
  dtype?: WeightDtype;
}

// A parsed config and how to build its model. Parsing (cheap, validates fields) comes first; build then checks the
// safetensors header against the config and the device's limits (no tensor data read), and only then allocates.
interface Plan<M extends AnyModel> {
  vocabSize: number;
  /** The model with every parameter allocated and no weights read (the memory planner's meta device). */
  create(gpu: Gpu): M;
  build(gpu: Gpu, store: TensorStore, options?: LoadOptions): Promise<M>;
}

const PLANS: {
  [K in ModelKind]: (raw: Record<string, unknown>, file: string) => Plan<AnyModel & { kind: K }>;
} = {
  gpt2: (raw, file) => {
    const config = parseGpt2Config(raw, file);
    return {
      vocabSize: config.vocabSize,
      create: (gpu) => new Gpt2Model(gpu, config),
      build: (gpu, store, options) =>
        construct(gpu, planGpt2Weights(config, store, file), () => new Gpt2Model(gpu, config), options),
    };
  },
  llama: (raw, file) => {
    const config = parseLlamaConfig(raw, file);
    return {
      vocabSize: config.vocabSize,
      create: (gpu) => new LlamaModel(gpu, config),
      build: (gpu, store, options) =>
        construct(gpu, planLlamaWeights(config, store, file), () => new LlamaModel(gpu, config), options),
    };
  },
};

async function construct<M extends AnyModel>(
  gpu: Gpu,
  weights: WeightsPlan,
  create: () => M,
  options: LoadOptions = {},
): Promise<M> {
  // Every parameter is allocated with its matrices already in the dtype they will be loaded as (a 16-bit file's, for
  // auto), so the limits and the note count those at 2 bytes.
  const matrices = loadedDtype(
    options.dtype ?? 'float32',
    fileMatrixDtype(weights.tensors.map((t) => t.info)),
  );
  checkBufferLimits(weights, gpu.limits, gpu.description, matrices);
  options.log?.(planNote(weights, matrices));
  const model = createWithMatrixDtype(matrices, create);
  try {
    await loadPlannedWeights(model, weights, options.dtype);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

const listed = (files: NamedFiles) => `[${files.names.join(', ')}]`;

export async function readModelConfig(files: NamedFiles): Promise<Record<string, unknown>> {
  if (!files.has('config.json')) {
    throw new InputError(
      `${files.where}: config.json, expected a Hugging Face config file, got ${listed(files)}`,
      'a model folder holds config.json, model.safetensors and the tokenizer files',
    );
  }
  return readJsonObject(files, 'config.json');
}

export async function openModelWeights(files: NamedFiles): Promise<TensorStore> {
  if (files.has('model.safetensors')) return files.safetensors('model.safetensors');
  if (files.has('model.safetensors.index.json')) return files.shardedIndex('model.safetensors.index.json');
  throw new InputError(
    `${files.where}: weights, expected model.safetensors or model.safetensors.index.json, got ${listed(files)}`,
    'only safetensors checkpoints are read (no pytorch_model.bin)',
  );
}

// config.json model_type → the model class that runs it (Qwen2 and Qwen3 are Llama with options: llama/config.ts).
const MODEL_TYPES: Record<string, ModelKind> = {
  gpt2: 'gpt2',
  llama: 'llama',
  qwen2: 'llama',
  qwen3: 'llama',
};

/** The architecture config.json names in model_type. */
export function modelKind(raw: Record<string, unknown>, file: string): ModelKind {
  const kind = raw.model_type;
  if (typeof kind === 'string' && Object.hasOwn(MODEL_TYPES, kind)) return MODEL_TYPES[kind];
  const kinds = Object.keys(MODEL_TYPES).join(', ');
  throw new WeightsError(
    `${file}: field 'model_type', expected one of ${kinds}, got ${JSON.stringify(kind)}`,
  );
}

/** One architecture regardless of model_type (its config parser still refuses a different one). */
export async function loadModelAs<K extends ModelKind>(
  gpu: Gpu,
  files: NamedFiles,
  kind: K,
  options?: LoadOptions,
): Promise<AnyModel & { kind: K }> {
  const plan = PLANS[kind](await readModelConfig(files), files.path('config.json'));
  return plan.build(gpu, await openModelWeights(files), options);
}

/** A model of config.json's shape with its parameters allocated and nothing loaded (for the meta device). */
export function createModelFromConfig(gpu: Gpu, raw: Record<string, unknown>, file: string): AnyModel {
  return PLANS[modelKind(raw, file)](raw, file).create(gpu);
}

/** Any supported model, chosen by config.json's model_type. */
export async function loadModelFrom(gpu: Gpu, files: NamedFiles, options?: LoadOptions): Promise<AnyModel> {
  const raw = await readModelConfig(files);
  const file = files.path('config.json');
  return PLANS[modelKind(raw, file)](raw, file).build(gpu, await openModelWeights(files), options);
}

/**
 * Model and tokenizer together, cheapest checks first: config, tokenizer (its vocabulary must fit the model's),
 * weights. `kind` forces one architecture; by default model_type chooses.
 */
export async function loadModelAndTokenizer<K extends ModelKind = ModelKind>(
  gpu: Gpu,
  files: NamedFiles,
  kind?: K,
  options?: LoadOptions,
): Promise<{ model: AnyModel & { kind: K }; tokenizer: Tokenizer }> {
  const raw = await readModelConfig(files);
  const file = files.path('config.json');
  // model_type chose K when no kind was given, so the plan builds an AnyModel & { kind: K } either way.
  const plan = PLANS[kind ?? modelKind(raw, file)](raw, file) as Plan<AnyModel & { kind: K }>;
  const tokenizer = await loadTokenizerFrom(files);
  checkTokenizerFits(tokenizer, raw, plan.vocabSize, files.where, file);
  const model = await plan.build(gpu, await openModelWeights(files), options);
  return { model, tokenizer };
}

/**
 * Every id the tokenizer can produce, and the special ids config.json names (BOS, EOS, pad), must be a row of the
 * model's embedding: a larger one would index past it. One line, naming the vocabulary or the id.
 */
export function checkTokenizerFits(
  tokenizer: Tokenizer,
  raw: Record<string, unknown>,
  vocabSize: number,
  where: string,
  file: string,
): void {
  const fits = `at most ${file} vocab_size ${vocabSize}`;
  if (tokenizer.vocabSize > vocabSize) {
    throw new WeightsError(
      `${where}: tokenizer vocabulary size, expected ${fits}, got ${tokenizer.vocabSize}`,
      'are the tokenizer files from the same model as config.json?',
    );
  }
  const ids: [string, unknown][] = [
    ['tokenizer BOS id', tokenizer.bosId],
    ['tokenizer EOS id', tokenizer.eosId],
    [`${file} bos_token_id`, raw.bos_token_id],
    [`${file} eos_token_id`, raw.eos_token_id],
    [`${file} pad_token_id`, raw.pad_token_id],
  ];
  for (const [what, id] of ids) {
    // Llama 3 lists several EOS ids; a negative or missing id means none (some configs write pad_token_id -1).
    for (const one of Array.isArray(id) ? (id as unknown[]) : [id]) {
      if (typeof one === 'number' && Number.isInteger(one) && one >= vocabSize) {
        throw new WeightsError(
          `${where}: ${what}, expected an id below ${file} vocab_size ${vocabSize}, got ${one}`,
        );
      }
    }
  }
}
