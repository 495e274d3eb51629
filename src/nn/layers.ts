// The small layers models are built from: Linear (either weight layout), LayerNorm, RMSNorm, Embedding, Dropout.
import type { Gpu } from '../gpu/gpu.ts';
import type { Tensor } from '../autograd/tensor.ts';
import * as F from '../autograd/functional.ts';
import { checkpoint } from '../autograd/checkpoint.ts';
import { Module } from './module.ts';
import { ShapeError } from '../util/errors.ts';

export interface LinearOptions {
  bias?: boolean;
  /** 'in-out': weight [in, out] (GPT-2's Conv1D); 'out-in': weight [out, in] (torch.nn.Linear, Llama). */
  layout?: 'in-out' | 'out-in';
  init?: Float32Array;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly layout: 'in-out' | 'out-in';

  constructor(
    gpu: Gpu,
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super(gpu);
    this.layout = options.layout ?? 'out-in';
    const shape = this.layout === 'in-out' ? [inFeatures, outFeatures] : [outFeatures, inFeatures];
    this.weight = this.addParameter('weight', shape, options.init);
    this.bias = options.bias === false ? null : this.addParameter('bias', [outFeatures]);
  }

  /** A LoRA adapter on this layer (attachLora), as peft's: y = x·W (+ b) + scale · dropout(x)·Aᵀ·Bᵀ. */
  lora: { A: Tensor; B: Tensor; scale: number; dropout: number } | null = null;

  /**
   * Add trainable low-rank factors A (r, in), initialised to `initA`, and B (out, r), zero: the layer's output is
   * unchanged until B trains. W is never merged during training (merge writes W + scale·B·A on the CPU).
   */
  attachLora(r: number, scale: number, dropout: number, initA: Float32Array): void {
    if (this.lora) throw new ShapeError(`attachLora: adapter, expected none on this layer yet, got one`);
    const A = this.addParameter('lora_A.weight', [r, this.inFeatures], initA); // (r, in)
    const B = this.addParameter('lora_B.weight', [this.outFeatures, r]); // (out, r)
    this.lora = { A, B, scale, dropout };
  }

  /** Remove the adapter and free its factors: the layer is the plain Linear again. */
  detachLora(): void {
    if (!this.lora) return;
    this.removeParameter('lora_A.weight');
    this.removeParameter('lora_B.weight');
    this.lora = null;
  }

  forward(x: Tensor): Tensor {
    const y = F.matmul(x, this.weight, { transB: this.layout === 'out-in', bias: this.bias });
    if (!this.lora) return y;
    const { A, B, scale, dropout } = this.lora;
    const down = (input: Tensor) => F.matmul(F.dropout(input, dropout, this.training), A, { transB: true });
    // With dropout, A's gradient needs the dropped copy of x (as large as x, one per adapter): recomputed in backward
    // from x and the same random draws instead of held, for one more small (…, in)·(in, r) product.
    const low = dropout > 0 && this.training ? checkpoint(down, x, [A]) : down(x); // (..., r)
    return F.add(y, F.scale(F.matmul(low, B, { transB: true }), scale)); // (..., out)
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(
    gpu: Gpu,
    readonly C: number,
    readonly eps = 1e-5,
  ) {
    super(gpu);
    this.weight = this.addParameter('weight', [C], new Float32Array(C).fill(1));
    this.bias = this.addParameter('bias', [C]);
  }

  forward(x: Tensor): Tensor {
    return F.layernorm(x, this.weight, this.bias, this.eps);
  }
}

/** Llama's norm: a weight (C), initialized to ones, and no bias. */
export class RMSNorm extends Module {
  readonly weight: Tensor;

  constructor(
    gpu: Gpu,
    readonly C: number,
    readonly eps = 1e-6,
  ) {
    super(gpu);
    this.weight = this.addParameter('weight', [C], new Float32Array(C).fill(1));
  }

  forward(x: Tensor): Tensor {
    return F.rmsnorm(x, this.weight, this.eps);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    gpu: Gpu,
    readonly V: number,
    readonly C: number,
  ) {
    super(gpu);
    this.weight = this.addParameter('weight', [V, C]);
  }

  forward(ids: Tensor): Tensor {
    return F.embedding(ids, this.weight);
  }
}

export class Dropout extends Module {
  constructor(
    gpu: Gpu,
    public p: number,
  ) {
    super(gpu);
  }

  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}
