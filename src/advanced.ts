// webgpu-sft/advanced: the layers under fineTune, for those who build their own loop: tensors and autograd,
// modules, the optimizer, models and their weights, SFT data, batches, tasks and the Trainer, the self-test. It
// re-exports the main entry too. Nothing here imports a `node:` module (see src/index.ts).
/// <reference types="@webgpu/types" preserve="true" />
/// <reference lib="esnext.disposable" preserve="true" />
export * from './index.ts';

// --- Device ------------------------------------------------------------------------------------------------

/** The device wrapper: buffer pool, pipeline cache, `scope(name)` for step-owned memory, `stats()`, `dispose()`. */
export { Gpu, type GpuStats } from './gpu/gpu.ts';
/** A scope from `gpu.scope(name)`: buffers made inside are released at its end unless passed to `keep()`. */
export { Scope } from './gpu/buffers.ts';

// --- Tensors and autograd ----------------------------------------------------------------------------------

/** A GPU buffer with a shape and a dtype ('f32' | 'i32'): `Tensor.from(gpu, data, shape)`, `readF32()`. */
export { Tensor, numel, type DType, type TensorOptions } from './autograd/tensor.ts';
/**
 * Differentiable ops on tensors: matmul, add, mul, scale, sum, mean, reshape, transpose12, slice, softmax,
 * layernorm, rmsnorm, gelu, swiglu, rope, embedding, crossEntropy, dropout. Each records itself on the tape.
 */
export * as F from './autograd/functional.ts';
/** Runs `fn` without recording the tape (evaluation, generation). */
export { noGrad, manualSeed } from './autograd/tape.ts';

// --- Modules and optimizer ---------------------------------------------------------------------------------

/** A container of named parameters whose dotted names are Hugging Face safetensors keys; `train()` / `eval()`. */
export { Module } from './nn/module.ts';
/** Layers: Linear ('in-out' Conv1D or 'out-in' layout), LayerNorm, RMSNorm, Embedding, Dropout. */
export { Linear, LayerNorm, RMSNorm, Embedding, Dropout, type LinearOptions } from './nn/layers.ts';
/** AdamW on the GPU with global-norm clipping; frozen parameters (requiresGrad false) get no state. */
export { AdamW, type AdamWOptions, type AdamWState } from './optim/adamw.ts';

// --- Files -------------------------------------------------------------------------------------------------

/**
 * Reads a safetensors file from an ArrayBuffer, Uint8Array or Blob/File: the header now, each tensor on demand
 * (`getF32`, `getInt32`, `getRaw`), so a large File is never held in memory whole.
 */
export {
  readSafetensors,
  readShardedIndex,
  type TensorStore,
  type TensorInfo,
  type Dtype,
} from './io/safetensors.ts';
/** Serializes F32/F16 tensors to safetensors bytes (sorted names, `__metadata__.format = 'pt'`), e.g. for a Blob. */
export { type TensorToWrite } from './io/safetensors.ts';

// --- Tokenizers --------------------------------------------------------------------------------------------

/** The interface every tokenizer implements: encode, decode, eosId, bosId, addBosToken, vocabSize. */
export type { EncodeOptions } from './tokenizers/tokenizer.ts';

/** GPT-2 byte-level BPE from vocab.json + merges.txt text; `fromTokenizerJson` for an HF tokenizer.json. */
export { type Gpt2TokenizerOptions } from './tokenizers/gpt2-bpe.ts';

// --- Models ------------------------------------------------------------------------------------------------

/** GPT-2 (GPT2LMHeadModel): `new Gpt2Model(gpu, parseGpt2Config(json))`, then `loadGpt2Weights(model, store)`. */
export { Gpt2Model } from './models/gpt2/model.ts';
/** Validates a Hugging Face GPT-2 config.json object; refuses options that would need other math. */
export { parseGpt2Config, type Gpt2Config } from './models/gpt2/config.ts';
/** Loads every parameter from a TensorStore, checking names and shapes; `model.exportTensors()` writes them back. */
export { loadGpt2Weights } from './models/gpt2/weights.ts';
/**
 * The header of a store checked against a config before anything is allocated (every tensor present with its
 * shape, nothing extra), then `checkBufferLimits(plan, gpu.limits)`; the folder and file loaders do both.
 */
export { planGpt2Weights } from './models/gpt2/weights.ts';
export { planLlamaWeights } from './models/llama/weights.ts';
export { checkBufferLimits, planNote, type WeightsPlan } from './models/weights-plan.ts';
/** Llama (LlamaForCausalLM), built and loaded the same way as GPT-2. */
export { LlamaModel } from './models/llama/model.ts';
/** Validates a Hugging Face Llama config.json object. */
export { parseLlamaConfig, type LlamaConfig } from './models/llama/config.ts';
/** Loads Llama parameters from a TensorStore; `model.exportTensors()` writes them back. */
export { loadLlamaWeights } from './models/llama/weights.ts';

