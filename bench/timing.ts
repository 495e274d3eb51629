// Timing one recorded unit of GPU work: wall time from the first recorded command until the GPU has finished, and,
// when the device has timestamp queries, GPU time (the sum of every dispatch's [begin, end] pair). Platform-neutral.
import type { Gpu } from '../src/gpu/gpu.ts';

/** One timed run, in milliseconds; gpuMs is null without timestamp queries. */
export interface Sample {
  wallMs: number;
  gpuMs: number | null;
}

// WebGPU flags spelled out, as in src/gpu/gpu.ts: Node has no GPU* globals until Dawn loads.
const [MAP_READ, COPY_SRC, COPY_DST, QUERY_RESOLVE, MAP_MODE_READ] = [0x1, 0x4, 0x8, 0x200, 0x1];

export class Timer {
  private readonly querySet: GPUQuerySet | null;
  private readonly resolve: GPUBuffer | null;
  private readonly readback: GPUBuffer | null;
  private readonly fence: GPUBuffer;

  /** `maxDispatches` per timed run: at most 2048 (a query set holds 4096 timestamps). */
  constructor(
    private readonly gpu: Gpu,
    useTimestamps = gpu.hasTimestamps,
    private readonly maxDispatches = 64,
  ) {
    const device = gpu.device;
    this.fence = gpu.alloc('timer fence', 4, true);
    const bytes = maxDispatches * 2 * 8;
    this.querySet = useTimestamps
      ? device.createQuerySet({ type: 'timestamp', count: maxDispatches * 2 })
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

  /** One run of `record` (which records dispatches through gpu.dispatch), started on an idle queue. */
  async once(record: () => void): Promise<Sample> {
    const { gpu, querySet } = this;
    await this.settle();
    const start = performance.now();
    if (!querySet) {
      record();
      await this.settle();
      return { wallMs: performance.now() - start, gpuMs: null };
    }
    const timing = { querySet, next: 0 };
    gpu.timing = timing;
    try {
      record();
    } finally {
      gpu.timing = null;
    }
    const used = timing.next;
    if (used > this.maxDispatches * 2)
      throw new Error(`bench timer: dispatches per run, expected ≤ ${this.maxDispatches}, got ${used / 2}`);
    gpu.flush();
    if (used === 0) {
      await this.settle();
      return { wallMs: performance.now() - start, gpuMs: 0 };
    }
    const encoder = gpu.device.createCommandEncoder({ label: 'timer resolve' });
    encoder.resolveQuerySet(querySet, 0, used, this.resolve!, 0);
    encoder.copyBufferToBuffer(this.resolve!, 0, this.readback!, 0, used * 8);
    gpu.device.queue.submit([encoder.finish()]);
    // The resolve is queued after the recorded work, so its read-back also marks the end of the wall time.
    await this.readback!.mapAsync(MAP_MODE_READ, 0, used * 8);
    const wallMs = performance.now() - start;
    const stamps = new BigInt64Array(this.readback!.getMappedRange(0, used * 8).slice(0));
    this.readback!.unmap();
    let ns = 0n;
    for (let i = 0; i < used; i += 2) ns += stamps[i + 1] - stamps[i];
    return { wallMs, gpuMs: Number(ns) / 1e6 };
  }

  // Waits for the queue with a 4-byte read rather than gpu.sync(): here (Dawn + SwiftShader, webgpu 0.6) a loop of
  // submits each followed by onSubmittedWorkDone aborted the process in Dawn (mutex assertions) more often than reads.
  private async settle(): Promise<void> {
    await this.gpu.read(this.fence, 'f32', 1);
  }

  dispose(): void {
    this.gpu.destroy(this.fence);
    this.querySet?.destroy();
    this.resolve?.destroy();
    this.readback?.destroy();
  }
}
