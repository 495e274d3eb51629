// The llm.c-style check both model families share: train a loaded model on the reference script's batch with the
// reference's AdamW settings, and compare each step's loss and global gradient norm (before clipping) with its.
import { expect } from 'vitest';
import { Tensor } from '../../src/autograd/tensor.ts';
import * as F from '../../src/autograd/functional.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import type { Module } from '../../src/nn/module.ts';

/** The JSON the tools/ reference scripts write for a training curve. */
export interface TrainCurveReference {
  input_ids: number[][];
  labels: number[][];
  losses: number[];
  grad_norms: number[];
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number; grad_clip: { max_norm: number } };
}

/** Runs ref.losses.length steps on `model` (in training mode, dropout as the caller set it); each step within 1e-3. */
export async function expectTrainCurve(
  gpu: Gpu,
  model: Module & { forward(ids: Tensor): Tensor },
  ref: TrainCurveReference,
): Promise<void> {
  const [B, T] = [ref.input_ids.length, ref.input_ids[0].length];
  const o = ref.optimizer;
  const opt = new AdamW(gpu, model.namedParameters(), {
    lr: o.lr, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weight_decay, clipGradNorm: o.grad_clip.max_norm,
  });
  const ids = Tensor.from(gpu, Int32Array.from(ref.input_ids.flat()), [B, T], { label: 'ids', persistent: true });
  const labels = Tensor.from(gpu, Int32Array.from(ref.labels.flat()), [B * T], { label: 'labels', persistent: true });
  const losses: number[] = [];
  const norms: number[] = [];
  for (let step = 0; step < ref.losses.length; step++) {
    using _step = gpu.scope('train-step');
    opt.zeroGrad();
    const loss = F.crossEntropy(F.reshape(model.forward(ids), [B * T, -1]), labels);
    loss.backward();
    opt.step();
    losses.push((await loss.readF32())[0]);
    norms.push(await opt.lastGradNorm());
  }
  for (let i = 0; i < losses.length; i++) {
    expect(Math.abs(losses[i] - ref.losses[i]) / ref.losses[i], `step ${i + 1} loss ${losses[i]} vs ${ref.losses[i]}`).toBeLessThan(1e-3);
    expect(Math.abs(norms[i] - ref.grad_norms[i]) / ref.grad_norms[i], `step ${i + 1} grad norm ${norms[i]} vs ${ref.grad_norms[i]}`).toBeLessThan(1e-3);
  }
  opt.dispose();
  ids.dispose();
  labels.dispose();
}
