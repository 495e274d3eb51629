// The trainer's side of issue #11: the learning rate each step runs at (transformers' convention: a 1-step run trains
// at the peak), non-finite weights or validation loss never reach a checkpoint, and runs that would take no step are
// refused (too few rows before the model loads; a resume already at its last step).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { textRows } from '../helpers/cli.ts';
import { sftArgs } from '../helpers/sft-args.ts';
import { runSft, type SftArgs, type SftEvent } from '../../src/sft/run-node.ts';
import { verifyCheckpoint } from '../../src/sft/checkpoint-folder-node.ts';
import { loadModelAndTokenizerFromFolder } from '../../src/models/load-node.ts';
import { readJsonlFile } from '../../src/sft/dataset-node.ts';
import { buildJob } from '../../src/sft/job.ts';
import { Trainer, type TrainEvent } from '../../src/sft/trainer.ts';

const gpuPromise = testGpu();
const LLAMA = 'assets/stories260K-hf';
const ROWS = textRows(16);

function args(over: Partial<SftArgs>): SftArgs {
  return sftArgs({ model: LLAMA, train: ROWS, batchSize: 2, maxLength: 24, lr: 1e-2, ...over });
}

async function run(a: SftArgs) {
  const events: SftEvent[] = [];
  const result = await runSft(await gpuPromise, a, (e) => events.push(e));
  return { result, events };
}

const stepRates = (events: SftEvent[]) => events.flatMap((e) => (e.type === 'step' ? [e.lr] : []));

describe('learning rate per step', () => {
  it('a 1-step cosine run trains at the peak rate (it ran at 0 before) and a 2-step one ends above 0', async () => {
    const a = args({ maxSteps: 1 });
    const one = await run(a);
    expect(stepRates(one.events)).toEqual([1e-2]);
    const base = readFileSync(join(LLAMA, 'model.safetensors'));
    expect(readFileSync(join(a.out, 'model.safetensors')).equals(base), 'one step changed the weights').toBe(
      false,
    );
    const two = await run(args({ maxSteps: 2 }));
    expect(stepRates(two.events)).toEqual([1e-2, 0.5e-2]);
  });
});

describe('non-finite values never reach a checkpoint', () => {
  it('weights that overflow in the update: the run stops naming the tensor, the last good checkpoint unchanged', async () => {
    const a = args({ maxSteps: 2, evalEvery: 1 });
    await run(a);
    const manifest = readFileSync(join(a.out, 'checkpoint.json'), 'utf8');
    const blown = await run({ ...a, resume: true, maxSteps: 4, lr: 1e39, lrSchedule: 'constant' });
    expect(blown.result.reason).toBe('nonfinite');
    const event = blown.events.find((e) => e.type === 'nonfinite');
    expect(event).toMatchObject({
      type: 'nonfinite',
      step: 3,
      what: 'weights',
      tensor: expect.stringMatching(/^model\./),
    });
    expect(readFileSync(join(a.out, 'checkpoint.json'), 'utf8')).toBe(manifest);
    expect((await verifyCheckpoint(a.out, { hash: true })).step).toBe(2);
  });

  it('a validation loss that is not finite (finite but huge weights) ends the run without a checkpoint', async () => {
    const gpu = await gpuPromise;
    const { model, tokenizer } = await loadModelAndTokenizerFromFolder(gpu, LLAMA);
    const rows = (await readJsonlFile(ROWS)).rows;
    const job = await buildJob(
      model,
      tokenizer,
      { train: rows.slice(4), val: rows.slice(0, 4) },
      {
        strategy: 'full',
        freezeLayers: 0,
        batchSize: 2,
        maxLength: 24,
        packing: false,
        shuffle: false,
        seed: 0,
        dropout: null,
        sampleTokens: 0,
      },
      { name: (s) => s, data: ROWS, info: () => undefined },
    );
    const trainer = new Trainer(gpu, job.module, job.task, {
      epochs: 1, maxSteps: 3, gradAccum: 1, lr: 1e-3, lrSchedule: 'constant', warmupSteps: 0, weightDecay: 0,
      beta1: 0.9, beta2: 0.999, eps: 1e-8, clipGradNorm: 1, seed: 0, evalEvery: 1, patience: 0,
    }); // prettier-ignore
    const events: TrainEvent[] = [];
    let checkpoints = 0;
    const done = await trainer.train({
      trainBatches: job.trainBatches,
      valBatches: job.val,
      onEvent: (e) => {
        events.push(e);
        // After step 2's update: a final-norm weight of 3e38 is finite, but every logit overflows.
        if (e.type === 'step' && e.step === 2)
          job.module.load('model.norm.weight', new Float32Array(64).fill(3e38));
      },
      onCheckpoint: () => Promise.resolve(void checkpoints++),
    });
    expect(done.reason).toBe('nonfinite');
    expect(events.find((e) => e.type === 'nonfinite')).toMatchObject({ step: 2, what: 'val-loss' });
    expect(checkpoints, 'only the checkpoint after step 1').toBe(1);
    trainer.dispose();
    job.dispose();
    model.dispose();
  });
});

describe('runs that would take no step are refused', () => {
  it('too few rows for one optimizer step, before the model loads', async () => {
    const a = args({ train: textRows(3), batchSize: 1, gradAccum: 8, valRatio: 0, testRatio: 0 });
    await expect(run(a)).rejects.toThrow(
      /rows, expected at least 8 for one optimizer step of --grad-accum 8 batches of --batch-size 1, got 3/,
    );
  });

  it('a resume already at its last step', async () => {
    const a = args({ maxSteps: 1 });
    await run(a);
    await expect(run({ ...a, resume: true })).rejects.toThrow(
      /train: steps, expected a total above the 1 already done, got 1/,
    );
  });
});
