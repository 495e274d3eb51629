// GPT-2 against the independent plain-PyTorch float64 reference (tools/gpt2_reference.py,
// tools/gpt2_train_reference.py): logits at lengths 1, 7 and 128, greedy generation through the KV cache, and the
// 10-step AdamW loss curve of llm.c's test_gpt2.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { expectTrainCurve } from '../helpers/train-curve.ts';
import { compare, describeComparison } from '../../src/check/compare.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';
import { loadGpt2 } from '../../src/models/load-node.ts';
import { generate } from '../../src/models/generate.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { noGrad } from '../../src/autograd/tape.ts';

const gpuPromise = testGpu();

const MODEL = 'assets/gpt2-shakespeare';

const fixture = await readSafetensorsPath('test/fixtures/gpt2-logits.safetensors');

describe('gpt2-shakespeare vs the float64 PyTorch reference', () => {
  async function logitsFor(ids: Int32Array): Promise<Float32Array> {
    const gpu = await gpuPromise;
    const model = await loadGpt2(gpu, MODEL);
    try {
      using _s = gpu.scope('logits');
      const x = Tensor.from(gpu, ids, [1, ids.length], { label: 'ids' });
      return await noGrad(gpu, () => model.eval().forward(x)).readF32();
    } finally {
      model.dispose();
    }
  }

  for (const len of [1, 7]) {
    it(`logits, length ${len}: max abs ≤ 1e-4, rel L2 ≤ 1e-5`, async () => {
      const got = await logitsFor(await fixture.getInt32(`ids_len${len}`));
      const c = compare(got, await fixture.getF32(`logits_len${len}`));
      expect(c.maxAbsError, describeComparison(c)).toBeLessThanOrEqual(1e-4);
      expect(c.relL2, describeComparison(c)).toBeLessThanOrEqual(1e-5);
    });
  }

  for (const name of ['len128', 'text']) {
    it(`logits, ${name} (rows at chosen positions): max abs ≤ 1e-4, rel L2 ≤ 1e-5`, async () => {
      const got = await logitsFor(await fixture.getInt32(`ids_${name}`));
      const positions = await fixture.getInt32(`logits_${name}_positions`);
      const want = await fixture.getF32(`logits_${name}_rows`);
      const V = want.length / positions.length;
      const rows = new Float32Array(want.length);
      positions.forEach((p, i) => rows.set(got.subarray(p * V, (p + 1) * V), i * V));
      const c = compare(rows, want);
      expect(c.maxAbsError, describeComparison(c)).toBeLessThanOrEqual(1e-4);
      expect(c.relL2, describeComparison(c)).toBeLessThanOrEqual(1e-5);
    });
  }

  it('greedy generation through the KV cache equals the reference greedy ids (30 tokens from "ROMEO:\\n")', async () => {
    const gpu = await gpuPromise;
    const model = await loadGpt2(gpu, MODEL);
    const prompt = Array.from(await fixture.getInt32('greedy_prompt_ids'));
    const ids = await generate(model.eval(), prompt, { maxNewTokens: 30, temperature: 0 });
    expect(ids).toEqual(Array.from(await fixture.getInt32('greedy_ids')));
    const a = await generate(model, prompt, { maxNewTokens: 12, temperature: 0.9, topK: 40, topP: 0.95, seed: 7 });
    const b = await generate(model, prompt, { maxNewTokens: 12, temperature: 0.9, topK: 40, topP: 0.95, seed: 7 });
    expect(a).toEqual(b);
    model.dispose();
  });
});

describe('10-step AdamW loss curve vs the reference (llm.c test_gpt2 style)', () => {
  for (const [name, folder] of [['gpt2-shakespeare', MODEL], ['tiny_gpt2', 'assets/hf-fixtures/tiny_gpt2']] as const) {
    it(`${name}: losses and grad norms of 10 steps`, async () => {
      const ref = JSON.parse(readFileSync(`test/fixtures/gpt2-train-${name}.json`, 'utf8'));
      const gpu = await gpuPromise;
      const model = await loadGpt2(gpu, folder);
      model.setDropout(0); // the reference trains without dropout (tiny_gpt2's config says 0.1)
      model.train();
      await expectTrainCurve(gpu, model, ref);
      model.dispose();
    });
  }
});
