// Module: a container of named parameters and child modules. Names are dotted paths, so a model built with the
// Hugging Face structure yields the Hugging Face keys (`transformer.h.0.attn.c_attn.weight`).
import type { Gpu } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { Tensor, isHalf, numel, shapeString } from '../autograd/tensor.ts';
import { packHalves, type HalfDtype } from '../util/half.ts';
import type { TensorToWrite } from '../io/safetensors.ts';

/** The low-rank factors a LoRA adapter adds to a Linear (`….lora_A.weight`, `….lora_B.weight`). */
export const isAdapterParameter = (name: string): boolean => /(^|\.)lora_[AB]\.weight$/.test(name);

// The dtype new matrix parameters get while a model is being built for a 16-bit file (createWithMatrixDtype), so
// loading never holds them as f32 first; everything else starts f32.
let buildingMatrixDtype: 'f32' | HalfDtype = 'f32';

/** Run `create` (a model's constructor) with its 2-D parameters allocated as `dtype` (zero-filled, then loaded). */
export function createWithMatrixDtype<T>(dtype: 'f32' | HalfDtype, create: () => T): T {
  const before = buildingMatrixDtype;
  buildingMatrixDtype = dtype;
  try {
    return create();
  } finally {
    buildingMatrixDtype = before;
  }
}

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  constructor(readonly gpu: Gpu) {}

  protected addParameter(name: string, shape: number[], init?: Float32Array): Tensor {
    if (init && init.length !== numel(shape)) {
      throw new ShapeError(
        `${name}: init length, expected ${numel(shape)} for ${shapeString(shape)}, got ${init.length}`,
      );
    }
    // Without init: zeros filled on the GPU (no CPU copy of the tensor; the loader writes the weights next).
    const options = { label: name, requiresGrad: true, persistent: true };
    const dtype = shape.length === 2 ? buildingMatrixDtype : 'f32';
    const t = init
      ? Tensor.from(this.gpu, init, shape, options)
      : Tensor.empty(this.gpu, shape, name, dtype, options);
    if (!init) this.gpu.clear(t.buffer);
    this.params.set(name, t);
    return t;
  }

  /** Drop a parameter added with addParameter and free its buffers (a detached adapter). */
  protected removeParameter(name: string): void {
    const t = this.params.get(name);
    if (!t) return;
    t.grad?.dispose();
    t.grad = null;
    this.gpu.destroy(t.buffer);
    this.params.delete(name);
  }

  protected addModule<M extends Module>(name: string, module: M): M {
    this.children.set(name, module);
    return module;
  }

  /** Every parameter with its full dotted name, in registration order. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, t] of this.params) out.push([prefix + name, t]);
    for (const [name, child] of this.children)
      out.push(...child.namedParameters(name ? `${prefix}${name}.` : prefix));
    return out;
  }

  /** This module and every descendant with its dotted name ('' for this one), depth first. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.children)
      out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  /**
   * The model's own parameters read back under their HF names, ready for serializeSafetensors: F32, or F16 / BF16
   * for a weight held in 16 bits (as loaded, nothing lost). A LoRA adapter's tensors are not the model's (they are
   * saved in peft's layout, see sft/lora.ts).
   */
  async exportTensors(): Promise<TensorToWrite[]> {
    const out: TensorToWrite[] = [];
    for (const [name, p] of this.namedParameters()) {
      if (isAdapterParameter(name)) continue;
      const dtype = p.dtype === 'f16' ? 'F16' : p.dtype === 'bf16' ? 'BF16' : 'F32';
      out.push({ name, dtype, shape: [...p.shape], data: await p.readF32() });
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Training mode turns dropout on; eval mode off. */
  train(on = true): this {
    this.training = on;
    for (const child of this.children.values()) child.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Overwrite a parameter's values (e.g. from a checkpoint), rounded to its dtype when it is held in 16 bits. */
  load(name: string, data: Float32Array): void {
    const t = this.namedParameters().find(([n]) => n === name)?.[1];
    if (!t)
      throw new ShapeError(
        `load: parameter '${name}', expected one of this model's names, got an unknown name`,
      );
    if (data.length !== t.size) {
      throw new ShapeError(
        `load: '${name}' length, expected ${t.size} for ${shapeString(t.shape)}, got ${data.length}`,
      );
    }
    this.gpu.write(t.buf(), isHalf(t.dtype) ? packHalves(data, t.dtype) : data);
  }

  dispose(): void {
    for (const t of this.parameters()) {
      t.grad?.dispose();
      t.grad = null;
      this.gpu.destroy(t.buffer);
    }
  }
}
