// Kernel cases: our matmul variants and TF.js's tf.matMul on the same inputs (GFLOP/s, each output checked against
// float64 dot products on sampled entries and against the other engine's), and memory-bound kernels (GB/s).
import type { Gpu } from '../../src/gpu/gpu.ts';
import type { Tensor as TfTensor } from '@tensorflow/tfjs';
import { Rng } from '../../src/util/random.ts';
import { geluForward } from '../../src/kernels/gelu.ts';
import {
  defaultMatmulVariant,
  matmulForward,
  matmulVariantAvailable,
  MATMUL_VARIANTS,
} from '../../src/kernels/matmul.ts';
import { softmaxForward } from '../../src/kernels/softmax.ts';
import type { BenchCase, Runner, SuiteContext } from '../suite.ts';
import { tfjsOpRunner } from './tfjs-op.ts';
import { jaxArray } from '../jax/backend.ts';
import { jaxOpRunner } from '../jax/runners.ts';

const SAMPLES = 64;

/** Inputs and sampled float64 references shared by the cases of one matmul size. */
function matmulInputs(n: number) {
  const rng = new Rng(1234 + n);
  const a = rng.uniform(n * n); // (n, n)
  const b = rng.uniform(n * n); // (n, n)
  const at = Array.from({ length: SAMPLES }, () => Math.floor(rng.next() * n * n));
  const want = at.map((flat) => {
    const [i, j] = [Math.floor(flat / n), flat % n];
    let sum = 0;
    for (let k = 0; k < n; k++) sum += a[i * n + k] * b[k * n + j];
    return sum;
  });
  /** Sampled outputs of the cases checked so far, by impl, for the cross-engine check. */
  const outputs = new Map<string, number[]>();
  return { a, b, at, want, outputs };
}

function relL2(got: number[], want: number[]): number {
  let [diff2, ref2] = [0, 0];
  got.forEach((g, s) => ((diff2 += (g - want[s]) ** 2), (ref2 += want[s] ** 2)));
  return Math.sqrt(diff2 / ref2);
}

// 1e-5: float32 accumulation over K ≤ 1024 terms of uniform(-1, 1) products stays well inside it.
function checkSamples(impl: string, got: number[], inputs: ReturnType<typeof matmulInputs>): string | null {
  const errors: string[] = [];
  const rel = relL2(got, inputs.want);
  if (!(rel <= 1e-5))
    errors.push(`relL2 ${rel.toExponential(2)} vs float64 on ${SAMPLES} entries, expected ≤ 1e-5`);
  for (const [other, values] of inputs.outputs) {
    const cross = relL2(got, values);
    if (!(cross <= 1e-5)) errors.push(`relL2 ${cross.toExponential(2)} vs ${other}, expected ≤ 1e-5`);
  }
  inputs.outputs.set(impl, got);
  return errors.length ? errors.join('; ') : null;
}

