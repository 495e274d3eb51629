// Tensor: a GPU buffer with a shape, a dtype and, when it takes part in autograd, the tape node that made it.
// Views (reshape, detach) share their base's buffer. Reading back is explicit and async.
import type { Gpu } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { backward, type AnyNode } from './tape.ts';

export type DType = 'f32' | 'i32';

export interface TensorOptions {
  label?: string;
  requiresGrad?: boolean;
  /** Owned by the caller (parameters, optimizer state) instead of the innermost scope. */
  persistent?: boolean;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export class Tensor {
  grad: Tensor | null = null;
  /** The grad buffer holds stale values that count as zero (set by zeroGrad, cleared by the first write). */
  gradIsZero = true;
  creator: AnyNode | null = null;
  private readonly allocId: number;

  constructor(
    readonly gpu: Gpu,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    public requiresGrad: boolean,
    readonly label: string,
    /** The tensor whose buffer this view shares, or null when it owns its buffer. */
    readonly base: Tensor | null = null,
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${label}: shape, expected non-negative integers, got ${shapeString(shape)}`);
    }
    this.allocId = base ? base.allocId : (gpu.pool.meta(buffer)?.id ?? -1);
  }

  static empty(gpu: Gpu, shape: readonly number[], label: string, dtype: DType = 'f32', options: TensorOptions = {}): Tensor {
    const buffer = gpu.alloc(label, numel(shape) * 4, options.persistent ?? false);
    return new Tensor(gpu, buffer, shape, dtype, options.requiresGrad ?? false, label);
  }

  static from(gpu: Gpu, data: Float32Array | Int32Array, shape: readonly number[], options: TensorOptions = {}): Tensor {
    const label = options.label ?? 'tensor';
    if (data.length !== numel(shape)) {
      throw new ShapeError(`${label}: data length, expected ${numel(shape)} for shape ${shapeString(shape)}, got ${data.length}`);
    }
    const dtype: DType = data instanceof Int32Array ? 'i32' : 'f32';
    const buffer = gpu.upload(label, data, options.persistent ?? false);
    return new Tensor(gpu, buffer, shape, dtype, options.requiresGrad ?? false, label);
  }

  get size(): number {
    return numel(this.shape);
  }

  get disposed(): boolean {
    return this.gpu.pool.meta(this.buffer)?.id !== this.allocId;
  }

  /** The buffer, after checking this tensor was not released (a released buffer may already hold other data). */
  buf(): GPUBuffer {
    if (this.disposed) {
      throw new ShapeError(
        `${this.label}: tensor used after dispose, expected a live tensor, got one whose buffer was released`,
        'keep it past its scope with scope.keep(tensor.buffer) or create it outside the scope',
      );
    }
    return this.buffer;
  }

  async read(): Promise<Float32Array | Int32Array> {
    const buf = this.buf();
    return this.dtype === 'f32' ? this.gpu.read(buf, 'f32', this.size) : this.gpu.read(buf, 'i32', this.size);
  }

  async readF32(): Promise<Float32Array> {
    if (this.dtype !== 'f32') throw new ShapeError(`${this.label}: readF32, expected dtype f32, got ${this.dtype}`);
    return this.gpu.read(this.buf(), 'f32', this.size);
  }

  /** Backpropagate from this scalar into every leaf that requires grad. */
  backward(): void {
    backward(this);
  }

  /** A view of the same data, outside autograd. */
  detach(): Tensor {
    return new Tensor(this.gpu, this.buf(), this.shape, this.dtype, false, `${this.label}.detach`, this.base ?? this);
  }

  /** Release the buffer (and the gradient's) to the pool; views release nothing. */
  dispose(): void {
    if (this.base || this.disposed) return;
    this.gpu.release(this.buffer);
    this.grad?.dispose();
    this.grad = null;
  }
}
