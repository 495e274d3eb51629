// webgpu-sft: fine-tune Hugging Face language models on the GPU through WebGPU, in a browser, a Worker or Node.
// The layers under fineTune (Trainer, tasks, batches, tensors, kernels) are in 'webgpu-sft/advanced'; Node's folder
// loaders and checkpoints in 'webgpu-sft/node'. Nothing here imports a `node:` module: createDevice's one Node path,
// Dawn, is a dynamic import that the browser build replaces by a stub (vite.config.ts).
/// <reference types="@webgpu/types" preserve="true" />
/// <reference lib="esnext.disposable" preserve="true" />

/**
 * Opens a WebGPU device with the adapter's maximum buffer limits (model weights exceed the 128 MiB defaults).
 * Uses `navigator.gpu` in a browser or Worker (a secure context) and Dawn (the npm `webgpu` package, an optional
 * peer dependency) in Node, falling back to the SwiftShader software adapter with a one-line notice.
 */
export { createDevice, type DeviceOptions } from './gpu/device.ts';
/** The device: `stats()`, `dispose()`; pass it to the loaders. */
export type { Gpu } from './gpu/gpu.ts';
/**
 * Every error the library throws on purpose. Messages read `<where>: <what>, expected <x>, got <y>`, with an
 * optional `hint:` line. ShapeError: tensor shapes; WeightsError: model files; ShaderError: WGSL compilation;
 * InputError: user data and options; DeviceError: no adapter or a lost device.
 */
export { ShapeError, WeightsError, ShaderError, InputError, DeviceError } from './util/errors.ts';

/**
 * `{ model, tokenizer }` from files: a FileList, or a Map of names to Blobs (e.g. fetched), holding config.json,
 * model.safetensors (or a sharded index) and tokenizer.json, vocab.json + merges.txt or tokenizer.model.
 * config.json's model_type picks GPT-2 or Llama. In Node, `loadModel(gpu, folder)` from 'webgpu-sft/node'.
 */
export {
  loadModelFromFiles,
  filesByName,
  type LoadedModel,
  type FileListLike,
} from './models/load-browser.ts';
/** What the loaders return (GPT-2 or Llama; `model.kind` says which) and what `generate` and `fineTune` take. */
export type { AnyModel } from './models/load-model.ts';
export type { LanguageModel } from './models/language-model.ts';
/** Tokenizers: encode, decode, eosId, bosId; `modelInput` puts BOS first where the tokenizer adds one. */
export type { Tokenizer } from './tokenizers/tokenizer.ts';
export { modelInput } from './tokenizers/tokenizer.ts';
export { Gpt2Tokenizer } from './tokenizers/gpt2-bpe.ts';
export { fromTokenizerJson } from './tokenizers/byte-level-bpe-json.ts';
export {
  SentencePieceTokenizer,
  fromSentencePieceModel,
  fromLlamaTokenizerJson,
} from './tokenizers/sentencepiece.ts';
/** Autoregressive generation with a KV cache: greedy, temperature, top-k, top-p; returns the new token ids. */
export { generate, type GenerateOptions } from './models/generate.ts';

/**
 * One call to fine-tune: `fineTune({ model, tokenizer, train, val?, test?, strategy?, ...settings, onEvent?,
 * signal? })`. Rows are plain objects ({prompt, completion}, {messages}, {text}, {text, label}) or JSONL text;
 * every setting defaults as in the CLI (SFT_DEFAULTS); aborting `signal` stops after the current step.
 */
export {
  fineTune,
  type FineTuneOptions,
  type FineTuneResult,
  type FineTuneSettings,
  type Rows,
} from './sft/fine-tune.ts';
export { SFT_DEFAULTS, HEAD_DEFAULTS, type SftDefaults } from './sft/defaults.ts';
/** LoRA: the adapters' defaults (peft's) and settings, for fineTune's `lora` option. */
export { LORA_DEFAULTS, type LoraSettings } from './sft/lora.ts';
export type { TrainEvent, Metrics } from './sft/trainer.ts';
export type { Strategy } from './sft/finetune-modes.ts';
export type { LrSchedule } from './sft/schedule.ts';
/** JSONL text to checked rows, as fineTune reads it: `parseJsonl(text, fileName)`. */
export { parseJsonl, type DataRow } from './sft/jsonl.ts';
/** Loss, perplexity and accuracy of a model on rows, as fineTune evaluates. */
export { evaluate, type EvaluateOptions } from './sft/evaluate.ts';
/** Safetensors bytes of F32/F16 tensors (e.g. `serializeSafetensors(await model.exportTensors())` for a download). */
export { serializeSafetensors } from './io/safetensors.ts';
