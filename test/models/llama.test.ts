// Llama (assets/stories260K-hf: 8 query heads over 4 KV heads, tied embeddings) against the independent plain-PyTorch
// float64 reference (tools/llama_reference.py → tools/ref_models.py): logits at lengths 1, 9 and 200, the length-200
// loss, greedy decoding from BOS through the KV cache, the 10-step AdamW loss curve, config refusals, and layer-wise
// freezing through the SFT trainer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { expectTrainCurve } from '../helpers/train-curve.ts';
import { compare, describeComparison } from '../../src/check/compare.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';
import { loadLlama, loadModel, readConfigJson, openWeights } from '../../src/models/load-node.ts';
import { parseLlamaConfig } from '../../src/models/llama/config.ts';
import { LlamaModel } from '../../src/models/llama/model.ts';
import { loadLlamaWeights } from '../../src/models/llama/weights.ts';
import { generate } from '../../src/models/generate.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import * as F from '../../src/autograd/functional.ts';
import { applyStrategy } from '../../src/sft/finetune-modes.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import { Trainer } from '../../src/sft/trainer.ts';
import { WeightsError } from '../../src/util/errors.ts';

const gpuPromise = testGpu();

const MODEL = 'assets/stories260K-hf';
const fixture = await readSafetensorsPath('test/fixtures/llama-logits.safetensors');
const train = JSON.parse(readFileSync('test/fixtures/llama-train.json', 'utf8'));
const rawConfig = JSON.parse(readFileSync(`${MODEL}/config.json`, 'utf8')) as Record<string, unknown>;

describe('stories260K vs the float64 PyTorch reference', () => {
  async function logitsFor(model: LlamaModel, ids: Int32Array): Promise<Float32Array> {
    const gpu = model.gpu;
    using _s = gpu.scope('logits');
    const x = Tensor.from(gpu, ids, [1, ids.length], { label: 'ids' });
    return noGrad(gpu, () => model.eval().forward(x)).readF32();
  }

  for (const len of [1, 9, 200]) {
    it(`logits, length ${len}: rel L2 ≤ 1e-5, max abs ≤ 1e-4`, async () => {
      const model = await loadLlama(await gpuPromise, MODEL);
      try {
        const c = compare(await logitsFor(model, await fixture.getInt32(`ids_len${len}`)), await fixture.getF32(`logits_len${len}`));
        expect(c.relL2, describeComparison(c)).toBeLessThanOrEqual(1e-5);
        expect(c.maxAbsError, describeComparison(c)).toBeLessThanOrEqual(1e-4);
      } finally {
        model.dispose();
      }
    });
  }

  it('mean next-token loss over length 200 equals loss_len200 (relative ≤ 1e-5)', async () => {
    const gpu = await gpuPromise;
    const model = await loadLlama(gpu, MODEL);
    const ids = await fixture.getInt32('ids_len200');
    using _s = gpu.scope('loss');
    const loss = noGrad(gpu, () => {
      const logits = model.eval().forward(Tensor.from(gpu, ids.subarray(0, 199), [1, 199], { label: 'ids' }));
      return F.crossEntropy(F.reshape(logits, [199, -1]), Tensor.from(gpu, ids.slice(1), [199], { label: 'targets' }));
    });
    const got = (await loss.readF32())[0];
    const want = (await fixture.getF32('loss_len200'))[0];
    expect(Math.abs(got - want) / want, `loss ${got} vs ${want}`).toBeLessThanOrEqual(1e-5);
    model.dispose();
  });

  it('greedy decoding from BOS through the KV cache reproduces the 40 reference ids', async () => {
    const gpu = await gpuPromise;
    const model = await loadModel(gpu, MODEL); // through the model_type dispatch
    expect(model.kind).toBe('llama');
    const prompt = Array.from(await fixture.getInt32('greedy_prompt_ids'));
    const ids = await generate(model.eval(), prompt, { maxNewTokens: 40, temperature: 0 });
    expect(ids).toEqual(Array.from(await fixture.getInt32('greedy_ids')));
    model.dispose();
  });
});

describe('10-step AdamW loss curve vs the reference (tools/llama_reference.py)', () => {
  it('stories260K: losses and grad norms of 10 steps, relative ≤ 1e-3 each', async () => {
    const ref = train;
    const gpu = await gpuPromise;
    const model = await loadLlama(gpu, MODEL);
    model.train();
    await expectTrainCurve(gpu, model, ref);
    model.dispose();
  });
});

