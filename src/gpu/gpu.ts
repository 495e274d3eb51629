// The runtime every kernel dispatches through: one pending command encoder per step (no submit per kernel), uniforms
// packed by member name from the shader's own struct, buffers from the pool, reads that are explicit and async.
// GPU validation errors and device loss are collected and thrown at the next sync point, naming the kernel.
import { BufferPool, Scope, type BufferStats } from './buffers.ts';
import { DeviceError, ShaderError, ShapeError } from '../util/errors.ts';
import {
  PipelineCache,
  type CompiledKernel,
  type Kernel,
  type UniformMember,
  type Uniforms,
} from './pipelines.ts';
import { isRange, type Binding } from './ranges.ts';
import { writeUniforms } from './uniforms.ts';
import { checkExtent, checkSizes, checkWrites } from './check-buffer.ts';

export type { Kernel, Uniforms } from './pipelines.ts';
export type { Binding, BufferRange } from './ranges.ts';

// WebGPU's numeric flags, spelled out so this module loads before Dawn installs the GPU* globals in Node.
const MAP_READ = 0x1,
  COPY_SRC = 0x4,
  COPY_DST = 0x8,
  UNIFORM = 0x40,
  STORAGE_BIT = 0x80,
  MAP_MODE_READ = 0x1;
const STORAGE = STORAGE_BIT | COPY_SRC | COPY_DST;
const UNIFORM_SLOT = 256;
const UNIFORM_CHUNK = 64 * 1024;

export interface GpuStats extends BufferStats {
  pipelines: number;
  submits: number;
}

export type Workgroups = number | [number, number?, number?];

export interface DispatchTiming {
  /** Called with the kernel name and a [begin, end] timestamp pair index when timing is on. */
  querySet: GPUQuerySet;
  next: number;
}

export class Gpu {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly description: string;
  readonly software: boolean;
  readonly hasTimestamps: boolean;
  /** Lanes per subgroup when the `subgroups` feature is on and the adapter has one fixed size, else null. */
  readonly subgroupSize: number | null;
  private encoder: GPUCommandEncoder | null = null;
  private uniformChunks: GPUBuffer[] = [];
  private uniformData = new Uint8Array(UNIFORM_CHUNK);
  private uniformUsed = 0; // bytes of the current batch, across chunks
  private readonly errors: string[] = [];
  private submits = 0;
  private disposed = false;
  private lost: string | null = null; // why the device was lost, once it is
  /** Set by bench code to get a [begin, end] GPU timestamp pair per dispatch. */
  timing: DispatchTiming | null = null;
  private bindingLimit: number;

