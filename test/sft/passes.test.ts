// A batch whose activations are past the device's binding limit runs in passes of fewer rows, transparently: the
// planner finds the most rows per pass that fit, and the trainer runs forward and backward per pass with each loss
// weighted by its share of the batch's targets. stories260K at B 5 × T 128 on a device whose bindings are forced to
// 256 KiB (the MLP's (640, 172) activation is 430 KiB, 88 KiB a row): the whole batch in one pass is refused, in passes
// it trains, and its loss, gradients and evaluation equal those of the same batch in one pass on the device's own limit.
import { afterAll, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createDevice } from '../../src/gpu/device.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { metaLimitsOf } from '../../src/gpu/meta-device.ts';
import { loadModel, loadModelAndTokenizerFromFolder } from '../../src/models/load-node.ts';
import { describePlan, planMemory } from '../../src/sft/memory-plan.ts';
import { fineTune } from '../../src/sft/fine-tune.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import { evaluateBatches, Trainer } from '../../src/sft/trainer.ts';
import type { LmBatch } from '../../src/sft/batching.ts';
import { Rng } from '../../src/util/random.ts';
import type { LanguageModel } from '../../src/models/language-model.ts';

const MODEL = 'assets/stories260K-hf';
const LIMIT = 256 * 1024;
const B = 5;
const T = 128;
const devices: Gpu[] = [];
afterAll(() => devices.forEach((g) => g.dispose()));

// Rows with different numbers of targets (one with none), so the passes' shares differ.
function batch(seed: number, V: number): LmBatch {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: B * T }, () => Math.floor(rng.next() * V));
  const targets = new Int32Array(B * T).fill(-100);
  let tokens = 0;
  for (let b = 0; b < B; b++) {
    const n = [100, 7, 0, 128, 31][b];
    for (let t = T - n; t < T; t++, tokens++) targets[b * T + t] = ids[b * T + ((t + 1) % T)];
  }
  return { ids, targets, B, T, tokens };
}

async function run(maxBindingBytes?: number) {
  const gpu = await createDevice({ log: null, maxBindingBytes });
  devices.push(gpu);
  const settings = { strategy: 'full' as const, freezeLayers: 0, batchSize: B, maxLength: T };
  const raw = JSON.parse(readFileSync(`${MODEL}/config.json`, 'utf8')) as Record<string, unknown>;
  const plan = await planMemory(
    raw,
    `${MODEL}/config.json`,
    { ...settings, gradientCheckpointing: false, dropout: 0 },
    metaLimitsOf(gpu),
  );
  const model = await loadModel(gpu, MODEL);
  model.setDropout(0);
  const V = model.vocabSize;
  let refusal = '';
  try {
    using _s = gpu.scope('one pass');
    new LmTask(model).loss(batch(1, V)).loss.backward();
  } catch (e) {
    refusal = (e as Error).message;
  }
  const task = new LmTask(model, { rowsPerPass: plan.rowsPerPass });
  const trainer = new Trainer(gpu, model, task, {
    epochs: 1,
    maxSteps: 1,
    gradAccum: 1,
    lr: 1e-3,
    lrSchedule: 'constant',
    warmupSteps: 0,
    weightDecay: 0,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    clipGradNorm: 1,
    seed: 0,
    evalEvery: 0,
    patience: 0,
  });
  const losses: number[] = [];
  await trainer.train({
    trainBatches: () => [batch(1, V)],
    onEvent: (e) => void (e.type === 'step' && losses.push(e.loss)),
  });
  const grads = new Map<string, Float32Array>();
  for (const [name, p] of model.namedParameters()) grads.set(name, await p.grad!.readF32());
  const evaluation = await evaluateBatches(gpu, model, task, [batch(3, V)]);
  trainer.dispose();
  model.dispose();
  return { plan, refusal, losses, grads, evaluation };
}

