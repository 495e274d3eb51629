// Training on the GPU through autograd + AdamW: an MLP fits a fixed random regression; memory stays flat across
// steps; frozen parameters never change and never get a gradient; misuse gets clear errors.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import * as F from '../../src/autograd/functional.ts';
import { Linear } from '../../src/nn/layers.ts';
import { Module } from '../../src/nn/module.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { Rng } from '../../src/util/random.ts';

const gpuPromise = testGpu();

class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(gpu: Gpu, rng: Rng, I: number, H: number, O: number) {
    super(gpu);
    this.fc1 = this.addModule('fc1', new Linear(gpu, I, H, { init: rng.uniform(I * H, -1 / Math.sqrt(I), 1 / Math.sqrt(I)) }));
    this.fc2 = this.addModule('fc2', new Linear(gpu, H, O, { init: rng.uniform(H * O, -1 / Math.sqrt(H), 1 / Math.sqrt(H)) }));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(F.gelu(this.fc1.forward(x)));
  }
}

function regression(gpu: Gpu, rng: Rng, N: number, I: number, O: number) {
  const x = rng.uniform(N * I);
  const w = rng.uniform(I * O);
  const y = new Float32Array(N * O);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) y[n * O + o] += x[n * I + i] * w[i * O + o];
  return {
    x: Tensor.from(gpu, x, [N, I], { label: 'x', persistent: true }),
    y: Tensor.from(gpu, y, [N, O], { label: 'y', persistent: true }),
  };
}

const mse = (pred: Tensor, y: Tensor) => {
  const d = F.add(pred, F.scale(y, -1));
  return F.mean(F.mul(d, d));
};

