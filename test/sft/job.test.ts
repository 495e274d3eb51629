// The job shared by the CLI and the demo page (src/sft/job.ts) on small slices of the bundled data: the head
// trains on cached features that agree with the uncached forward, the other strategies set what trains and batch
// the tokenized rows, and errors name each setting the way the caller spells it.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { InputError } from '../../src/util/errors.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import { Rng } from '../../src/util/random.ts';
import { loadModel } from '../../src/models/load-node.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';
import { readJsonlFile } from '../../src/sft/dataset-node.ts';
import { tokenizeRows, truncateExamples } from '../../src/sft/dataset.ts';
import { parseJsonl, type DataRow } from '../../src/sft/jsonl.ts';
import { classificationData } from '../../src/sft/classification.ts';
import { SequenceClassifier } from '../../src/sft/classifier.ts';
import type { FeatureBatch } from '../../src/sft/feature-cache.ts';
import type { LmBatch } from '../../src/sft/batching.ts';
import { buildJob, type JobContext, type JobSettings } from '../../src/sft/job.ts';

const gpuPromise = testGpu();
const GPT2 = 'assets/gpt2-shakespeare';
const tokenizerPromise = loadTokenizer(GPT2);
const speakers = readJsonlFile('assets/sft/speakers/train.jsonl').then((d) => d.rows.slice(0, 23));
const dialogue = readJsonlFile('assets/sft/dialogue/train.jsonl').then((d) => d.rows.slice(0, 11));

function settings(over: Partial<JobSettings>): JobSettings {
  return {
    strategy: 'full',
    freezeLayers: 0,
    batchSize: 4,
    maxLength: 32,
    packing: false,
    shuffle: true,
    seed: 5,
    dropout: null,
    sampleTokens: 5,
    ...over,
  };
}

