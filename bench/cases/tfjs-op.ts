// A TF.js case of one op on fixed inputs: timed by tf.time (kernelMs from GPU timestamp queries, wall time until
// those are read back) when the device has timestamps, else by wall time around a one-element read of the output.
import type { Tensor } from '@tensorflow/tfjs';
import type { Runner, SuiteContext } from '../suite.ts';
import type { Sample } from '../timing.ts';

export interface TfjsOp {
  op(inputs: Tensor[]): Tensor;
  /** Checks the output of the last timed run: null when right, else what is wrong. */
  check?(out: Tensor): Promise<string | null>;
}

export function tfjsOpRunner(ctx: SuiteContext, makeInputs: () => Tensor[], { op, check }: TfjsOp): Runner {
  const tf = ctx.tf!;
  const bytesBefore = tf.memory().numBytes;
  const inputs = makeInputs();
  const timestamps = ctx.timer.method === 'timestamps';
  let last: Tensor | null = null;
  let peak: number | null = null;
  const keep = (out: Tensor) => {
    last?.dispose();
    last = out;
  };

  async function run(): Promise<Sample> {
    if (timestamps) {
      let out: Tensor | null = null;
      const timing = await tf.time(() => void (out = op(inputs)));
      keep(out!);
      const kernelMs = typeof timing.kernelMs === 'number' ? timing.kernelMs : null;
      return { wallMs: timing.wallMs, gpuMs: kernelMs };
    }
    const start = performance.now();
    const out = op(inputs);
    const first = tf.slice(out.reshape([-1]), 0, 1);
    await first.data();
    const wallMs = performance.now() - start;
    first.dispose();
    keep(out);
    return { wallMs, gpuMs: null };
  }

  return {
    run,
    async warmUp(lastWarmUp) {
      if (!lastWarmUp) return void (await run());
      const info = await tf.profile(() => op(inputs));
      peak = info.peakBytes - bytesBefore;
      keep(info.result as Tensor);
    },
    verify: check ? () => check(last!) : undefined,
    peakBytes: () => peak,
    dispose() {
      last?.dispose();
      for (const t of inputs) t.dispose();
    },
  };
}
