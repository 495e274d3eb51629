// A model's stack of blocks, run in turn; with activation checkpointing (autograd/checkpoint.ts) each block keeps
// only its input, and its forward runs again during backward.
import type { Tensor } from '../autograd/tensor.ts';
import { checkpoint } from '../autograd/checkpoint.ts';
import type { Module } from './module.ts';

export interface Block extends Module {
  forward(x: Tensor): Tensor;
}

export function throughBlocks(blocks: readonly Block[], x: Tensor, checkpointing: boolean): Tensor {
  for (const block of blocks)
    x = checkpointing ? checkpoint((h) => block.forward(h), x, block.parameters()) : block.forward(x);
  return x;
}