  constructor(
    readonly device: GPUDevice,
    info: { description: string; software: boolean; subgroupSize?: number | null; maxBindingBytes?: number },
  ) {
    const deviceMax = device.limits.maxStorageBufferBindingSize;
    const forced = info.maxBindingBytes ?? deviceMax;
    const align = device.limits.minStorageBufferOffsetAlignment;
    if (!Number.isInteger(forced) || forced < 1024 || forced % align !== 0) {
      throw new ShapeError(
        `createDevice: maxBindingBytes, expected a multiple of ${align} ≥ 1024, got ${forced}`,
      );
    }
    this.bindingLimit = Math.min(deviceMax, forced);
    this.description = info.description;
    this.software = info.software;
    this.subgroupSize = device.features.has('subgroups' as GPUFeatureName)
      ? (info.subgroupSize ?? null)
      : null;
    this.hasTimestamps = device.features.has('timestamp-query');
    this.pool = new BufferPool(device, () => this.flush());
    this.pipelines = new PipelineCache(device, device.limits.maxStorageBuffersPerShaderStage);
    device.addEventListener('uncapturederror', (event) => {
      this.errors.push((event as GPUUncapturedErrorEvent).error.message);
    });
    void device.lost.then((info) => {
      if (this.disposed) return; // our own dispose()
      this.lost = `${info.reason}${info.message ? `: ${info.message}` : ''}`;
      if (info.reason !== 'destroyed') this.errors.push(`device lost (${info.reason}): ${info.message}`);
    });
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** The most bytes one storage binding may span: the device's limit, or a lower one forced (createDevice option). */
  get maxBindingBytes(): number {
    return this.bindingLimit;
  }

  /**
   * Bind at most `bytes` at once until the handle is disposed (`using`): the self-test runs the windowed kernels
   * this way on any device. A multiple of minStorageBufferOffsetAlignment, ≥ 1024, and never above the current limit.
   */
  lowerBindingLimit(bytes: number): Disposable {
    const align = this.device.limits.minStorageBufferOffsetAlignment;
    if (!Number.isInteger(bytes) || bytes < 1024 || bytes % align !== 0) {
      throw new ShapeError(`gpu: binding limit, expected a multiple of ${align} ≥ 1024, got ${bytes}`);
    }
    const before = this.bindingLimit;
    this.bindingLimit = Math.min(before, bytes);
    return { [Symbol.dispose]: () => void (this.bindingLimit = before) };
  }

  // ---- buffers -------------------------------------------------------------------------------------------------

  /**
   * A storage buffer of `bytes`, owned by the current scope if one is open, or by the caller when `persistent`
   * (parameters, gradients, optimizer state: freed only by destroy()). Contents are undefined.
   */
  alloc(label: string, bytes: number, persistent = false): GPUBuffer {
    this.checkAlive();
    const max = this.device.limits.maxBufferSize;
    if (bytes > max) {
      throw new ShapeError(
        `${label}: buffer size, expected at most ${max} bytes (device maxBufferSize), got ${bytes}`,
        'this GPU cannot hold the tensor in one buffer; try a smaller model',
      );
    }
    return this.pool.alloc(label, bytes, STORAGE, persistent);
  }

  /** A storage buffer holding `data`. */
  upload(label: string, data: ArrayBufferView, persistent = false): GPUBuffer {
    const buf = this.alloc(label, data.byteLength, persistent);
    this.write(buf, data);
    return buf;
  }

  /** Write CPU data into a buffer. Flushes pending work first so queue order keeps earlier readers correct. */
  write(buf: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.flush();
    this.device.queue.writeBuffer(buf, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  release(buf: GPUBuffer): void {
    this.pool.release(buf);
  }

  /** Free a buffer now. Pending work is submitted first: a recorded use of a destroyed buffer fails the submit. */
  destroy(buf: GPUBuffer): void {
    this.flush();
    this.pool.destroy(buf);
  }

  /** The bytes `buf` was requested with (the pool rounds a buffer's size up), or its size if not pooled. */
  bytesOf(buf: GPUBuffer): number {
    return this.pool.meta(buf)?.bytes ?? buf.size;
  }

  /** Record a zero fill of the first `bytes` (default: the requested size), rounded up to whole words. */
  clear(buf: GPUBuffer, bytes = this.bytesOf(buf)): void {
    const size = Math.ceil(bytes / 4) * 4;
    checkExtent(`gpu.clear: buffer '${buf.label}'`, 0, size, this.bytesOf(buf));
    this.encode().clearBuffer(buf, 0, size);
  }

  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    const size = Math.ceil(bytes / 4) * 4;
    if (src === dst)
      throw new ShapeError(
        `gpu.copy: destination, expected a buffer other than the source, got '${src.label}'`,
      );
    checkExtent(`gpu.copy: source '${src.label}'`, srcOffset, size, this.bytesOf(src));
    checkExtent(`gpu.copy: destination '${dst.label}'`, dstOffset, size, this.bytesOf(dst));
    this.encode().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /** Open a scope: buffers allocated until it is disposed are released then, unless kept. Use with `using`. */
  scope(name: string): Scope {
    return this.pool.pushScope(name);
  }

  /** Run fn inside a scope; the buffers it returns (one or an array) are kept. */
  tidy<T extends GPUBuffer | GPUBuffer[] | void>(name: string, fn: (scope: Scope) => T): T {
    const scope = this.scope(name);
    try {
      const out = fn(scope);
      if (out) for (const b of Array.isArray(out) ? out : [out]) scope.keep(b);
      return out;
    } finally {
      scope[Symbol.dispose]();
    }
  }

  /** Read a buffer back to the CPU (flushes pending work). */
  async read(buf: GPUBuffer, type: 'f32', count?: number, offset?: number): Promise<Float32Array>;
  async read(buf: GPUBuffer, type: 'i32', count?: number, offset?: number): Promise<Int32Array>;
  async read(buf: GPUBuffer, type: 'u32', count?: number, offset?: number): Promise<Uint32Array>;
  async read(
    buf: GPUBuffer,
    type: 'f32' | 'i32' | 'u32',
    count?: number,
    offset = 0,
  ): Promise<Float32Array | Int32Array | Uint32Array> {
    const bytes = count !== undefined ? count * 4 : this.bytesOf(buf) - offset * 4;
    checkExtent(`gpu.read: buffer '${buf.label}'`, offset * 4, bytes, buf.size); // the pool's rounding may be read
    const staging = this.device.createBuffer({
      label: `read ${buf.label}`,
      size: Math.max(4, bytes),
      usage: MAP_READ | COPY_DST,
    });
    if (bytes > 0) this.encode().copyBufferToBuffer(buf, offset * 4, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(MAP_MODE_READ);
      const copy = staging.getMappedRange(0, bytes).slice(0);
      staging.unmap();
      await this.throwErrors();
      return type === 'f32'
        ? new Float32Array(copy)
        : type === 'i32'
          ? new Int32Array(copy)
          : new Uint32Array(copy);
    } catch (e) {
      await this.throwErrors();
      // The lost promise settles with the failed map (Dawn), or soon after (a browser): wait for it a moment.
      await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 50))]);
      await Promise.resolve();
      this.checkAlive();
      throw e;
    } finally {
      staging.destroy();
    }
  }

  // ---- dispatch ------------------------------------------------------------------------------------------------

  compiled(kernel: Kernel): CompiledKernel {
    this.checkAlive();
    return this.pipelines.get(kernel);
  }

  /** Compile a kernel now and wait for the driver's verdict (throws a ShaderError naming it). */
  async compile(kernel: Kernel): Promise<void> {
    await this.compiled(kernel).ready;
  }

  /**
   * Record one compute dispatch. `buffers` binds storage buffers by their WGSL variable name; `uniforms` fills the
   * kernel's uniform struct by member name (every member must be given, none extra). Each binding must hold what the
   * kernel's `sizes` declares from these uniforms (check-buffer.ts).
   */
  dispatch(
    kernel: Kernel,
    buffers: Record<string, Binding>,
    uniforms: Uniforms,
    workgroups: Workgroups,
  ): void {
    const compiled = this.compiled(kernel);
    const [x, y = 1, z = 1] = typeof workgroups === 'number' ? [workgroups] : workgroups;
    const maxGroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new ShapeError(
        `${kernel.name}: workgroups, expected each ≤ ${maxGroups}, got [${x}, ${y}, ${z}]`,
      );
    }
    if (x === 0 || y === 0 || z === 0) return;
    const entries: GPUBindGroupEntry[] = [];
    const seen = new Set<string>();
    for (const b of compiled.bindings) {
      if (b.kind === 'uniform') {
        entries.push({ binding: b.binding, resource: this.packUniform(kernel, b.members ?? [], uniforms) });
        continue;
      }
      const buf = buffers[b.name];
      if (!buf) {
        throw new ShapeError(`${kernel.name}: binding '${b.name}', expected a GPUBuffer, got ${String(buf)}`);
      }
      seen.add(b.name);
      entries.push({ binding: b.binding, resource: this.bindable(kernel, b.name, buf) });
    }
    checkWrites(kernel, compiled.bindings, buffers);
    checkSizes(kernel, compiled.bindings, buffers, uniforms, (b) => this.bytesOf(b));
    for (const name of Object.keys(buffers)) {
      if (!seen.has(name)) {
        const names = compiled.bindings.map((b) => b.name).join(', ');
        throw new ShapeError(
          `${kernel.name}: binding '${name}', expected one of [${names}], got an unknown name`,
        );
      }
    }
    const bindGroup = this.device.createBindGroup({
      label: kernel.name,
      layout: compiled.bindGroupLayout,
      entries,
    });
    const encoder = this.encode();
    let timestampWrites: GPUComputePassTimestampWrites | undefined;
    if (this.timing) {
      const i = this.timing.next;
      this.timing.next += 2;
      timestampWrites = {
        querySet: this.timing.querySet,
        beginningOfPassWriteIndex: i,
        endOfPassWriteIndex: i + 1,
      };
    }
    const pass = encoder.beginComputePass({ label: kernel.name, timestampWrites });
    pass.setPipeline(compiled.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
  }

  // A whole buffer binds its requested bytes (the pool rounds sizes up); no binding may pass the limit: a kernel that
  // meets a larger tensor must bind it in windows (ranges.ts), so one that does not fails here, naming both.
  private bindable(kernel: Kernel, name: string, b: Binding): GPUBufferBinding {
    const range = isRange(b) ? b : null;
    const buffer = range ? range.buffer : (b as GPUBuffer);
    const size = range ? range.size : buffer.size;
    if (size <= this.maxBindingBytes) return range ?? { buffer };
    const requested = Math.ceil(this.bytesOf(buffer) / 4) * 4;
    if (!range && requested <= this.maxBindingBytes) return { buffer, size: requested };
    throw new ShapeError(
      `${kernel.name}: binding '${name}' (${buffer.label}), expected at most ${this.maxBindingBytes} bytes (binding limit), got ${range ? size : requested}`,
      'this kernel binds the tensor whole; a tensor past the binding limit needs a kernel that binds it in windows',
    );
  }

  private packUniform(kernel: Kernel, members: UniformMember[], values: Uniforms): GPUBufferBinding {
    const slot = this.uniformUsed;
    const chunk = Math.floor(slot / UNIFORM_CHUNK);
    const offset = slot % UNIFORM_CHUNK;
    if (offset + UNIFORM_SLOT > UNIFORM_CHUNK) throw new Error('unreachable: uniform slot crosses a chunk');
    while (this.uniformChunks.length <= chunk) {
      this.uniformChunks.push(
        this.device.createBuffer({
          label: `uniforms ${this.uniformChunks.length}`,
          size: UNIFORM_CHUNK,
          usage: UNIFORM | COPY_DST,
        }),
      );
    }
    if (this.uniformData.length < (chunk + 1) * UNIFORM_CHUNK) {
      const grown = new Uint8Array((chunk + 1) * UNIFORM_CHUNK * 2);
      grown.set(this.uniformData);
      this.uniformData = grown;
    }
    writeUniforms(kernel, new DataView(this.uniformData.buffer, slot, UNIFORM_SLOT), members, values);
    this.uniformUsed += UNIFORM_SLOT;
    return { buffer: this.uniformChunks[chunk], offset, size: UNIFORM_SLOT };
  }

  private encode(): GPUCommandEncoder {
    this.checkAlive();
    this.encoder ??= this.device.createCommandEncoder({ label: 'webgpu-sft batch' });
    return this.encoder;
  }

  /** Submit everything recorded so far as one command buffer. */
  flush(): void {
    if (!this.encoder) return;
    const used = this.uniformUsed;
    for (let c = 0; c * UNIFORM_CHUNK < used; c++) {
      const bytes = Math.min(UNIFORM_CHUNK, used - c * UNIFORM_CHUNK);
      this.device.queue.writeBuffer(
        this.uniformChunks[c],
        0,
        this.uniformData.buffer,
        c * UNIFORM_CHUNK,
        bytes,
      );
    }
    this.uniformUsed = 0;
    const commands = this.encoder.finish();
    this.encoder = null;
    this.device.queue.submit([commands]);
    this.submits++;
  }

  /** Flush, wait for the GPU, and throw any shader or validation error recorded since the last sync. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.throwErrors();
  }

  private async throwErrors(): Promise<void> {
    try {
      await this.pipelines.checkAll();
    } catch (e) {
      this.errors.length = 0; // the follow-on "invalid pipeline" validation errors say nothing more
      throw e;
    }
    if (this.errors.length) {
      const all = this.errors.splice(0);
      const lost = all.some((m) => m.startsWith('device lost'));
      const Kind = lost ? DeviceError : ShaderError;
      throw new Kind(`gpu: ${all.length} GPU error(s), expected none, got:\n${all.join('\n')}`);
    }
  }

  private checkAlive(): void {
    if (this.disposed)
      throw new DeviceError('gpu: used after dispose(), expected a live device, got a disposed one');
    if (this.lost !== null)
      throw new DeviceError(`gpu: device, expected a live device, got one lost (${this.lost})`);
  }

  stats(): GpuStats {
    return { ...this.pool.stats(), pipelines: this.pipelines.size, submits: this.submits };
  }

  dispose(): void {
    if (this.disposed) return;
    this.flush();
    this.disposed = true;
    this.pool.dispose();
    for (const b of this.uniformChunks) b.destroy();
    this.device.destroy();
  }
}
