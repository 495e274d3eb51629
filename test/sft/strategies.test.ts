// The SFT job end to end on small slices of the bundled data: full fine-tuning lowers validation loss, freeze keeps
// frozen tensors bit-identical in the written checkpoint, head trains only its new score head, early stopping restores the
// best weights, and --resume reproduces an uninterrupted run exactly.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { sftArgs } from '../helpers/sft-args.ts';
import { runSft, type SftArgs, type SftEvent } from '../../src/sft/run-node.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';

const gpuPromise = testGpu();
const MODEL = 'assets/gpt2-shakespeare';

function slice(file: string, from: number, count: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'sft-data-'));
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .slice(from, from + count);
  const path = join(dir, 'data.jsonl');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

const DIALOGUE_TRAIN = slice('assets/sft/dialogue/train.jsonl', 0, 32);
const DIALOGUE_VAL = slice('assets/sft/dialogue/val.jsonl', 0, 12);

function args(over: Partial<SftArgs>): SftArgs {
  return sftArgs({
    model: MODEL,
    train: DIALOGUE_TRAIN,
    val: DIALOGUE_VAL,
    maxSteps: 4,
    batchSize: 4,
    lr: 1e-3,
    lrSchedule: 'constant',
    dropout: 0,
    maxLength: 48,
    seed: 1,
    ...over,
  });
}

async function run(a: SftArgs) {
  const events: SftEvent[] = [];
  const result = await runSft(await gpuPromise, a, (e) => events.push(e));
  return { result, events };
}