/**
 * Browser loader: `{ model, tokenizer }` from picked files (a FileList) or a Map of names to Blobs holding
 * config.json, model.safetensors (or a sharded index) and tokenizer.json, vocab.json + merges.txt or
 * tokenizer.model. config.json's model_type picks GPT-2 or Llama, as the Node folder loader does;
 * `loadGpt2FromFiles` accepts GPT-2 only and returns it typed as such.
 */
export { loadGpt2FromFiles, type LoadedGpt2 } from './models/load-browser.ts';

// --- Supervised fine-tuning ---------------------------------------------------------------------------------------

/**
 * SFT data: `parseJsonl(text, fileName)` detects prompt/completion, messages, text or text/label rows;
 * `tokenizeRows` marks loss targets; `truncateExamples`, seeded `shuffled` and `splitByRatios`; `renderChat`.
 */
export { tokenizeRow, tokenizeRows, truncateExamples, type Example } from './sft/dataset.ts';
export { renderChat, chatTemplateFor, assistantSpans, type ChatTemplate } from './sft/chat-template.ts';
/** What a checkpoint writes beside the weights: tokenizer_config.json (chat template, pad token), config.json's dtype. */
export { checkpointTokenizerConfig } from './sft/tokenizer-config.ts';
export { withDtype } from './sft/config-dtype.ts';
export { shuffled, splitByRatios } from './sft/splits.ts';
export { type JsonlData, type RowFormat, type ChatMessage } from './sft/jsonl.ts';
/** Causal-LM batches (padded or packed) and the per-epoch reshuffling source the trainer reads. */
export { lmBatches, epochBatches, IGNORE_INDEX, type LmBatch, type LmBatchOptions } from './sft/batching.ts';
/** Text/label rows for sequence classification: templates, label map, batches, the majority-class baseline. */
export {
  classificationData,
  classificationBatches,
  majorityBaseline,
  labelMap,
  applyTemplate,
  splitTemplate,
  TEXT_PLACEHOLDER,
  type ClassBatch,
  type ClassExample,
  type ClassificationData,
} from './sft/classification.ts';
/** A frozen or trainable language model plus a new `score` head (HF <Arch>ForSequenceClassification). */
export { SequenceClassifier } from './sft/classifier.ts';
/** The trainable tasks: masked next-token loss (LmTask), classification from ids (ClassificationTask) or from cached features (HeadTask). */
export { LmTask, ClassificationTask, HeadTask, type Task } from './sft/tasks.ts';
/** Feature-based fine-tuning's cache: each text's last-token features computed once, then batched per epoch. */
export {
  lastTokenFeatures,
  featureBatches,
  type FeatureExample,
  type FeatureBatch,
} from './sft/feature-cache.ts';
/**
 * The SFT loop: AdamW with warmup + decay, gradient accumulation, clipping, periodic evaluation, early stopping,
 * `shouldStop` polling (a Stop button) and an event per step; `evaluateBatches` for loss/perplexity/accuracy.
 */
export {
  Trainer,
  evaluateBatches,
  type TrainerOptions,
  type TrainerHooks,
  type TrainerState,
} from './sft/trainer.ts';
/** Full, layer-wise (N blocks frozen, or a name pattern) and head-only fine-tuning: sets requiresGrad. */
export { applyStrategy, countParameters, type ParameterReport } from './sft/finetune-modes.ts';
/**
 * One fine-tuning job from a loaded model, tokenizer and rows: the strategy applied, the module, task and batches
 * to hand the Trainer, the parameter counts, the config to save and a sample; the head trains on cached features.
 */
export { buildJob, type Job, type JobSettings, type JobContext, type JobData } from './sft/job.ts';
/**
 * LoRA as peft defines it: attach adapters to a model's Linear layers (peft's targets and init), their
 * adapter_config.json and adapter_model.safetensors tensors (peft's names; a classifier's with its `score` head),
 * and loading an adapter's tensors back.
 */
export {
  adapterConfig,
  adapterHasHead,
  adapterTensors,
  exportAdapter,
  attachLora,
  detachLora,
  loadAdapterTensors,
  LORA_DEFAULTS,
  loraScale,
  parseAdapterConfig,
  type AttachedAdapter,
  type LoraSettings,
} from './sft/lora.ts';
/** The learning rate at a step: constant, linear or cosine decay after a linear warmup. */
export { lrAt } from './sft/schedule.ts';

// --- Self-test ----------------------------------------------------------------------------------------------------

/**
 * Every kernel-vs-float64-reference check on this device (`filter` keeps kernels whose name contains it), as rows
 * with relative L2 errors and bounds; `passed` is false on any failure.
 */
export { runSelftest, formatSelftestRow, SELFTEST_HEADER, type SelftestRow } from './check/selftest.ts';
