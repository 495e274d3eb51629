// One full-batch SFT step written to disk equals one step of the independent PyTorch AdamW reference
// (tools/gpt2_train_reference.py: tiny_gpt2, dropout 0, clip 1.0, decay on matrices only).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { loadModel } from '../../src/models/load-node.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import { Trainer } from '../../src/sft/trainer.ts';
import { saveCheckpoint } from '../../src/sft/checkpoint-node.ts';

const gpuPromise = testGpu();
const TINY = 'assets/hf-fixtures/tiny_gpt2';

it('weights after one step (dropout 0, no shuffle, full batch, max steps 1) match PyTorch AdamW: per tensor max|Δ| ≤ 1e-5·max|ref|', async () => {
  const gpu = await gpuPromise;
  const ref = JSON.parse(readFileSync('test/fixtures/gpt2-train-tiny_gpt2.json', 'utf8'));
  const model = await loadModel(gpu, TINY);
  model.setDropout(0);
  const B = ref.input_ids.length;
  const T = ref.input_ids[0].length;
  const targets = Int32Array.from(ref.labels.flat());
  const batch = { ids: Int32Array.from(ref.input_ids.flat()), targets, B, T, tokens: targets.filter((t) => t !== -100).length };
  const o = ref.optimizer;
  const trainer = new Trainer(gpu, model, new LmTask(model), {
    epochs: 1, maxSteps: 1, gradAccum: 1, lr: o.lr, lrSchedule: 'constant', warmupSteps: 0, weightDecay: o.weight_decay,
    beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, clipGradNorm: o.grad_clip.max_norm, seed: 0, evalEvery: 0, patience: 0,
  });
  const out = mkdtempSync(join(tmpdir(), 'sft-step-'));
  const done = await trainer.train({
    trainBatches: () => [batch],
    onCheckpoint: (trainerState, optimizer) => saveCheckpoint(out, { model, config: model.rawConfig, sourceFolder: TINY, trainingArgs: {}, optimizer, trainerState }),
  });
  expect(done.step).toBe(1);
  const written = await readSafetensorsPath(join(out, 'model.safetensors'));
  const want = await readSafetensorsPath('test/fixtures/gpt2-train-tiny-step1.safetensors');
  for (const name of want.tensors.keys()) {
    const w = await want.getF32(name);
    const g = await written.getF32(`transformer.${name}`);
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < w.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(g[i] - w[i]));
      maxRef = Math.max(maxRef, Math.abs(w[i]));
    }
    expect(maxDiff / maxRef, `${name}: max|Δ| ${maxDiff} vs max|ref| ${maxRef}`).toBeLessThanOrEqual(1e-5);
  }
  trainer.dispose();
  model.dispose();
});
