// webgpu-sft/node: what only Node has, files. Model and tokenizer from a Hugging Face folder, JSONL files, and a
// checkpoint folder that loads back here and in transformers. Re-exports createDevice (Dawn: `npm install webgpu`).
/// <reference types="@webgpu/types" preserve="true" />
/// <reference lib="esnext.disposable" preserve="true" />
export { createDevice, type DeviceOptions } from './gpu/device.ts';
/** Any supported causal LM from a Hugging Face folder (config.json + model.safetensors), by config.json's model_type. */
export { loadModel } from './models/load-node.ts';
/** Model and tokenizer from one folder, checked against each other before the weights are read. */
export { loadModelAndTokenizerFromFolder } from './models/load-node.ts';
/** A JSONL file's checked rows, for fineTune's train, val and test. */
export { readJsonlFile } from './sft/dataset-node.ts';
/** Writes a fine-tuned model as a checkpoint folder (weights, config.json, tokenizer files, training_args.json). */
export { saveFineTuned as saveCheckpoint, type SaveOptions } from './sft/save-node.ts';
