// Timing one recorded unit of GPU work: GPU timestamp queries (the sum of every dispatch's [begin, end] pair) when
// the device has them, else wall time around a wait for the queue. Median of the timed runs after warm-up.
import type { Gpu } from '../src/gpu/gpu.ts';

// WebGPU flags spelled out, as in src/gpu/gpu.ts: Node has no GPU* globals until Dawn loads.
const MAP_READ = 0x1,
  COPY_SRC = 0x4,
  COPY_DST = 0x8,
  QUERY_RESOLVE = 0x200,
  MAP_MODE_READ = 0x1;
const MAX_DISPATCHES = 64; // per timed run

export interface Timing {
  /** Median seconds per run. */
  seconds: number;
  runs: number[];
  method: 'timestamps' | 'wall';
}

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

  get method(): Timing['method'] {
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
    await this.settle();
    let ns = 0n;
    for (let i = 0; i < used; i += 2) ns += stamps[i + 1] - stamps[i];
    return Number(ns) / 1e9;
  }

  // Waits for the queue with a 4-byte read instead of gpu.sync(): on Dawn + SwiftShader here, onSubmittedWorkDone
  // right after a compute submit crashes the process within a few dozen calls (a mutex assertion inside Dawn).
  private async settle(): Promise<void> {
    await this.gpu.read(this.fence, 'f32', 1);
  }

  /** Warm up (compiles pipelines; skipped after the first when a run is slow), then the median of `runs` runs. */
  async measure(record: () => void, runs = 5, warmups = 2): Promise<Timing> {
    for (let i = 0; i < warmups; i++) {
      const wallStart = performance.now();
      await this.once(record);
      if (performance.now() - wallStart > 2000) break;
    }
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await this.once(record));
    const sorted = [...times].sort((x, y) => x - y);
    return { seconds: sorted[Math.floor(sorted.length / 2)], runs: times, method: this.method };
  }

  dispose(): void {
    this.gpu.destroy(this.fence);
    this.querySet?.destroy();
    this.resolve?.destroy();
    this.readback?.destroy();
  }
}
