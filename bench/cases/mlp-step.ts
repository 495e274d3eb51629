// One training step of an MLP in → hidden → in (GELU, tanh form), MSE loss, Adam, on both engines from the same
// seeded weights and batch: the step PERF-NOTES measured for TF.js (512→2048→512, batch 64). Rate: samples/s.
import type { Scalar } from '@tensorflow/tfjs';
import { Tensor } from '../../src/autograd/tensor.ts';
import * as F from '../../src/autograd/functional.ts';
import { Linear } from '../../src/nn/layers.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { Rng } from '../../src/util/random.ts';
import type { BenchCase, Runner, SuiteContext } from '../suite.ts';
import { ADAM, oursStepRunner, tfjsStepRunner } from './step-runners.ts';
import { jaxArray, type JaxArray } from '../jax/backend.ts';
import { jaxStepRunner } from '../jax/runners.ts';

interface MlpData {
  w1: Float32Array; // (I, H)
  b1: Float32Array; // (H)
  w2: Float32Array; // (H, I)
  b2: Float32Array; // (I)
  x: Float32Array; // (batch, I)
  y: Float32Array; // (batch, I)
}

function mlpData(I: number, H: number, batch: number): MlpData {
  const rng = new Rng(7);
  const [s1, s2] = [1 / Math.sqrt(I), 1 / Math.sqrt(H)];
  return {
    w1: rng.uniform(I * H, -s1, s1),
    b1: rng.uniform(H, -s1, s1),
    w2: rng.uniform(H * I, -s2, s2),
    b2: rng.uniform(I, -s2, s2),
    x: rng.uniform(batch * I),
    y: rng.uniform(batch * I),
  };
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function mlpStepCases(quick: boolean): BenchCase[] {
  const [I, H, batch] = quick ? [64, 256, 16] : [512, 2048, 64];
  const data = mlpData(I, H, batch);
  let oursLosses: number[] | null = null;
  const common = {
    kernel: 'mlp-step',
    size: `${I}→${H}→${I} b${batch}`,
    work: { samples: batch },
    primary: 'wall' as const,
    warmUps: 2,
  };

  const ours: BenchCase = {
    ...common,
    impl: 'ours',
    engine: 'ours',
    async prepare(ctx: SuiteContext): Promise<Runner> {
      const { gpu } = ctx;
      const fc1 = new Linear(gpu, I, H, { layout: 'in-out' });
      const fc2 = new Linear(gpu, H, I, { layout: 'in-out' });
      fc1.load('weight', data.w1);
      fc1.load('bias', data.b1);
      fc2.load('weight', data.w2);
      fc2.load('bias', data.b2);
      const x = Tensor.from(gpu, data.x, [batch, I], { label: 'mlp.x' });
      const y = Tensor.from(gpu, data.y, [batch, I], { label: 'mlp.y' });
      const optimizer = new AdamW(
        gpu,
        [...fc1.namedParameters('fc1.'), ...fc2.namedParameters('fc2.')],
        ADAM,
      );
      const record = () => {
        optimizer.zeroGrad();
        const diff = F.add(fc2.forward(F.gelu(fc1.forward(x))), F.scale(y, -1)); // (batch, I)
        const loss = F.mean(F.mul(diff, diff));
        loss.backward();
        optimizer.step();
        return loss;
      };
      const dispose = () => [optimizer, fc1, fc2, x, y].forEach((o) => o.dispose());
      return oursStepRunner(ctx, record, (oursLosses = []), dispose);
    },
  };

  const tfjs: BenchCase = {
    ...common,
    impl: 'tf.js',
    engine: 'tfjs',
    async prepare(ctx: SuiteContext): Promise<Runner> {
      const tf = ctx.tf!;
      const bytesBefore = tf.memory().numBytes;
      const [w1, b1, w2, b2] = [
        tf.variable(tf.tensor2d(data.w1, [I, H])),
        tf.variable(tf.tensor1d(data.b1)),
        tf.variable(tf.tensor2d(data.w2, [H, I])),
        tf.variable(tf.tensor1d(data.b2)),
      ];
      const [x, y] = [tf.tensor2d(data.x, [batch, I]), tf.tensor2d(data.y, [batch, I])];
      const gelu = (t: typeof x) => {
        const inner = tf.mul(tf.add(t, tf.mul(tf.pow(t, 3), 0.044715)), SQRT_2_OVER_PI);
        return tf.mul(tf.mul(t, 0.5), tf.add(tf.tanh(inner), 1));
      };
      return tfjsStepRunner(ctx, {
        loss: () =>
          tf.losses.meanSquaredError(
            y,
            tf.add(tf.matMul(gelu(tf.add(tf.matMul(x, w1), b1)), w2), b2),
          ) as Scalar,
        variables: [w1, b1, w2, b2],
        bytesBefore,
        ours: () => oursLosses,
        tolerance: (step) => (step === 0 ? 1e-5 : 1e-3),
        dispose: () => [w1, b1, w2, b2, x, y].forEach((t) => t.dispose()),
      });
    },
  };
  const jax: BenchCase = {
    ...common,
    impl: 'jax-js',
    engine: 'jax',
    async prepare(ctx: SuiteContext): Promise<Runner> {
      const jx = ctx.jax!;
      const np = jx.numpy;
      const gelu = (t: JaxArray) => {
        const inner = t.ref.add(t.ref.mul(t.ref).mul(t.ref).mul(0.044715)).mul(SQRT_2_OVER_PI);
        return t.mul(0.5).mul(np.tanh(inner).add(1));
      };
      return jaxStepRunner(ctx, {
        params: {
          w1: jaxArray(jx, data.w1, [I, H]),
          b1: jaxArray(jx, data.b1, [H]),
          w2: jaxArray(jx, data.w2, [H, I]),
          b2: jaxArray(jx, data.b2, [I]),
        },
        inputs: [jaxArray(jx, data.x, [batch, I]), jaxArray(jx, data.y, [batch, I])],
        loss: (p, x, y) => np.mean(np.square(np.matmul(gelu(np.matmul(x, p.w1).add(p.b1)), p.w2).add(p.b2).sub(y))),
        ours: () => oursLosses,
        tolerance: (step) => (step === 0 ? 1e-5 : 1e-3),
      });
    },
  };
  return [ours, tfjs, jax];
}
