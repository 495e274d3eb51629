// Buffer ownership. Three owners: model/optimizer buffers (alloc'd with owner 'model', freed by destroy), step
// buffers (alloc'd inside a scope and released when it closes unless kept), and the pool that released buffers
// return to, keyed by (usage, size rounded to 256 bytes). Reuse is safe at once because every CPU write flushes
// the pending command encoder first, so queue order keeps old readers ahead of new writers.

const ALIGN = 256;

export interface BufferMeta {
  /** Unique per allocation, so a handle to a released-and-reused buffer can tell it is stale. */
  id: number;
  label: string;
  bytes: number; // requested size
  key: string;
}

export interface BufferStats {
  liveBuffers: number;
  liveBytes: number;
  pooledBuffers: number;
  pooledBytes: number;
}

export class Scope {
  readonly owned = new Set<GPUBuffer>();
  private closed = false;

  constructor(
    readonly name: string,
    private readonly pool: BufferPool,
  ) {}

  /** Keep `buf` alive after the scope closes (hands it to the enclosing scope, if any). */
  keep<T extends GPUBuffer>(buf: T): T {
    if (this.owned.delete(buf)) this.pool.handOut(this, buf);
    return buf;
  }

  [Symbol.dispose](): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.popScope(this);
    for (const buf of this.owned) this.pool.release(buf);
    this.owned.clear();
  }
}

export class BufferPool {
  private readonly live = new Map<GPUBuffer, BufferMeta>();
  private readonly free = new Map<string, GPUBuffer[]>();
  private pooledBytes = 0;
  private pooledCount = 0;
  private readonly scopes: Scope[] = [];
  private nextId = 1;
  private liveBytes = 0;
  private peak = 0;

  /** `flush` submits recorded work: a pooled buffer that work still uses must not be destroyed before it. */
  constructor(
    private readonly device: GPUDevice,
    private readonly flush: () => void = () => {},
  ) {}

  /** A buffer owned by the innermost open scope, or by the caller when `persistent` (model/optimizer state). */
  alloc(label: string, bytes: number, usage: number, persistent = false): GPUBuffer {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    const key = `${usage}:${size}`;
    let buf = this.free.get(key)?.pop();
    if (buf) {
      this.pooledCount--;
      this.pooledBytes -= size;
      buf.label = label;
    } else {
      buf = this.create(label, size, usage);
    }
    this.live.set(buf, { id: this.nextId++, label, bytes, key });
    this.liveBytes += bytes;
    this.peak = Math.max(this.peak, this.liveBytes);
    if (!persistent) this.scopes.at(-1)?.owned.add(buf);
    return buf;
  }

  private create(label: string, size: number, usage: number): GPUBuffer {
    try {
      return this.device.createBuffer({ label, size, usage });
    } catch {
      // Out of memory: give back everything pooled and try once more (after submitting the work that uses it).
      this.flush();
      this.trim();
      return this.device.createBuffer({ label, size, usage });
    }
  }

  meta(buf: GPUBuffer): BufferMeta | undefined {
    return this.live.get(buf);
  }

  /** Return a buffer to the pool for reuse. */
  release(buf: GPUBuffer): void {
    const meta = this.live.get(buf);
    if (!meta) return;
    this.live.delete(buf);
    this.liveBytes -= meta.bytes;
    for (const s of this.scopes) s.owned.delete(buf);
    const list = this.free.get(meta.key) ?? [];
    list.push(buf);
    this.free.set(meta.key, list);
    this.pooledCount++;
    this.pooledBytes += buf.size;
  }

  /** Free a buffer's memory now (model and optimizer state). */
  destroy(buf: GPUBuffer): void {
    const meta = this.live.get(buf);
    if (!meta) return;
    this.live.delete(buf);
    this.liveBytes -= meta.bytes;
    for (const s of this.scopes) s.owned.delete(buf);
    buf.destroy();
  }

  pushScope(name: string): Scope {
    const scope = new Scope(name, this);
    this.scopes.push(scope);
    return scope;
  }

  popScope(scope: Scope): void {
    const i = this.scopes.lastIndexOf(scope);
    if (i >= 0) this.scopes.splice(i, 1);
  }

  /** A kept buffer belongs to the scope enclosing `scope`, or to the caller when there is none. */
  handOut(scope: Scope, buf: GPUBuffer): void {
    const i = this.scopes.indexOf(scope);
    if (i > 0) this.scopes[i - 1].owned.add(buf);
  }

  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
    this.pooledCount = 0;
  }

  /** The most live bytes (requested sizes) held at once since the last call; the next period starts now. */
  takePeakBytes(): number {
    const peak = this.peak;
    this.peak = this.liveBytes;
    return peak;
  }

  stats(): BufferStats {
    let liveBytes = 0;
    for (const m of this.live.values()) liveBytes += m.bytes;
    return {
      liveBuffers: this.live.size,
      liveBytes,
      pooledBuffers: this.pooledCount,
      pooledBytes: this.pooledBytes,
    };
  }

  dispose(): void {
    this.trim();
    for (const buf of this.live.keys()) buf.destroy();
    this.live.clear();
    this.liveBytes = 0;
  }
}