function matmulCases(gpu: Gpu, sizes: number[]): BenchCase[] {
  return sizes.flatMap((n) => {
    const inputs = matmulInputs(n);
    const common = { kernel: 'matmul', size: `${n}³`, work: { flops: 2 * n ** 3 }, primary: 'gpu' as const };
    const warmUps = n >= 1024 ? 1 : 2;
    const ours: BenchCase[] = MATMUL_VARIANTS.filter((v) => matmulVariantAvailable(gpu, v)).map(
      (variant) => ({
        ...common,
        impl: variant,
        engine: 'ours',
        baseline: 'naive',
        warmUps,
        async prepare({ gpu, timer }: SuiteContext): Promise<Runner> {
          const [aBuf, bBuf] = [gpu.upload('bench a', inputs.a), gpu.upload('bench b', inputs.b)];
          const out = gpu.alloc('bench out', n * n * 4); // (n, n)
          const dims = { batch: 1, M: n, N: n, K: n };
          return {
            run: () => timer.once(() => matmulForward(gpu, out, aBuf, bBuf, null, dims, variant)),
            async verify() {
              const got = await gpu.read(out, 'f32', n * n);
              return checkSamples(
                variant,
                inputs.at.map((i) => got[i]),
                inputs,
              );
            },
            note: () =>
              variant === defaultMatmulVariant(gpu) ? 'the variant models use on this adapter' : '',
            dispose: () => [aBuf, bBuf, out].forEach((buf) => gpu.release(buf)),
          };
        },
      }),
    );
    const tfjs: BenchCase = {
      ...common,
      impl: 'tf.matMul',
      engine: 'tfjs',
      warmUps,
      async prepare(ctx: SuiteContext): Promise<Runner> {
        const tf = ctx.tf!;
        return tfjsOpRunner(ctx, () => [tf.tensor2d(inputs.a, [n, n]), tf.tensor2d(inputs.b, [n, n])], {
          op: ([a, b]) => tf.matMul(a, b),
          check: async (out: TfTensor) => {
            const got = (await out.data()) as Float32Array;
            return checkSamples(
              'tf.matMul',
              inputs.at.map((i) => got[i]),
              inputs,
            );
          },
        });
      },
    };
    const jax: BenchCase = {
      ...common,
      impl: 'jax matmul',
      engine: 'jax',
      warmUps,
      async prepare(ctx: SuiteContext): Promise<Runner> {
        const jx = ctx.jax!;
        return jaxOpRunner(ctx, [jaxArray(jx, inputs.a, [n, n]), jaxArray(jx, inputs.b, [n, n])], {
          op: (a, b) => jx.numpy.matmul(a, b),
          check: (got) => checkSamples('jax matmul', inputs.at.map((i) => got[i]), inputs),
        });
      },
    };
    return [...ours, tfjs, jax];
  });
}

/** Memory-bound rows: bytes read + written once each, per run. */
function memoryCases(quick: boolean): BenchCase[] {
  const gelu = quick ? [1 << 16] : [1 << 20, 1 << 22];
  const softmax = quick
    ? [[64, 256]]
    : [
        [1024, 1024],
        [4096, 1024],
      ];
  const streaming = (
    kernel: string,
    size: string,
    n: number,
    run: (gpu: Gpu, out: GPUBuffer, x: GPUBuffer) => void,
  ): BenchCase => ({
    kernel,
    impl: 'forward',
    engine: 'ours',
    size,
    work: { bytes: 8 * n },
    primary: 'gpu',
    warmUps: 2,
    async prepare({ gpu, timer }: SuiteContext): Promise<Runner> {
      const [x, out] = [gpu.upload('bench x', new Rng(n).uniform(n)), gpu.alloc('bench out', 4 * n)];
      return {
        run: () => timer.once(() => run(gpu, out, x)),
        dispose: () => [x, out].forEach((b) => gpu.release(b)),
      };
    },
  });
  const softmaxTfjs = (rows: number, cols: number): BenchCase => ({
    kernel: 'softmax',
    impl: 'tf.softmax',
    engine: 'tfjs',
    size: `${rows}×${cols}`,
    work: { bytes: 8 * rows * cols },
    primary: 'gpu',
    warmUps: 2,
    async prepare(ctx: SuiteContext): Promise<Runner> {
      const tf = ctx.tf!;
      const x = new Rng(rows * cols).uniform(rows * cols);
      return tfjsOpRunner(ctx, () => [tf.tensor2d(x, [rows, cols])], { op: ([t]) => tf.softmax(t) });
    },
  });
  return [
    ...gelu.map((n) => streaming('gelu', `${n}`, n, (gpu, out, x) => geluForward(gpu, out, x, { n }))),
    ...softmax.flatMap(([rows, cols]) => [
      streaming('softmax', `${rows}×${cols}`, rows * cols, (gpu, out, x) =>
        softmaxForward(gpu, out, x, { rows, cols }),
      ),
      softmaxTfjs(rows, cols),
    ]),
  ];
}

export function kernelCases(gpu: Gpu, quick: boolean): BenchCase[] {
  return [...matmulCases(gpu, quick ? [64, 128] : [256, 512, 1024]), ...memoryCases(quick)];
}
