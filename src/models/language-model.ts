// What the trainer, generation and the CLI need from any causal language model (GPT-2, Llama).
import type { Tensor } from '../autograd/tensor.ts';
import type { Module } from '../nn/module.ts';
import type { KvCache } from './kv-cache.ts';
import type { TensorToWrite } from '../io/safetensors.ts';

export interface LanguageModel extends Module {
  readonly kind: 'gpt2' | 'llama';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly contextLength: number;
  readonly numLayers: number;
  /** config.json as loaded, carried into checkpoints. */
  readonly rawConfig: Record<string, unknown>;
  /** The transformers classes a checkpoint of it is saved as (config.json architectures). */
  readonly hfClasses: { causalLm: string; classifier: string };
  /** Final hidden states (B, T, C) for ids (B, T). */
  hidden(ids: Tensor): Tensor;
  /** Next-token logits (..., V) from hidden states. */
  logits(hidden: Tensor): Tensor;
  /** The LM head's weight (V, C), so that logits(hidden) = hidden · headWeight()ᵀ (the fused loss takes it). */
  headWeight(): Tensor;
  forward(ids: Tensor): Tensor;
  createCache(maxT?: number): KvCache;
  forwardCached(ids: number[], cache: KvCache): Tensor;
  /** The block a parameter belongs to, or null (embeddings, final norm, head). */
  layerIndex(name: string): number | null;
  isEmbedding(name: string): boolean;
  /** Recompute each block's activations in backward instead of keeping them (activation checkpointing). */
  gradientCheckpointing: boolean;
  /** Set every dropout probability (the --dropout override). */
  setDropout(p: number): void;
  /** Parameters as HF-named tensors for safetensors. */
  exportTensors(): Promise<TensorToWrite[]>;
}
