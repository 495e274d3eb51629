// The pieces of feature-based fine-tuning: classification templates (and the CLI's escapes for them), the feature
// cache against the uncached forward, the head's gradient against float64, the head strategy's input errors, and
// the same job on a Llama model (LlamaForSequenceClassification, backbone untouched).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { InputError } from '../../src/util/errors.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import { Rng } from '../../src/util/random.ts';
import { UsageError, unescapeFlag } from '../../src/cli/args.ts';
import { loadModel } from '../../src/models/load-node.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';
import { readJsonlFile } from '../../src/sft/dataset-node.ts';
import {
  applyTemplate,
  classificationBatches,
  classificationData,
  splitTemplate,
} from '../../src/sft/classification.ts';
import { SequenceClassifier } from '../../src/sft/classifier.ts';
import { featureBatches, lastTokenFeatures } from '../../src/sft/feature-cache.ts';
import { applyStrategy } from '../../src/sft/finetune-modes.ts';
import { ClassificationTask, HeadTask } from '../../src/sft/tasks.ts';
import { evaluateBatches } from '../../src/sft/trainer.ts';
import { runSft, type SftArgs } from '../../src/sft/run-node.ts';
import { sftArgs } from '../helpers/sft-args.ts';

const gpuPromise = testGpu();
const GPT2 = 'assets/gpt2-shakespeare';
const LLAMA = 'assets/stories260K-hf';
const SPEAKERS = 'assets/sft/speakers';
const tokenizerPromise = loadTokenizer(GPT2);
const rowsPromise = readJsonlFile(`${SPEAKERS}/train.jsonl`).then((d) => d.rows.slice(0, 23));

