// The bench suite at --quick sizes under Node/Dawn, TF.js on the same device. The TF.js GPT-2 step is left out (one
// step takes 10-20 s on SwiftShader); its model is checked here by the first loss instead. No assertion on speed.
import type { Tensor2D } from '@tensorflow/tfjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { noGrad } from '../../src/autograd/tape.ts';
import { loadGpt2FromFiles } from '../../src/models/load-browser.ts';
import { IGNORE_INDEX } from '../../src/sft/batching.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { nodeSuiteContext } from '../../bench/node.ts';
import { runSuite, type BenchReport, type SuiteContext } from '../../bench/suite.ts';
import { dialogueBatch, modelConfig, sftBatchShape } from '../../bench/cases/sft-step.ts';
import { TfGpt2 } from '../../bench/tfjs/gpt2.ts';
import { expectQuickReport } from '../helpers/bench.ts';
import { testGpu } from '../helpers/gpu.ts';

const gpuPromise = testGpu();
let ctx: SuiteContext;
let report: BenchReport;

beforeAll(async () => {
  ctx = await nodeSuiteContext({ quick: true, wall: false, filter: '!sft-step tf.js' }, await gpuPromise);
  report = await runSuite(ctx, 'node (test)', () => {});
}, 120_000);

afterAll(() => ctx?.timer.dispose());

it('runs TF.js on the WebGPU backend, on our device', () => {
  expect(ctx.tf?.getBackend()).toBe('webgpu');
  const backend = ctx.tf!.backend() as unknown as { device: GPUDevice };
  expect(backend.device).toBe(ctx.gpu.device);
});

it('runs jax-js on WebGPU (its own device: it cannot take ours)', () => {
  expect(ctx.jax?.defaultDevice()).toBe('webgpu');
});

it('reports every quick row with finite positive rates, checked results and ratios to TF.js and jax-js', () => {
  expectQuickReport(report);
});

it('the TF.js GPT-2 gives our loss on the bench batch (same weights, same math)', async () => {
  const { gpu, tf, files } = ctx;
  const { batchSize, maxLength } = sftBatchShape(true);
  const batch = await dialogueBatch(files, batchSize, maxLength);
  const { model } = await loadGpt2FromFiles(gpu, files.model);
  const ours = await noGrad(gpu, async () => {
    using _scope = gpu.scope('test loss');
    return (await new LmTask(model).loss(batch).loss.readF32())[0];
  });
  model.dispose();
  const config = await modelConfig(files);
  const tfModel = await TfGpt2.load(
    tf!,
    await readSafetensors(files.model.get('model.safetensors')!, 'model.safetensors'),
    config,
  );
  const rows: number[] = [];
  const targets: number[] = [];
  batch.targets.forEach((t, i) => t !== IGNORE_INDEX && (rows.push(i), targets.push(t)));
  const theirs = tf!.tidy(() => {
    const labels = tf!.cast(tf!.oneHot(tf!.tensor1d(targets, 'int32'), config.vocabSize), 'float32');
    return tfModel.loss(
      tf!.tensor2d(batch.ids, [batch.B, batch.T], 'int32'),
      tf!.tensor1d(rows, 'int32'),
      labels as Tensor2D,
    );
  });
  const value = (await theirs.data())[0];
  theirs.dispose();
  tfModel.dispose();
  expect(targets.length).toBeGreaterThan(0);
  expect(Math.abs(value - ours) / ours, `TF.js ${value}, ours ${ours}`).toBeLessThan(1e-5);
});
