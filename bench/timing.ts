// Timing one recorded unit of GPU work: GPU timestamp queries (the sum of every dispatch's [begin, end] pair) when
// the device has them, else wall time around a wait for the queue.
import type { Gpu } from '../src/gpu/gpu.ts';

// WebGPU flags spelled out, as in src/gpu/gpu.ts: Node has no GPU* globals until Dawn loads.
const [MAP_READ, COPY_SRC, COPY_DST, QUERY_RESOLVE, MAP_MODE_READ] = [0x1, 0x4, 0x8, 0x200, 0x1];
const MAX_DISPATCHES = 64; // per timed run

export class Timer {
  private readonly querySet: GPUQuerySet | null;
  private readonly resolve: GPUBuffer | null;
  private readonly readback: GPUBuffer | null;
  private readonly fence: GPUBuffer;

  constructor(
    private readonly gpu: Gpu,
    useTimestamps = gpu.hasTimestamps,
  ) {
    const device = gpu.device;
    this.fence = gpu.alloc('timer fence', 4, true);
    const bytes = MAX_DISPATCHES * 2 * 8;
    this.querySet = useTimestamps
      ? device.createQuerySet({ type: 'timestamp', count: MAX_DISPATCHES * 2 })
      : null;
    this.resolve = useTimestamps
      ? device.createBuffer({ label: 'timer resolve', size: bytes, usage: QUERY_RESOLVE | COPY_SRC })
      : null;
    this.readback = useTimestamps
      ? device.createBuffer({ label: 'timer readback', size: bytes, usage: MAP_READ | COPY_DST })
      : null;
  }

  get method(): 'timestamps' | 'wall' {
    return this.querySet ? 'timestamps' : 'wall';
  }

  /** Seconds for one run of `record` (which records dispatches through gpu.dispatch). */
  async once(record: () => void): Promise<number> {
    const { gpu, querySet } = this;
    await this.settle();
    if (!querySet) {
      const start = performance.now();
      record();
      await this.settle();
      return (performance.now() - start) / 1000;
    }
    const timing = { querySet, next: 0 };
    gpu.timing = timing;
    try {
      record();
    } finally {
      gpu.timing = null;
    }
    const used = timing.next;
    if (used > MAX_DISPATCHES * 2)
      throw new Error(`bench: dispatches per run, expected ≤ ${MAX_DISPATCHES}, got ${used / 2}`);
    gpu.flush();
    if (used === 0) return 0;
    const encoder = gpu.device.createCommandEncoder({ label: 'timer resolve' });
    encoder.resolveQuerySet(querySet, 0, used, this.resolve!, 0);
    encoder.copyBufferToBuffer(this.resolve!, 0, this.readback!, 0, used * 8);
    gpu.device.queue.submit([encoder.finish()]);
    await this.readback!.mapAsync(MAP_MODE_READ, 0, used * 8);
    const stamps = new BigInt64Array(this.readback!.getMappedRange(0, used * 8).slice(0));
    this.readback!.unmap();
    let ns = 0n;
    for (let i = 0; i < used; i += 2) ns += stamps[i + 1] - stamps[i];
    return Number(ns) / 1e9;
  }

  // Waits for the queue with a 4-byte read rather than gpu.sync(): here (Dawn + SwiftShader, webgpu 0.6) a loop of
  // submits each followed by onSubmittedWorkDone aborted the process in Dawn (mutex assertions) more often than reads.
  private async settle(): Promise<void> {
    await this.gpu.read(this.fence, 'f32', 1);
  }

  /** Runs that compile pipelines and fill caches; stops after the first when a run is slow (over 2 s). */
  async warmUp(record: () => void, runs = 2): Promise<void> {
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      await this.once(record);
      if (performance.now() - start > 2000) break;
    }
  }

  dispose(): void {
    this.gpu.destroy(this.fence);
    this.querySet?.destroy();
    this.resolve?.destroy();
    this.readback?.destroy();
  }
}
