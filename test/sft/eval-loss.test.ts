// The token-weighted eval loss of stories260K through the engine's evaluation path (evaluate: tokenize, batch,
// GPU forward and cross-entropy) vs transformers' forward on TRL 1.13's prepared rows (tools/chat_reference.py:
// float64 cross-entropy summed over each row's targets). The first dialogue validation rows as prompt/completion and
// the first conversations with the fallback template (SwiftShader takes seconds a row). Measured once on the full
// sets: prompt/completion 136 rows, 7660 targets, engine 4.429100563 vs 4.429100446 (rel 2.6e-8); the 9
// conversations that fit the context, 1187 targets, 4.564063422 vs 4.564063137 (rel 6.2e-8).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { loadModel } from '../../src/models/load-node.ts';
import { loadTokenizer } from '../../src/tokenizers/load-node.ts';
import { evaluate } from '../../src/sft/evaluate.ts';

const STORIES = 'assets/stories260K-hf';
const ref = JSON.parse(readFileSync('test/fixtures/chat-reference.json', 'utf8'));
const val = readFileSync('assets/sft/dialogue/val.jsonl', 'utf8').split('\n').filter((l) => l.trim());
// float32 logits and log-softmax on the GPU, summed over hundreds of targets: a few 1e-7 apart is float32 noise.
const REL = 1e-5;

/** transformers' token-weighted loss over the given rows (all by default): summed cross-entropy / targets. */
function reference(want: { eval_rows: [number, number][] }, pick?: number[]): { loss: number; count: number } {
  const rows = pick ? pick.map((i) => want.eval_rows[i]) : want.eval_rows;
  const count = rows.reduce((s, r) => s + r[1], 0);
  return { loss: rows.reduce((s, r) => s + r[0], 0) / count, count };
}

describe('stories260K eval loss vs transformers on TRL-prepared rows', async () => {
  const gpu = await testGpu();
  const model = await loadModel(gpu, STORIES);
  const tokenizer = await loadTokenizer(STORIES);

  it('the fixture: its rows add up to the loss over all of them', () => {
    for (const want of [ref.prompt_completion.stories260K, ref.chat.stories260K]) {
      const all = reference(want);
      expect(all.count).toBe(want.eval_targets);
      expect(Math.abs(all.loss - want.eval_loss)).toBeLessThan(1e-12);
    }
  });

  // Most conversations are longer than the model's 512 positions: transformers ran them past its context, the
  // engine cuts them to it, so only those that fit compare (9 of 34; one here).
  const fits = ref.chat.stories260K.examples
    .map((e: { ids: number[] }, i: number) => (e.ids.length <= model.contextLength ? i : -1))
    .filter((i: number) => i >= 0)
    .slice(0, 1);
  const first6 = [0, 1, 2, 3, 4, 5];
  it.each([
    ['prompt/completion, 6 rows', val.slice(0, 6).join('\n'), reference(ref.prompt_completion.stories260K, first6)],
    ['chat with the fallback template, 1 conversation', fits.map((i: number) => ref.chats[i]), reference(ref.chat.stories260K, fits)],
  ])('%s', async (_, rows, want) => {
    const metrics = await evaluate({ model, tokenizer, rows, batchSize: 8 });
    expect(metrics.count).toBe(want.count);
    const rel = Math.abs(metrics.loss - want.loss) / want.loss;
    console.log(`engine ${metrics.loss} vs transformers ${want.loss} over ${want.count} targets: rel ${rel.toExponential(2)}`);
    expect(rel).toBeLessThan(REL);
  });
});
