// Tensor: a GPU buffer with a shape, a dtype and, when it takes part in autograd, the tape node that made it.
// Views (reshape, detach) share their base's buffer. Reading back is explicit and async.
import type { Gpu } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { storageBytes, unpackHalves, type HalfDtype } from '../util/half.ts';
import { backward, type AnyNode } from './tape.ts';

/** f16 and bf16 are packed two to a u32 (util/half.ts): frozen weights only, read by matmul and embedding. */
export type DType = 'f32' | 'i32' | HalfDtype;

export const isHalf = (dtype: DType): dtype is HalfDtype => dtype === 'f16' || dtype === 'bf16';

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
  private allocId: number;

  constructor(
    readonly gpu: Gpu,
    // Both change only through restore(): a parameter moved to another dtype.
    public buffer: GPUBuffer,
    readonly shape: readonly number[],
    public dtype: DType,
    public requiresGrad: boolean,
    readonly label: string,
    /** The tensor whose buffer this view shares, or null when it owns its buffer. */
    readonly base: Tensor | null = null,
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0)
        throw new ShapeError(`${label}: shape, expected non-negative integers, got ${shapeString(shape)}`);
    }
    this.allocId = base ? base.allocId : (gpu.pool.meta(buffer)?.id ?? -1);
  }

  static empty(
    gpu: Gpu,
    shape: readonly number[],
    label: string,
    dtype: DType = 'f32',
    options: TensorOptions = {},
  ): Tensor {
    const buffer = gpu.alloc(label, storageBytes(dtype, numel(shape)), options.persistent ?? false);
    return new Tensor(gpu, buffer, shape, dtype, options.requiresGrad ?? false, label);
  }

  static from(
    gpu: Gpu,
    data: Float32Array | Int32Array,
    shape: readonly number[],
    options: TensorOptions = {},
  ): Tensor {
    const label = options.label ?? 'tensor';
    if (data.length !== numel(shape)) {
      throw new ShapeError(
        `${label}: data length, expected ${numel(shape)} for shape ${shapeString(shape)}, got ${data.length}`,
      );
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
    if (isHalf(this.dtype)) return this.readF32();
    const buf = this.buf();
    return this.dtype === 'f32' ? this.gpu.read(buf, 'f32', this.size) : this.gpu.read(buf, 'i32', this.size);
  }

  /** The values as f32: f16 and bf16 widened (exact). */
  async readF32(): Promise<Float32Array> {
    const dtype = this.dtype;
    if (isHalf(dtype))
      return unpackHalves(await this.gpu.read(this.buf(), 'u32', Math.ceil(this.size / 2)), this.size, dtype);
    if (dtype !== 'f32')
      throw new ShapeError(`${this.label}: readF32, expected dtype f32, f16 or bf16, got ${dtype}`);
    return this.gpu.read(this.buf(), 'f32', this.size);
  }

  /**
   * Move an owning tensor (a parameter) to a new buffer of another dtype, holding the same values: the old buffer
   * is destroyed. Views and the tape keep no reference to parameters' buffers between steps.
   */
  restore(buffer: GPUBuffer, dtype: DType): void {
    if (this.base)
      throw new ShapeError(`${this.label}: restore, expected a tensor owning its buffer, got a view`);
    this.gpu.destroy(this.buf());
    this.buffer = buffer;
    this.dtype = dtype;
    this.allocId = this.gpu.pool.meta(buffer)?.id ?? -1;
  }

  /** Backpropagate from this scalar into every leaf that requires grad. */
  backward(): void {
    backward(this);
  }

  /** A view of the same data, outside autograd. */
  detach(): Tensor {
    return new Tensor(
      this.gpu,
      this.buf(),
      this.shape,
      this.dtype,
      false,
      `${this.label}.detach`,
      this.base ?? this,
    );
  }

  /** Release the buffer (and the gradient's) to the pool; views release nothing. */
  dispose(): void {
    if (this.base || this.disposed) return;
    this.gpu.release(this.buffer);
    this.grad?.dispose();
    this.grad = null;
  }
}
