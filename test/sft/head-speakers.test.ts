// Issue 5's bar for feature-based fine-tuning: `--strategy head` on the bundled speakers data, trained on the real
// train split with the head chosen by validation loss, beats the majority class on the real test split; and the
// checkpoint is a GPT2ForSequenceClassification folder whose backbone is bit-identical to the input model.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { runSft, type SftEvent } from '../../src/sft/run-node.ts';
import { sftArgs } from '../helpers/sft-args.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';

const gpuPromise = testGpu();
const MODEL = 'assets/gpt2-shakespeare';
const DATA = 'assets/sft/speakers';

/** The share of the most frequent label, read straight from the file. */
function majorityShare(file: string): { share: number; rows: number } {
  const labels = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => String((JSON.parse(l) as { label: unknown }).label));
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return { share: Math.max(...counts.values()) / labels.length, rows: labels.length };
}

// The documented recipe (README, `npm run sft:head`): texts end with a newline, full-batch steps on cached features.
const ARGS = sftArgs({
  model: MODEL, train: `${DATA}/train.jsonl`, val: `${DATA}/val.jsonl`, test: `${DATA}/test.jsonl`, valRatio: 0,
  testRatio: 0, strategy: 'head', epochs: 100, batchSize: 512, lr: 3e-2, lrSchedule: 'constant', template: '{text}\n',
});

describe('head on speakers', () => {
  it('beats the majority class on the test split, keeping the head of the best validation loss', async () => {
    const events: SftEvent[] = [];
    const result = await runSft(await gpuPromise, ARGS, (e) => events.push(e));
    const baseline = majorityShare(ARGS.test!);
    expect(result.test!.count).toBe(baseline.rows);
    const summary = `test accuracy ${result.test!.accuracy} vs majority ${baseline.share}, val ${result.after!.accuracy}`;
    expect(result.test!.accuracy, summary).toBeGreaterThan(baseline.share);

    const evalLosses = events.flatMap((e) => (e.type === 'eval' ? [e.metrics.loss] : []));
    expect(evalLosses.length).toBe(100); // one full-batch step per epoch, evaluated at each epoch end
    expect(result.after!.loss).toBeCloseTo(Math.min(...evalLosses), 6);
    const infos = events.flatMap((e) => (e.type === 'info' ? [e.message] : []));
    expect(infos.some((m) => m.includes('last-token features were computed once (519 texts'))).toBe(true);

    const base = await readSafetensorsPath(join(MODEL, 'model.safetensors'));
    const out = await readSafetensorsPath(join(ARGS.out, 'model.safetensors'));
    for (const name of base.tensors.keys()) {
      const [a, b] = [await base.getF32(name), await out.getF32(name)];
      expect(
        Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(
          Buffer.from(a.buffer, a.byteOffset, a.byteLength),
        ),
        `${name} frozen`,
      ).toBe(true);
    }
    expect(out.tensors.get('score.weight')!.shape).toEqual([8, 64]);
    expect([...out.tensors.keys()].length).toBe(base.tensors.size + 1);
    const config = JSON.parse(readFileSync(join(ARGS.out, 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['GPT2ForSequenceClassification']);
    expect([config.num_labels, config.pad_token_id, config.text_template]).toEqual([8, 50256, '{text}\n']);
    expect(config.id2label[config.label2id.PETRUCHIO]).toBe('PETRUCHIO');
  });
});