function slice(file: string, count: number): string {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .slice(0, count);
  const path = join(mkdtempSync(join(tmpdir(), 'sft-head-data-')), 'data.jsonl');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

function args(over: Partial<SftArgs>): SftArgs {
  return sftArgs({
    model: GPT2,
    train: slice(`${SPEAKERS}/train.jsonl`, 24),
    val: slice(`${SPEAKERS}/val.jsonl`, 8),
    valRatio: 0,
    testRatio: 0,
    strategy: 'head',
    epochs: 2,
    lr: 3e-2,
    lrSchedule: 'constant',
    maxLength: 40,
    seed: 3,
    ...over,
  });
}

async function expectInputError(run: () => Promise<unknown>, ...parts: string[]): Promise<void> {
  const error = await run().then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  for (const part of parts) expect((error as Error).message).toContain(part);
}

describe('classification templates', () => {
  it('set each text in the template, and truncation keeps the suffix tokens last', async () => {
    const tok = await tokenizerPromise;
    const rows = await rowsPromise;
    const template = 'SPEAKER:\n{text}\n';
    const { examples } = classificationData(rows, tok, { maxLength: 128, template });
    rows.forEach((row, i) => {
      const text = (row as { text: string }).text;
      expect(examples[i].ids).toEqual(tok.encode(applyTemplate(template, text), { allowSpecial: false }));
    });
    const newline = tok.encode('\n');
    const cut = classificationData(rows, tok, { maxLength: 9, template });
    const long = cut.examples.filter((e, i) => e.ids.length === 9 && examples[i].ids.length > 9);
    expect(long.length).toBe(cut.truncated);
    expect(cut.truncated).toBeGreaterThan(3);
    for (const e of long)
      expect([e.ids.slice(0, 8), e.ids.slice(8)]).toEqual([
        examples[cut.examples.indexOf(e)].ids.slice(0, 8),
        newline,
      ]);
  });

  it('a Llama text begins with BOS, and truncation keeps BOS first and the suffix last within maxLength', async () => {
    const llama = await loadTokenizer(LLAMA);
    const rows = await rowsPromise;
    const template = '{text}\n';
    const plain = (text: string) => llama.encode(applyTemplate(template, text), { allowSpecial: false });
    const full = classificationData(rows, llama, { maxLength: 1024, template });
    rows.forEach((row, i) =>
      expect(full.examples[i].ids).toEqual([llama.bosId, ...plain((row as { text: string }).text)]),
    );
    const suffix = [llama.tokenToId('<0x0A>')]; // in context: encoded alone "\n" is [▁, <0x0A>]
    const cut = classificationData(rows, llama, { maxLength: 9, template });
    expect(cut.truncated).toBeGreaterThan(3);
    for (const [i, e] of cut.examples.entries()) {
      expect(e.ids.length).toBeLessThanOrEqual(9);
      expect(e.ids[0]).toBe(llama.bosId);
      if (full.examples[i].ids.length > 9) {
        expect(e.ids).toEqual([...full.examples[i].ids.slice(0, 9 - suffix.length), ...suffix]);
      }
    }
    expect(() => classificationData(rows, llama, { maxLength: 2, template: '{text} a' })).toThrow(
      /expected fewer tokens than maxLength 2 less BOS, got \d/,
    );
  });

  it('need exactly one {text}, and a suffix shorter than maxLength', async () => {
    expect(splitTemplate('<{text}>')).toEqual({ prefix: '<', suffix: '>' });
    expect(() => splitTemplate('no placeholder')).toThrow(
      /template: "no placeholder", expected exactly one \{text\}, got 0/,
    );
    expect(() => splitTemplate('{text} {text}')).toThrow(/expected exactly one \{text\}, got 2/);
    const [rows, tok] = [await rowsPromise, await tokenizerPromise];
    expect(() => classificationData(rows, tok, { maxLength: 2, template: '{text} a b c' })).toThrow(
      /suffix " a b c", expected fewer tokens than maxLength 2, got 3/,
    );
  });

  it('reach the CLI with \\n, \\t and \\\\ unescaped, and other escapes refused', () => {
    expect(unescapeFlag('train', 'template', String.raw`{text}\n\t\\n`)).toBe('{text}\n\t\\n');
    expect(() => unescapeFlag('train', 'template', String.raw`a\qb`)).toThrow(UsageError);
    expect(() => unescapeFlag('train', 'template', String.raw`a\qb`)).toThrow(
      /--template, expected only the escapes .* got '\\q' in 'a\\qb'/,
    );
  });
});

describe('feature cache and head', () => {
  it('cached features (length-sorted, padded batches) equal each text run alone, and give the uncached logits', async () => {
    const gpu = await gpuPromise;
    const model = await loadModel(gpu, GPT2);
    applyStrategy(model, 'head');
    const classifier = new SequenceClassifier(gpu, model, 8, 5);
    const { examples } = classificationData(await rowsPromise, await tokenizerPromise, {
      maxLength: 128,
      template: '{text}\n',
    });
    expect(new Set(examples.map((e) => e.ids.length)).size).toBeGreaterThan(10);
    classifier.train();
    const cached = await lastTokenFeatures(classifier, examples, { batchSize: 5, padId: 50256 });
    expect(classifier.training).toBe(true);
    let worst = 0;
    for (const [i, e] of examples.entries()) {
      using _scope = gpu.scope('alone');
      const ids = Tensor.from(gpu, Int32Array.from(e.ids), [1, e.ids.length], { label: 'ids' });
      const alone = await noGrad(gpu, () =>
        classifier.features(ids, Int32Array.of(e.ids.length - 1)).readF32(),
      );
      expect(cached[i].label).toBe(e.label);
      for (let c = 0; c < 64; c++) worst = Math.max(worst, Math.abs(alone[c] - cached[i].features[c]));
    }
    expect(worst, 'max |cached − alone|').toBeLessThan(1e-5);

    const fromCache = await evaluateBatches(
      gpu,
      classifier,
      new HeadTask(classifier),
      featureBatches(cached, { batchSize: 7, shuffle: false, seed: 0 }),
    );
    const uncached = await evaluateBatches(
      gpu,
      classifier,
      new ClassificationTask(classifier),
      classificationBatches(examples, { batchSize: 7, shuffle: false, seed: 0, padId: 50256 }),
    );
    expect(fromCache.count).toBe(examples.length);
    expect(fromCache.accuracy).toBe(uncached.accuracy);
    expect(Math.abs(fromCache.loss - uncached.loss)).toBeLessThan(1e-5);
    classifier.dispose();
  });

  it('the head gradient equals float64 (softmax − onehot)ᵀ·features / B', async () => {
    const gpu = await gpuPromise;
    const model = await loadModel(gpu, GPT2);
    applyStrategy(model, 'head');
    const [B, C, L] = [13, 64, 8];
    const classifier = new SequenceClassifier(gpu, model, L, 9);
    const rng = new Rng(17);
    const examples = Array.from({ length: B }, () => ({
      features: rng.normal(C, 2),
      label: rng.int(1, 0, L)[0],
    }));
    const [batch] = featureBatches(examples, { batchSize: B, shuffle: false, seed: 0 });
    const W = await classifier.score.weight.readF32(); // (L, C)
    {
      using _scope = gpu.scope('grad');
      new HeadTask(classifier).loss(batch).loss.backward();
    }
    const got = await classifier.score.weight.grad!.readF32();
    const want = new Float64Array(L * C);
    for (const { features: x, label } of examples) {
      const z = Array.from({ length: L }, (_, k) => x.reduce((s, v, c) => s + v * W[k * C + c], 0));
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b);
      for (let k = 0; k < L; k++)
        for (let c = 0; c < C; c++) want[k * C + c] += ((e[k] / sum - (k === label ? 1 : 0)) * x[c]) / B;
    }
    let worst = 0;
    want.forEach((w, i) => (worst = Math.max(worst, Math.abs(w - got[i]) / (Math.abs(w) + 1e-3))));
    expect(worst, 'max relative error of score.weight.grad').toBeLessThan(1e-4);
    expect(model.namedParameters().every(([, p]) => p.grad === null)).toBe(true);
    classifier.dispose();
  });
});