it('a batch past the binding limit runs in passes with the loss, gradients and evaluation of one pass', async () => {
  const whole = await run();
  const split = await run(LIMIT);
  expect(whole.plan.rowsPerPass).toBe(B);
  expect(whole.refusal).toBe('');
  expect(split.plan.rowsPerPass).toBeGreaterThanOrEqual(1);
  expect(split.plan.rowsPerPass).toBeLessThan(B);
  expect(describePlan(split.plan)).toContain(`in passes of ${split.plan.rowsPerPass} rows`);
  expect(split.refusal).toMatch(/binding limit|binding '/);
  expect(split.losses[0]).toBeCloseTo(whole.losses[0], 5);
  expect(Math.abs(split.losses[0] - whole.losses[0]) / whole.losses[0]).toBeLessThan(1e-6);
  for (const [name, g] of whole.grads) {
    const s = split.grads.get(name)!;
    let diff = 0;
    let max = 0;
    for (let i = 0; i < g.length; i++) {
      diff = Math.max(diff, Math.abs(s[i] - g[i]));
      max = Math.max(max, Math.abs(g[i]));
    }
    expect(diff / max, `${name}: max|Δ| ${diff} of max|g| ${max}`).toBeLessThan(1e-5);
  }
  expect(split.evaluation.count).toBe(whole.evaluation.count);
  expect(Math.abs(split.evaluation.loss - whole.evaluation.loss) / whole.evaluation.loss).toBeLessThan(1e-6);
  expect(split.evaluation.accuracy).toBe(whole.evaluation.accuracy);
}, 120_000);

it('fineTune plans the step too: past the binding limit it trains in passes and says so', async () => {
  const gpu = await createDevice({ log: null, maxBindingBytes: LIMIT });
  devices.push(gpu);
  const { model, tokenizer } = await loadModelAndTokenizerFromFolder(gpu, MODEL);
  const story =
    'Once upon a time there was a little cat who liked to play in the big green garden with the dog. ';
  const rows = Array.from({ length: B }, (_, i) => ({ text: `${i}. ${story.repeat(4)}` }));
  const info: string[] = [];
  const result = await fineTune({
    model, tokenizer, train: rows, val: rows, batchSize: B, maxLength: T, epochs: 2, lr: 3e-3,
    lrSchedule: 'constant', shuffle: false, dropout: 0, onInfo: (m) => info.push(m),
  }); // prettier-ignore
  expect(info.join('\n')).toMatch(/memory plan \(micro-batch 5 × 128 tokens, in passes of [1-4] rows: /);
  expect(result.steps).toBe(2);
  expect(result.after!.loss).toBeLessThan(result.before!.loss);
  model.dispose();
}, 120_000);

it('passes: no pass without a target, shares sum to 1, shorter batches take more rows, bad options refused', () => {
  const b = batch(1, 512); // targets per row: 100, 7, 0, 128, 31
  const model = {} as LanguageModel; // passes() only slices the batch
  const one = new LmTask(model, { rowsPerPass: 1 }).passes(b);
  expect(one.map((p) => p.batch.tokens)).toEqual([100, 7, 128, 31]);
  expect(one.reduce((s, p) => s + p.share, 0)).toBeCloseTo(1, 12);
  expect(one.map((p) => p.batch.ids[0])).toEqual([0, 1, 3, 4].map((r) => b.ids[r * T]));
  // Planned at 2 rows of 256 tokens: a batch of 128 tokens per row takes 4.
  expect(new LmTask(model, { rowsPerPass: 2, passLength: 256 }).passes(b).map((p) => p.batch.B)).toEqual([
    4, 1,
  ]);
  expect(new LmTask(model).passes({ ...b, targets: b.targets.map(() => -100), tokens: 0 })).toEqual([]);
  expect(() => new LmTask(model, { rowsPerPass: 0 })).toThrow(
    /LmTask: option 'rowsPerPass', expected an integer ≥ 1, got 0/,
  );
});
