// AdamW over named parameters on the GPU: global-norm clipping (computed on the GPU, no read-back), the fused
// update kernel, per-group weight decay, and state that exports/imports for checkpoints. Frozen parameters
// (requiresGrad false) get no state at all.
import type { Gpu } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { adamwUpdate, NO_BAD_SLOT } from '../kernels/adamw.ts';
import { gradNorm } from '../kernels/grad-norm.ts';
import type { Tensor } from '../autograd/tensor.ts';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip the global gradient L2 norm to this value; 0 = off. */
  clipGradNorm?: number;
  /** Which parameters decay; default: matrices and embeddings (rank ≥ 2), not biases or LayerNorm. */
  decays?: (name: string, t: Tensor) => boolean;
}

export interface AdamWState {
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

interface Slot {
  name: string;
  param: Tensor;
  m: GPUBuffer;
  v: GPUBuffer;
  decay: boolean;
}

/** A persistent float32 buffer of n zeros, filled on the GPU (no CPU copy of the model's size). */
function zeros(gpu: Gpu, label: string, n: number): GPUBuffer {
  const buf = gpu.alloc(label, n * 4, true);
  gpu.clear(buf);
  return buf;
}

export class AdamW {
  stepCount = 0;
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly clipGradNorm: number;
  private readonly slots: Slot[];
  private readonly norm: GPUBuffer;
  private readonly scale: GPUBuffer;
  private readonly status: GPUBuffer; // (1) u32: the first slot whose update is not finite, or NO_BAD_SLOT

  constructor(
    readonly gpu: Gpu,
    named: [string, Tensor][],
    options: AdamWOptions,
  ) {
    this.lr = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.clipGradNorm = options.clipGradNorm ?? 0;
    const decays = options.decays ?? ((_name: string, t: Tensor) => t.shape.length >= 2);
    this.slots = named
      .filter(([, t]) => t.requiresGrad)
      .map(([name, param]) => ({
        name,
        param,
        m: zeros(gpu, `${name}.adam_m`, param.size),
        v: zeros(gpu, `${name}.adam_v`, param.size),
        decay: decays(name, param),
      }));
    this.norm = gpu.upload('adamw.grad_norm', new Float32Array(1), true);
    this.scale = gpu.upload('adamw.clip_scale', new Float32Array([1]), true);
    this.status = gpu.upload('adamw.status', Uint32Array.of(NO_BAD_SLOT), true);
  }

  /** Bytes of optimizer state (m and v) on the GPU. */
  get stateBytes(): number {
    return this.slots.reduce((s, slot) => s + slot.param.size * 8, 0);
  }

  zeroGrad(): void {
    for (const { param } of this.slots) param.gradIsZero = true;
  }

  /** One update of every parameter that received a gradient since zeroGrad(). */
  step(): void {
    const live = this.slots.filter((s) => s.param.grad && !s.param.gradIsZero);
    if (live.length === 0) return;
    this.stepCount++;
    const grads = live.map((s) => ({ buffer: s.param.grad!.buf(), n: s.param.size }));
    gradNorm(this.gpu, this.norm, this.scale, grads, this.clipGradNorm);
    for (const s of live) {
      adamwUpdate(this.gpu, s.param.buf(), s.m, s.v, s.param.grad!.buf(), this.scale, this.status, {
        n: s.param.size,
        lr: this.lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        weightDecay: s.decay ? this.weightDecay : 0,
        step: this.stepCount,
        slot: this.slots.indexOf(s),
      });
    }
  }

  /** The global gradient norm of the last step, before clipping. */
  async lastGradNorm(): Promise<number> {
    return (await this.gpu.read(this.norm, 'f32', 1))[0];
  }

  /**
   * The first parameter (in the order given) whose weights are not all finite after the updates so far, or null.
   * The AdamW kernel flags them as it writes, so this costs one 4-byte read.
   */
  async nonFiniteParameter(): Promise<string | null> {
    const slot = (await this.gpu.read(this.status, 'u32', 1))[0];
    if (slot === NO_BAD_SLOT) return null;
    this.gpu.write(this.status, Uint32Array.of(NO_BAD_SLOT));
    return this.slots[slot]?.name ?? `parameter ${slot}`;
  }

  async exportState(): Promise<AdamWState> {
    const state: AdamWState = { step: this.stepCount, m: {}, v: {} };
    for (const s of this.slots) {
      state.m[s.name] = await this.gpu.read(s.m, 'f32', s.param.size);
      state.v[s.name] = await this.gpu.read(s.v, 'f32', s.param.size);
    }
    return state;
  }

  importState(state: AdamWState): void {
    for (const s of this.slots) {
      for (const [what, buf] of [
        ['m', s.m],
        ['v', s.v],
      ] as const) {
        const data = state[what][s.name];
        if (!data || data.length !== s.param.size) {
          throw new ShapeError(
            `optimizer state: '${s.name}' ${what}, expected ${s.param.size} values, got ${data?.length ?? 'none'}`,
          );
        }
        this.gpu.write(buf, data);
      }
    }
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const s of this.slots) {
      this.gpu.destroy(s.m);
      this.gpu.destroy(s.v);
    }
    this.gpu.destroy(this.norm);
    this.gpu.destroy(this.scale);
    this.gpu.destroy(this.status);
  }
}