describe('head strategy inputs', () => {
  it('refuses dropout (features are cached from eval mode) and a template outside the head strategy', async () => {
    const gpu = await gpuPromise;
    await expectInputError(
      () => runSft(gpu, args({ dropout: 0.1 }), () => {}),
      '--dropout: 0.1 with --strategy head',
      'expected 0 or unset',
    );
    const dialogue = {
      train: slice('assets/sft/dialogue/train.jsonl', 8),
      val: slice('assets/sft/dialogue/val.jsonl', 4),
    };
    await expectInputError(
      () => runSft(gpu, args({ ...dialogue, strategy: 'full', template: '{text}\n' }), () => {}),
      '--template: "{text}\\n" with --strategy full',
      'expected --strategy head',
    );
  });

  it('on Llama: a LlamaForSequenceClassification checkpoint with score.weight and the backbone bit-identical', async () => {
    const a = args({ model: LLAMA, template: '{text}\n' });
    const result = await runSft(await gpuPromise, a, () => {});
    expect(result.steps).toBe(6);
    expect(Number.isFinite(result.after!.loss)).toBe(true);
    const config = JSON.parse(readFileSync(join(a.out, 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['LlamaForSequenceClassification']);
    expect([config.pad_token_id, config.text_template]).toEqual([2, '{text}\n']);
    const base = await readSafetensorsPath(join(LLAMA, 'model.safetensors'));
    const out = await readSafetensorsPath(join(a.out, 'model.safetensors'));
    expect(out.tensors.get('score.weight')!.shape).toEqual([Object.keys(config.id2label).length, 64]);
    for (const name of base.tensors.keys()) {
      const [x, y] = [await base.getF32(name), await out.getF32(name)];
      expect(
        Buffer.from(y.buffer, y.byteOffset, y.byteLength).equals(
          Buffer.from(x.buffer, x.byteOffset, x.byteLength),
        ),
        `${name} frozen`,
      ).toBe(true);
    }
  });
});