async function tensors(path: string): Promise<Map<string, Float32Array>> {
  const f = await readSafetensorsPath(path);
  const out = new Map<string, Float32Array>();
  for (const name of f.tensors.keys()) out.set(name, await f.getF32(name));
  return out;
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('SFT strategies', () => {
  it('full: validation loss goes down from the pretrained model', async () => {
    const { result } = await run(args({ maxSteps: 6 }));
    expect(result.before!.loss).toBeGreaterThan(0);
    expect(result.after!.loss, `val loss ${result.before!.loss} → ${result.after!.loss}`).toBeLessThan(
      result.before!.loss - 0.05,
    );
  });

  it('freeze 2: embeddings and blocks 0-1 bit-identical in the written checkpoint, the rest changed', async () => {
    const a = args({ strategy: 'freeze', freezeLayers: 2, maxSteps: 2 });
    await run(a);
    const before = await tensors(join(MODEL, 'model.safetensors'));
    const after = await tensors(join(a.out, 'model.safetensors'));
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, w] of before) {
      const frozen = /wte|wpe|\.h\.[01]\./.test(name);
      if (frozen) expect(bits(after.get(name)!).equals(bits(w)), `${name} must be unchanged`).toBe(true);
      else expect(bits(after.get(name)!).equals(bits(w)), `${name} must have trained`).toBe(false);
    }
    const config = JSON.parse(readFileSync(join(a.out, 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['GPT2LMHeadModel']);
    for (const f of [
      'vocab.json',
      'merges.txt',
      'training_args.json',
      'metrics.jsonl',
      'optimizer.safetensors',
    ]) {
      expect(() => readFileSync(join(a.out, f)), f).not.toThrow();
    }
  });

  it('early stopping with patience 1 stops and restores the best weights', async () => {
    const a = args({ lr: 0.05, maxSteps: 8, evalEvery: 1, patience: 1, clipGradNorm: 0 });
    const { result, events } = await run(a);
    const evals = events.filter((e) => e.type === 'eval');
    const stop = events.find((e) => e.type === 'early-stop');
    expect(result.reason).toBe('early-stop');
    expect(stop).toBeDefined();
    const best = Math.min(...evals.map((e) => (e.type === 'eval' ? e.metrics.loss : Infinity)));
    expect(
      Math.abs(result.after!.loss - best) / best,
      `restored val loss ${result.after!.loss} vs best ${best}`,
    ).toBeLessThan(1e-5);
  });

  it('resume continues exactly: the same losses and bit-identical weights as an uninterrupted run', async () => {
    const whole = args({ maxSteps: 4, evalEvery: 2 });
    const wholeRun = await run(whole);
    const split = args({ maxSteps: 2, evalEvery: 2 });
    await run(split);
    const resumed = await run({ ...split, maxSteps: 4, resume: true });
    const stepLosses = (events: SftEvent[]) =>
      events.flatMap((e) => (e.type === 'step' ? [[e.step, e.loss]] : []));
    expect(stepLosses(resumed.events)).toEqual(stepLosses(wholeRun.events).filter(([s]) => s > 2));
    const a = await tensors(join(whole.out, 'model.safetensors'));
    const b = await tensors(join(split.out, 'model.safetensors'));
    for (const [name, w] of a) expect(bits(b.get(name)!).equals(bits(w)), name).toBe(true);
  });

  it('resume with early stopping: the best weights from before the interruption are still the ones restored', async () => {
    // Uninterrupted: the best validation loss at some step b, then `patience` worse evaluations and an early stop.
    const settings = { lr: 0.05, maxSteps: 8, evalEvery: 1, patience: 2, clipGradNorm: 0 };
    const whole = args(settings);
    const wholeRun = await run(whole);
    expect(wholeRun.result.reason).toBe('early-stop');
    const stop = wholeRun.events.find((e) => e.type === 'early-stop');
    const bestStep = stop?.type === 'early-stop' ? stop.bestStep : 0;
    expect(bestStep).toBeGreaterThan(0);
    // Interrupted one step after the best: that run ends at max-steps with the best restored into model.safetensors,
    // yet its resume must go on from the weights of step b + 1 and still restore step b's at the early stop.
    const split = args({ ...settings, maxSteps: bestStep + 1 });
    await run(split);
    const resumed = await run({ ...split, maxSteps: 8, resume: true });
    const stepLosses = (events: SftEvent[]) =>
      events.flatMap((e) => (e.type === 'step' ? [[e.step, e.loss]] : []));
    expect(stepLosses(resumed.events)).toEqual(stepLosses(wholeRun.events).filter(([s]) => s > bestStep + 1));
    expect(resumed.result.reason).toBe('early-stop');
    expect(resumed.result.after!.loss).toBe(wholeRun.result.after!.loss);
    const a = await tensors(join(whole.out, 'model.safetensors'));
    const b = await tensors(join(split.out, 'model.safetensors'));
    for (const [name, w] of a) expect(bits(b.get(name)!).equals(bits(w)), name).toBe(true);
  });

  // The accuracy bar (test above the majority class) is test/sft/head-speakers.test.ts; this checks what the head
  // strategy guarantees at any setting: only the new head trains, it learns (training loss falls), and the checkpoint
  // is a GPT2ForSequenceClassification folder.
  it('head on speakers: only score.weight trains, its loss falls, and the checkpoint is HF sequence classification', async () => {
    const a = args({
      strategy: 'head',
      train: slice('assets/sft/speakers/train.jsonl', 0, 96),
      val: 'assets/sft/speakers/val.jsonl',
      batchSize: 32,
      maxSteps: 0,
      epochs: 3,
      lr: 5e-3,
      maxLength: 32,
      weightDecay: 0,
    });
    const { events } = await run(a);
    const losses = events.flatMap((e) => (e.type === 'step' ? [e.loss] : []));
    expect(losses.length).toBe(9);
    const firstEpoch = losses.slice(0, 3).reduce((x, y) => x + y) / 3;
    const lastEpoch = losses.slice(-3).reduce((x, y) => x + y) / 3;
    expect(lastEpoch, `train loss ${losses.map((l) => l.toFixed(3)).join(' ')}`).toBeLessThan(firstEpoch);
    const base = await tensors(join(MODEL, 'model.safetensors'));
    const out = await tensors(join(a.out, 'model.safetensors'));
    expect(out.get('score.weight')!.length).toBe(8 * 64);
    for (const [name, w] of base) expect(bits(out.get(name)!).equals(bits(w)), `${name} frozen`).toBe(true);
    const config = JSON.parse(readFileSync(join(a.out, 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['GPT2ForSequenceClassification']);
    expect(Object.keys(config.id2label)).toHaveLength(8);
    expect(config.label2id.PETRUCHIO).toBeTypeOf('number');
  });
});