/** The page's naming (`strategy`), collecting progress lines. */
function pageContext(): JobContext & { lines: string[] } {
  const lines: string[] = [];
  return { name: (s) => s, data: 'data', info: (m) => lines.push(m), lines };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function inputError(run: () => Promise<unknown>): Promise<string> {
  const error = await run().then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  return (error as Error).message;
}

describe('head job', () => {
  it('trains only score.weight on cached features that give the uncached logits; the sample is its prediction', async () => {
    const gpu = await gpuPromise;
    const [model, tokenizer, rows] = [await loadModel(gpu, GPT2), await tokenizerPromise, await speakers];
    const C = model.hiddenSize;
    const total = sum(model.parameters().map((p) => p.size));
    const data = { train: rows, val: rows.slice(3, 8), test: rows.slice(0, 3) };
    const template = '{text}\n';
    const context = pageContext();
    const liveBefore = gpu.stats().liveBuffers;
    const job = await buildJob(model, tokenizer, data, settings({ strategy: 'head', template }), context);
    const classifier = job.module as SequenceClassifier;
    const labels = Object.keys(job.config.id2label as object).length;

    expect(job.report).toMatchObject({ trainable: labels * C, trainableTensors: 1, frozen: total });
    expect(
      classifier
        .namedParameters()
        .filter(([, p]) => p.requiresGrad)
        .map(([n]) => n),
    ).toEqual(['score.weight']);
    expect([job.restoreBest, job.featureCache!.texts]).toEqual([true, 23 + 5 + 3]);
    expect(job.config).toMatchObject({
      architectures: ['GPT2ForSequenceClassification'],
      text_template: template,
    });
    expect(context.lines.some((l) => l.startsWith('labels: '))).toBe(true);
    const train = job.trainBatches(0) as FeatureBatch[];
    expect(sum(train.map((b) => b.B))).toBe(23);
    for (const b of train) expect([b.C, b.features.length]).toEqual([C, b.B * C]);
    expect(sum((job.test as FeatureBatch[]).map((b) => b.B))).toBe(3);

    // The first val row through the whole model, without the cache: the same label must win.
    const names = job.config.id2label as Record<string, string>;
    const [example] = classificationData(data.val, tokenizer, {
      maxLength: 32,
      template,
      labels: Object.values(names),
    }).examples;
    const logits = await (async () => {
      using _scope = gpu.scope('uncached');
      const ids = Tensor.from(gpu, Int32Array.from(example.ids), [1, example.ids.length], { label: 'ids' });
      classifier.eval();
      const out = await noGrad(gpu, () =>
        classifier.forward(ids, Int32Array.of(example.ids.length - 1)),
      ).readF32();
      classifier.train();
      return out;
    })();
    const best = names[String(logits.indexOf(Math.max(...logits)))];
    expect(await job.sample()).toBe(`${best} (true: ${String((data.val[0] as { label: unknown }).label)})`);
    expect(job.sampleInput).toBe((data.val[0] as { text: string }).text);

    const weight = new Rng(3).normal(labels * C, 0.1);
    const resumed = await buildJob(
      model,
      tokenizer,
      data,
      settings({ strategy: 'head', headWeight: weight }),
      pageContext(),
    );
    expect(await (resumed.module as SequenceClassifier).score.weight.readF32()).toEqual(weight);
    resumed.dispose();
    job.dispose();
    expect(gpu.stats().liveBuffers, 'the job frees its head and its feature-cache temporaries').toBe(
      liveBefore,
    );
    model.dispose();
  });
});

describe('language-model jobs', () => {
  it('freeze N: embeddings and the first N blocks frozen; rows truncated with a progress line, eval unshuffled', async () => {
    const gpu = await gpuPromise;
    const [model, tokenizer, rows] = [await loadModel(gpu, GPT2), await tokenizerPromise, await dialogue];
    const context = pageContext();
    const data = { train: rows.slice(3), val: rows.slice(0, 3) };
    const job = await buildJob(
      model,
      tokenizer,
      data,
      settings({ strategy: 'freeze', freezeLayers: 2, maxLength: 64 }),
      context,
    );
    const frozen = model.namedParameters().filter(([n]) => /wte|wpe|\.h\.[01]\./.test(n));
    expect(job.report.frozen).toBe(sum(frozen.map(([, p]) => p.size)));
    expect(job.report.trainable).toBe(sum(model.parameters().map((p) => p.size)) - job.report.frozen);
    expect(context.lines.some((l) => /^train: \d+ examples truncated to 64 tokens/.test(l))).toBe(true);
    const val = job.val as LmBatch[];
    for (const b of val) expect(b.T).toBeLessThanOrEqual(64);
    const [firstVal] = truncateExamples(tokenizeRows(data.val, tokenizer), 64).examples;
    expect([...val[0].ids.slice(0, firstVal.ids.length)], 'val in file order').toEqual(firstVal.ids);
    expect([job.restoreBest, job.config.architectures]).toEqual([false, ['GPT2LMHeadModel']]);

    const first = data.val[0] as { prompt: string };
    expect(job.sampleInput).toBe(first.prompt);
    const reply = await job.sample();
    expect(tokenizer.encode(reply, { allowSpecial: false }).length).toBeLessThanOrEqual(5);
    expect(await job.sample(), 'greedy: the same reply twice').toBe(reply);
    expect(model.training).toBe(true);
    model.dispose();
  });

  it('a chat sample stops at the assistant turn', async () => {
    const gpu = await gpuPromise;
    const [model, tokenizer] = [await loadModel(gpu, GPT2), await tokenizerPromise];
    const line = {
      messages: [
        { role: 'user', content: 'Who comes here?' },
        { role: 'assistant', content: 'A friend.' },
      ],
    };
    const { rows } = parseJsonl(JSON.stringify(line) + '\n', 'chat.jsonl');
    const job = await buildJob(
      model,
      tokenizer,
      { train: rows, val: [] },
      settings({ batchSize: 1 }),
      pageContext(),
    );
    expect(job.sampleInput).toContain('Who comes here?');
    expect(job.sampleInput).not.toContain('A friend.');
    model.dispose();
  });
});

describe('job errors name settings as the caller spells them', () => {
  it('labelled rows outside head, a template outside head, dropout with head, no rows', async () => {
    const gpu = await gpuPromise;
    const [model, tokenizer, labelled, chat] = [
      await loadModel(gpu, GPT2),
      await tokenizerPromise,
      await speakers,
      await dialogue,
    ];
    const cli: JobContext = { name: (s) => `--${s}`, data: 'train.jsonl', info: () => {} };
    const build = (train: DataRow[], s: Partial<JobSettings>, c: JobContext = pageContext()) =>
      inputError(() => buildJob(model, tokenizer, { train, val: [] }, settings(s), c));

    // The page's message is pinned by test/browser/demo.test.ts.
    expect(await build(labelled, { strategy: 'full' })).toContain('strategy full: data format text-label');
    const message = await build(labelled, { strategy: 'freeze' }, cli);
    expect(message).toContain('--strategy freeze: train.jsonl format text-label, expected prompt/completion');
    expect(message).toContain('use --strategy head');
    expect(await build(chat, { strategy: 'full', template: '{text}\n' }, cli)).toContain(
      '--template: "{text}\\n" with --strategy full, expected --strategy head',
    );
    expect(await build(labelled, { strategy: 'head', dropout: 0.1 })).toContain(
      'dropout: 0.1 with strategy head, expected 0 or unset',
    );
    expect(await build([], { strategy: 'full' })).toContain(
      'data: rows, expected at least one train row, got none',
    );
    model.dispose();
  });
});