describe('config.json validation', () => {
  const parse = (patch: Record<string, unknown>) => parseLlamaConfig({ ...rawConfig, ...patch }, 'llama/config.json');

  it('reads stories260K and fills the HF defaults', () => {
    const c = parse({});
    expect([c.numHeads, c.numKvHeads, c.headDim, c.ropeTheta, c.tieWordEmbeddings, c.bosTokenId, c.eosTokenId]).toEqual([8, 4, 8, 10000, true, 1, 2]);
    const d = parseLlamaConfig({ model_type: 'llama', vocab_size: 32, hidden_size: 48, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 6 });
    expect([d.numKvHeads, d.headDim, d.ropeTheta, d.rmsNormEps, d.tieWordEmbeddings, d.attentionBias, d.mlpBias]).toEqual([6, 8, 10000, 1e-6, false, false, false]);
    expect(parse({ rope_scaling: null, sliding_window: null }).ropeTheta).toBe(10000);
    expect(parse({ rope_scaling: { rope_type: 'default' } }).ropeTheta).toBe(10000);
    expect(parse({ rope_parameters: { rope_type: 'default', rope_theta: 500000 } }).ropeTheta).toBe(500000);
    expect(parse({ eos_token_id: [128001, 128009] }).eosTokenId).toBe(128001);
    const l3 = { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    expect(parse({ rope_theta: 500000, rope_scaling: l3 }).ropeScaling).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    expect(parse({ rope_parameters: { ...l3, rope_theta: 500000 } }).ropeTheta).toBe(500000);
    // Qwen2: q/k/v biases whatever attention_bias says, none on o_proj or the MLP; sliding_window set but unused.
    const q2 = parse({ model_type: 'qwen2', attention_bias: true, mlp_bias: true, sliding_window: 32768, use_sliding_window: false });
    expect([q2.qkvBias, q2.oBias, q2.mlpBias, q2.qkNorm]).toEqual([true, false, false, false]);
    const q3 = parse({ model_type: 'qwen3', head_dim: undefined, max_position_embeddings: undefined });
    expect([q3.headDim, q3.qkNorm, q3.qkvBias, q3.oBias, q3.maxPositions]).toEqual([128, true, false, false, 32768]);
    expect(parse({ model_type: 'qwen3', attention_bias: true })).toMatchObject({ qkvBias: true, oBias: true });
  });

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['rope_scaling (llama3, fields missing)', { rope_scaling: { rope_type: 'llama3', factor: 8 } }, /field 'rope_scaling.low_freq_factor', expected a positive number \(rope_type 'llama3'\), got nothing/],
    ['rope_scaling (linear, old spelling)', { rope_scaling: { type: 'linear', factor: 2 } }, /field 'rope_scaling.rope_type', expected 'default' or 'llama3', got "linear"\nhint: linear, dynamic, yarn/],
    ['rope_parameters (yarn)', { rope_parameters: { rope_type: 'yarn', rope_theta: 10000 } }, /field 'rope_parameters.rope_type', expected 'default' or 'llama3', got "yarn"/],
    ['rope_parameters.partial_rotary_factor', { rope_parameters: { rope_type: 'default', rope_theta: 1e4, partial_rotary_factor: 0.5 } }, /field 'rope_parameters.partial_rotary_factor', expected 1, got 0.5/],
    ['layer_types with sliding attention', { layer_types: ['sliding_attention', 'full_attention', 'full_attention', 'full_attention', 'full_attention'] }, /field 'layer_types', expected every entry 'full_attention'/],
    ['qwen2 sliding window in use', { model_type: 'qwen2', use_sliding_window: true, sliding_window: 4096, max_window_layers: 1 }, /field 'use_sliding_window', expected false \(or max_window_layers ≥ num_hidden_layers\), got true/],
    ['MoE (num_experts)', { num_experts: 8 }, /field 'num_experts', expected null or 0, got 8\nhint: mixture-of-experts/],
    ['sliding_window', { sliding_window: 4096 }, /field 'sliding_window', expected null, got 4096\nhint: sliding-window/],
    ['hidden_act', { hidden_act: 'gelu' }, /field 'hidden_act', expected 'silu'.*got "gelu"/],
    ['model_type', { model_type: 'mistral' }, /field 'model_type', expected 'llama', 'qwen2' or 'qwen3', got "mistral"/],
    ['partial_rotary_factor', { partial_rotary_factor: 0.5 }, /field 'partial_rotary_factor'/],
    ['quantization_config', { quantization_config: { quant_method: 'gptq' } }, /field 'quantization_config'/],
    ['heads not a multiple of KV heads', { num_key_value_heads: 3 }, /num_attention_heads % num_key_value_heads, expected 0, got 8 % 3 = 2/],
    ['odd head_dim', { head_dim: 7 }, /field 'head_dim', expected an even number/],
    ['missing hidden_size', { hidden_size: undefined }, /field 'hidden_size', expected a positive integer/],
  ];
  for (const [name, patch, message] of refusals) {
    it(`refuses ${name} with a WeightsError naming the field`, () => {
      expect(() => parse(patch)).toThrow(WeightsError);
      expect(() => parse(patch)).toThrow(message);
    });
  }

  it('a config that does not match the file fails naming the file, the tensor and both shapes', async () => {
    const gpu = await gpuPromise;
    const model = new LlamaModel(gpu, parse({ num_key_value_heads: 8 }));
    await expect(loadLlamaWeights(model, await openWeights(MODEL))).rejects.toThrow(
      /model\.safetensors: tensor 'model\.layers\.0\.self_attn\.k_proj\.weight' has shape \[32, 64\], expected \[64, 64\]/,
    );
    model.dispose();
    const untied = new LlamaModel(gpu, parse({ tie_word_embeddings: false }));
    await expect(loadLlamaWeights(untied, await openWeights(MODEL))).rejects.toThrow(/tensor 'lm_head\.weight', expected shape \[512, 64\], got no such tensor/);
    untied.dispose();
  });

  it('exports exactly the tensors of the file (tied: no lm_head), bit-identical', async () => {
    const gpu = await gpuPromise;
    const model = await loadLlama(gpu, MODEL);
    const store = await openWeights(MODEL);
    const out = await model.exportTensors();
    expect(out.map((t) => t.name).sort()).toEqual([...store.tensors.keys()].sort());
    for (const t of out) expect(Buffer.from(t.data.buffer).equals(Buffer.from((await store.getF32(t.name)).buffer)), t.name).toBe(true);
    expect((await readConfigJson(MODEL)).model_type).toBe('llama');
    model.dispose();
  });
});