describe('training through autograd', () => {
  it('an MLP fits a fixed random regression to < 1% of its starting loss within 300 steps, with flat memory', async () => {
    const gpu = await gpuPromise;
    const rng = new Rng(1234);
    const model = new Mlp(gpu, rng, 8, 32, 4);
    const { x, y } = regression(gpu, rng, 64, 8, 4);
    const opt = new AdamW(gpu, model.namedParameters(), { lr: 1e-2, weightDecay: 0 });
    let first = NaN;
    let last = NaN;
    let steps = 0;
    const snapshot: Record<number, ReturnType<Gpu['stats']>> = {};
    for (steps = 1; steps <= 300; steps++) {
      using _step = gpu.scope('train-step');
      opt.zeroGrad();
      const loss = mse(model.forward(x), y);
      loss.backward();
      opt.step();
      if (steps === 1 || steps % 25 === 0) {
        last = (await loss.readF32())[0];
        if (steps === 1) first = last;
      }
      if (steps === 5 || steps === 100) {
        gpu.flush();
        snapshot[steps] = gpu.stats();
      }
      if (steps >= 100 && last < 0.01 * first) break;
    }
    expect(first).toBeGreaterThan(0);
    expect(last, `loss ${first} → ${last} after ${steps} steps`).toBeLessThan(0.01 * first);
    expect(snapshot[100].liveBuffers).toBe(snapshot[5].liveBuffers);
    expect(snapshot[100].liveBytes).toBe(snapshot[5].liveBytes);
    expect(snapshot[100].pipelines).toBe(snapshot[5].pipelines);
    model.dispose();
    opt.dispose();
    x.dispose();
    y.dispose();
  });

  it('frozen parameters stay bit-identical for 20 steps and never get a gradient or optimizer state', async () => {
    const gpu = await gpuPromise;
    const rng = new Rng(99);
    const model = new Mlp(gpu, rng, 6, 10, 3);
    model.fc1.weight.requiresGrad = false;
    model.fc1.bias!.requiresGrad = false;
    const { x, y } = regression(gpu, rng, 16, 6, 3);
    const before = await model.fc1.weight.readF32();
    const trainableBefore = await model.fc2.weight.readF32();
    const opt = new AdamW(gpu, model.namedParameters(), { lr: 1e-2 });
    expect(opt.stateBytes).toBe((10 * 3 + 3) * 8);
    for (let i = 0; i < 20; i++) {
      using _step = gpu.scope('train-step');
      opt.zeroGrad();
      mse(model.forward(x), y).backward();
      opt.step();
    }
    expect(model.fc1.weight.grad).toBeNull();
    expect(model.fc1.bias!.grad).toBeNull();
    expect(Buffer.from((await model.fc1.weight.readF32()).buffer)).toEqual(Buffer.from(before.buffer));
    expect(await model.fc2.weight.readF32()).not.toEqual(trainableBefore);
    model.dispose();
    opt.dispose();
    x.dispose();
    y.dispose();
  });

  it('misuse gets clear errors', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('errors');
    const a = Tensor.from(gpu, new Float32Array(6), [2, 3], { label: 'a' });
    const b = Tensor.from(gpu, new Float32Array(20), [4, 5], { label: 'b' });
    expect(() => F.matmul(a, b)).toThrow(/matmul: .*\[2, 3\].*\[4, 5\]/);
    expect(() => F.add(a, b)).toThrow(/add: .*\[2, 3\].*\[4, 5\]/);
    expect(() => F.sum(a).backward()).toThrow(/backward\(\), expected a tensor that requires grad/);
    const w = Tensor.from(gpu, new Float32Array(3), [3], { label: 'w', requiresGrad: true });
    expect(() => F.mul(a, w).backward()).toThrow(/expected a scalar, got shape \[2, 3\]/);
    {
      using _inner = gpu.scope('inner');
      const gone = Tensor.from(gpu, new Float32Array(3), [3], { label: 'short-lived' });
      _inner[Symbol.dispose]();
      expect(() => F.add(a, gone)).toThrow(/short-lived: tensor used after dispose/);
      await expect(gone.read()).rejects.toThrow(/short-lived: tensor used after dispose/);
    }
  });

  it('tensors used twice accumulate their gradients, and noGrad records nothing', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('accumulate');
    const x = Tensor.from(gpu, new Float32Array([1, -2, 3]), [3], { label: 'x', requiresGrad: true });
    // L = Σ x⊙x + Σ 3x → dL/dx = 2x + 3
    F.sum(F.add(F.mul(x, x), F.scale(x, 3))).backward();
    expect(Array.from(await x.grad!.readF32())).toEqual([5, -1, 9]);
    const { noGrad } = await import('../../src/autograd/tape.ts');
    const y = noGrad(gpu, () => F.sum(F.mul(x, x)));
    expect(y.requiresGrad).toBe(false);
    expect(y.creator).toBeNull();
  });

  it("a weight's gradient is held once: its step copy goes back to the pool once summed into .grad", async () => {
    const gpu = await gpuPromise;
    const rng = new Rng(7);
    const [I, O] = [96, 80]; // W is 30 KiB; everything else in the step is a few hundred bytes
    const w = Tensor.from(gpu, rng.uniform(I * O), [I, O], { label: 'w', requiresGrad: true, persistent: true });
    using _s = gpu.scope('held once');
    const xs = rng.uniform(I);
    const x = Tensor.from(gpu, xs, [1, I], { label: 'x' });
    const loss = F.sum(F.matmul(x, w));
    const before = gpu.stats().liveBytes;
    loss.backward();
    const held = gpu.stats().liveBytes - before;
    // .grad (I·O floats) plus dL/dy and the like; with the step copy still held it was over 2·I·O floats.
    expect(held).toBeGreaterThanOrEqual(I * O * 4);
    expect(held).toBeLessThan(1.5 * I * O * 4);
    const grad = await w.grad!.readF32(); // dL/dW[i, o] = x[i]
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) expect(grad[i * O + o]).toBe(xs[i]);
    w.dispose();
  });

  it('spent gradients go back to the pool during backward: after it the step holds none of the activation gradients', async () => {
    const gpu = await gpuPromise;
    const rng = new Rng(11);
    const [N, H, depth] = [1024, 8, 6]; // each activation and its gradient: 32 KiB; each weight 256 B
    const ws = Array.from({ length: depth }, (_, i) =>
      Tensor.from(gpu, rng.uniform(H * H, -0.5, 0.5), [H, H], { label: `w${i}`, requiresGrad: true, persistent: true }),
    );
    using _s = gpu.scope('spent');
    let h = Tensor.from(gpu, rng.uniform(N * H), [N, H], { label: 'x' });
    // Each layer goes through a reshape too: its backward hands on a view, whose base must go back as well.
    for (const w of ws) h = F.reshape(F.gelu(F.reshape(F.matmul(h, w), [N / 2, 2 * H])), [N, H]);
    const loss = F.sum(h);
    const before = gpu.stats().liveBytes;
    loss.backward();
    const held = gpu.stats().liveBytes - before;
    // The weights' .grad (depth · 256 B) and little else; holding the 2·depth activation gradients was ~384 KiB.
    expect(held).toBeGreaterThanOrEqual(depth * H * H * 4);
    expect(held).toBeLessThan(N * H * 4);
    for (const w of ws) {
      expect(w.grad!.disposed).toBe(false);
      expect((await w.grad!.readF32()).some((v) => v !== 0)).toBe(true);
      w.dispose();
    }
  });
});

