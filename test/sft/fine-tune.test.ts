// fineTune, the one-call API, on the tiny bundled Llama (stories260K): it trains (the loss on the training rows
// falls), objects and JSONL text give the same run, an AbortSignal stops after the current step, every setting not
// given has the table's default, and plain-JS misuse is refused in one line naming the option or row.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { InputError } from '../../src/util/errors.ts';
import { loadModelAndTokenizerFromFolder } from '../../src/models/load-node.ts';
import { fineTune, type FineTuneOptions } from '../../src/sft/fine-tune.ts';
import { HEAD_DEFAULTS, SFT_DEFAULTS } from '../../src/sft/defaults.ts';
import type { TrainEvent } from '../../src/sft/trainer.ts';

const gpuPromise = testGpu();
const FOLDER = 'assets/stories260K-hf';
const ROWS = [
  { text: 'Once upon a time there was a little cat.' },
  { text: 'The dog ran to the park and played.' },
  { text: 'Lily had a red ball. She liked to play.' },
  { text: 'Tim saw a big tree in the garden.' },
];
const load = async () => loadModelAndTokenizerFromFolder(await gpuPromise, FOLDER);

describe('fineTune', () => {
  it('trains 2 epochs of one step: a step event each, the loss on the training rows falls, the result says why it ended', async () => {
    const { model, tokenizer } = await load();
    const events: TrainEvent[] = [];
    const result = await fineTune({
      model,
      tokenizer,
      train: ROWS,
      val: ROWS,
      batchSize: 4, // one batch: every step sees the same targets
      epochs: 2,
      lr: 3e-3,
      lrSchedule: 'constant',
      shuffle: false,
      onEvent: (e) => events.push(e),
    });
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.map((e) => e.step)).toEqual([1, 2]);
    for (const e of steps) expect(Number.isFinite(e.loss)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'done', reason: 'epochs', step: 2 });
    expect(result).toMatchObject({ steps: 2, reason: 'epochs', test: null });
    expect(result.after!.loss).toBeLessThan(result.before!.loss);
    expect(result.module).toBe(model);
    expect(result.config.model_type).toBe('llama');
    model.dispose();
  });

  it("strategy lora: trains only the adapters and returns them in peft's layout, still on the model", async () => {
    const { model, tokenizer } = await load();
    const base = await model.exportTensors();
    const result = await fineTune({
      model, tokenizer, train: ROWS, val: ROWS, batchSize: 4, epochs: 2, lr: 1e-2, lrSchedule: 'constant', shuffle: false,
      strategy: 'lora', lora: { r: 2, targets: ['q_proj', 'v_proj'], dropout: 0 },
    }); // prettier-ignore
    expect(result.after!.loss).toBeLessThan(result.before!.loss);
    expect(result.adapter!.config).toMatchObject({
      peft_type: 'LORA',
      r: 2,
      lora_alpha: 16,
      target_modules: ['q_proj', 'v_proj'],
    });
    expect(result.adapter!.tensors).toHaveLength(5 * 2 * 2);
    expect(result.adapter!.tensors[0].name).toBe(
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
    );
    const after = await model.exportTensors();
    for (const [i, t] of base.entries())
      expect(Buffer.from(after[i].data.buffer).equals(Buffer.from(t.data.buffer)), t.name).toBe(true);
    expect(
      model.namedParameters().filter(([n]) => n.includes('lora_')).length,
      'the adapters stay on the model',
    ).toBe(20);
    await expect(
      fineTune({ model, tokenizer, train: ROWS, strategy: 'lora', lora: { rank: 4 } as never }),
    ).rejects.toThrow(
      /fineTune: unknown option 'lora\.rank', expected one of r, alpha, dropout, targets, rslora, layers/,
    );
    model.dispose();
  });

  it('takes JSONL text as it takes objects: the same losses step by step', async () => {
    const losses = async (train: FineTuneOptions['train']) => {
      const { model, tokenizer } = await load();
      const out: number[] = [];
      await fineTune({
        model,
        tokenizer,
        train,
        batchSize: 2,
        maxSteps: 2,
        onEvent: (e) => e.type === 'step' && out.push(e.loss),
      });
      model.dispose();
      return out;
    };
    const jsonl = ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const fromObjects = await losses(ROWS);
    expect(fromObjects).toHaveLength(2);
    expect(await losses(jsonl)).toEqual(fromObjects);
  });

  it('gradientCheckpointing recomputes blocks in the backward: the same losses step by step, dropout included', async () => {
    const losses = async (gradientCheckpointing: boolean) => {
      const { model, tokenizer } = await load();
      const out: number[] = [];
      await fineTune({
        model, tokenizer, train: ROWS, batchSize: 2, epochs: 2, maxSteps: 3, dropout: 0.1, gradientCheckpointing,
        onEvent: (e) => e.type === 'step' && out.push(e.loss),
      });
      expect(model.gradientCheckpointing).toBe(gradientCheckpointing);
      model.dispose();
      return out;
    };
    const plain = await losses(false);
    expect(plain).toHaveLength(3);
    expect(await losses(true)).toEqual(plain);
  });

  it('stops after the current step when the signal aborts, with reason stopped and no evaluation after', async () => {
    const { model, tokenizer } = await load();
    const controller = new AbortController();
    const steps: number[] = [];
    const result = await fineTune({
      model,
      tokenizer,
      train: ROWS,
      val: ROWS.slice(0, 1),
      batchSize: 1,
      epochs: 3,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type !== 'step') return;
        steps.push(e.step);
        controller.abort();
      },
    });
    expect(steps).toEqual([1]);
    expect(result).toMatchObject({ steps: 1, reason: 'stopped', after: null });
    model.dispose();
  });

  it('fills every setting not given from the one table of defaults (the head strategy from its own)', async () => {
    const { model, tokenizer } = await load();
    const result = await fineTune({ model, tokenizer, train: ROWS, maxSteps: 1, batchSize: 4 });
    const { valRatio: _v, testRatio: _t, sampleTokens: _s, ...defaults } = SFT_DEFAULTS;
    expect(result.settings).toEqual({ ...defaults, maxSteps: 1, batchSize: 4 });
    model.dispose();
    expect(HEAD_DEFAULTS).toMatchObject({ epochs: 100, lrSchedule: 'constant' });
  });

  it('refuses plain-JS misuse in one line: unknown or missing options, wrong types, wrong rows, zero steps', async () => {
    const { model, tokenizer } = await load();
    const call = (o: Record<string, unknown>) =>
      fineTune({ model, tokenizer, train: ROWS, ...o } as unknown as FineTuneOptions);
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { learningRate: 1e-3 },
        /^fineTune: unknown option 'learningRate', expected one of model, tokenizer, train, .*lr/,
      ],
      [{ train: undefined }, /^fineTune: option 'train', expected rows, got undefined/],
      [{ tokenizer: null }, /^fineTune: option 'tokenizer', expected a loaded tokenizer, got null/],
      [
        { model: 'assets/stories260K-hf' },
        /^fineTune: option 'model', expected a loaded model .*, got "assets\/stories260K-hf"/,
      ],
      [{ tokenizer: {} }, /^fineTune: option 'tokenizer', expected a loaded tokenizer, got an object/],
      [{ epochs: '2' }, /^fineTune: option 'epochs', expected a number, got "2"/],
      [{ batchSize: 0 }, /^fineTune: option 'batchSize', expected a positive integer, got 0/],
      [{ beta2: 1 }, /^fineTune: option 'beta2', expected a number in \[0, 1\), got 1$/],
      [{ warmupSteps: -2 }, /^fineTune: option 'warmupSteps', expected an integer ≥ 0, got -2$/],
      [{ strategy: 'adapter' }, /^fineTune: option 'strategy', expected one of full, freeze, head, lora, got "adapter"/],
      [
        { train: [{ prompt: 'a', answer: 'b' }] },
        /^train\[0\]: unknown field "answer", expected only the fields of \{"prompt","completion"\}/,
      ],
      [
        { train: [{ text: 'a' }, { prompt: 'a', completion: 'b' }] },
        /^train\[1\]: row format differs from row 0/,
      ],
      [{ val: [{ text: 3 }] }, /^val\[0\]: field "text" has the wrong type, expected a string, got number 3/],
      [{ train: 'not json' }, /^train:1: .*expected one JSON object per line/],
      [{ train: { text: 'a' } }, /^train: rows, expected an array of objects or JSONL text, got an object/],
      [
        { batchSize: 2, gradAccum: 3 },
        /^fineTune: optimizer steps, expected at least one, got 0 \(2 batches of batchSize 2 per epoch, gradAccum 3\)/,
      ],
    ];
    for (const [over, message] of cases) {
      const error = await call(over).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, JSON.stringify(over)).toBeInstanceOf(InputError);
      expect((error as Error).message, JSON.stringify(over)).toMatch(message);
    }
    model.dispose();
  });
});