describe('SFT on Llama', () => {
  it('freeze 1 layer: embed_tokens and layers.0 stay bit-identical over 2 trainer steps, the rest change', async () => {
    const gpu = await gpuPromise;
    const model = await loadLlama(gpu, MODEL);
    const report = applyStrategy(model, 'freeze', { freezeLayers: 1 });
    const frozen = (name: string) => name === 'model.embed_tokens.weight' || name.startsWith('model.layers.0.');
    expect(report.frozenTensors).toBe(model.namedParameters().filter(([n]) => frozen(n)).length);
    for (const [name, p] of model.namedParameters()) expect(p.requiresGrad, name).toBe(!frozen(name));
    const before = new Map<string, Float32Array>();
    for (const [name, p] of model.namedParameters()) before.set(name, await p.readF32());
    const B = train.input_ids.length;
    const T = train.input_ids[0].length;
    const targets = Int32Array.from(train.labels.flat());
    const batch = { ids: Int32Array.from(train.input_ids.flat()), targets, B, T, tokens: targets.filter((t) => t !== -100).length };
    const trainer = new Trainer(gpu, model, new LmTask(model), {
      epochs: 2, maxSteps: 2, gradAccum: 1, lr: 1e-3, lrSchedule: 'constant', warmupSteps: 0, weightDecay: 0.1,
      beta1: 0.9, beta2: 0.999, eps: 1e-8, clipGradNorm: 1, seed: 0, evalEvery: 0, patience: 0,
    });
    const losses: number[] = [];
    const done = await trainer.train({ trainBatches: () => [batch], onEvent: (e) => e.type === 'step' && losses.push(e.loss) });
    expect(done.step).toBe(2);
    expect(losses.length).toBe(2);
    expect(losses[1]).toBeLessThan(losses[0]);
    for (const [name, p] of model.namedParameters()) {
      const same = Buffer.from((await p.readF32()).buffer).equals(Buffer.from(before.get(name)!.buffer));
      expect(same, `${name}: ${frozen(name) ? 'frozen, must not change' : 'trainable, must change'}`).toBe(frozen(name));
    }
    trainer.dispose();
    model.dispose();
  });
});
