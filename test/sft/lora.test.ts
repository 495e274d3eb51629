// LoRA against Hugging Face peft (tools/peft_reference.py -> test/fixtures/lora/ and lora-logits.safetensors): an
// adapter trained here loads in peft and gives peft's logits; adapters made by peft (GPT-2's Conv1D, Llama with rsLoRA,
// every linear layer, layers_to_transform) give peft's logits here; merging gives them as a plain model. Training
// changes only the adapter, which starts as the base model exactly, and checkpoints hold peft's layout.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { textRows } from '../helpers/cli.ts';
import { sftArgs } from '../helpers/sft-args.ts';
import { compare, describeComparison } from '../../src/check/compare.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';
import { loadModel } from '../../src/models/load-node.ts';
import type { LanguageModel } from '../../src/models/language-model.ts';
import { loadAdapter, mergeAdapter } from '../../src/sft/adapter-node.ts';
import {
  adapterTensors,
  attachLora,
  LORA_DEFAULTS,
  parseAdapterConfig,
  peftKey,
} from '../../src/sft/lora.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import { Trainer } from '../../src/sft/trainer.ts';
import { runSft } from '../../src/sft/run-node.ts';

const gpuPromise = testGpu();
const fixture = readSafetensorsPath('test/fixtures/lora-logits.safetensors');
const BASES = {
  'ours-gpt2': 'assets/gpt2-shakespeare',
  'peft-gpt2': 'assets/gpt2-shakespeare',
  'peft-llama': 'assets/stories260K-hf',
};

async function logits(model: LanguageModel, ids: Int32Array): Promise<Float32Array> {
  const gpu = model.gpu;
  using _s = gpu.scope('logits');
  const x = Tensor.from(gpu, ids, [1, ids.length], { label: 'ids' });
  return noGrad(gpu, () => model.eval().forward(x)).readF32();
}

describe('LoRA adapters vs peft', () => {
  it.each(Object.entries(BASES))(
    '%s: the adapter applied here gives peft’s logits (rel L2 ≤ 1e-5)',
    async (name, base) => {
      const gpu = await gpuPromise;
      const f = await fixture;
      const ids = await f.getInt32(`${name}.ids`);
      const want = await f.getF32(`${name}.logits`);
      const model = await loadModel(gpu, base);
      try {
        const plain = await logits(model, ids);
        await loadAdapter(model, `test/fixtures/lora/${name}`);
        const got = await logits(model, ids);
        const c = compare(got, want);
        expect(c.relL2, describeComparison(c)).toBeLessThanOrEqual(1e-5);
        expect(compare(plain, want).relL2, 'the adapter moves the logits').toBeGreaterThan(0.1);
      } finally {
        model.dispose();
      }
    },
  );

  it.each(Object.entries(BASES))(
    '%s: merged into its base, a plain model gives peft’s logits',
    async (name, base) => {
      const gpu = await gpuPromise;
      const f = await fixture;
      const out = join(mkdtempSync(join(tmpdir(), 'merged-')), 'model');
      const kind = name.endsWith('llama') ? 'llama' : 'gpt2';
      await mergeAdapter(base, `test/fixtures/lora/${name}`, out, kind);
      const model = await loadModel(gpu, out);
      try {
        const c = compare(
          await logits(model, await f.getInt32(`${name}.ids`)),
          await f.getF32(`${name}.logits`),
        );
        expect(c.relL2, describeComparison(c)).toBeLessThanOrEqual(1e-5);
        expect(model.namedParameters().some(([n]) => n.includes('lora'))).toBe(false);
      } finally {
        model.dispose();
      }
    },
  );

  it('refuses what it cannot apply: DoRA, other peft methods, regular-expression targets, extra options', () => {
    const ok = JSON.parse(
      readFileSync('test/fixtures/lora/peft-llama/adapter_config.json', 'utf8'),
    ) as Record<string, unknown>;
    expect(parseAdapterConfig(ok, 'a.json')).toEqual({
      r: 4,
      alpha: 16,
      dropout: 0,
      rslora: true,
      layers: [0, 2],
      targets: ok.target_modules,
    });
    const refusals: [Record<string, unknown>, RegExp][] = [
      [{ use_dora: true }, /a\.json: field 'use_dora', expected false \(DoRA is not supported\)/],
      [{ peft_type: 'IA3' }, /field 'peft_type', expected 'LORA'/],
      [
        { target_modules: '.*proj' },
        /field 'target_modules', expected a list of module names or 'all-linear'/,
      ],
      [{ rank_pattern: { q_proj: 8 } }, /field 'rank_pattern'/],
      [{ lora_bias: true }, /field 'lora_bias', expected unset/],
      [{ r: 0 }, /field 'r', expected an integer in \[1, 4096\]/],
    ];
    for (const [change, message] of refusals)
      expect(() => parseAdapterConfig({ ...ok, ...change }, 'a.json')).toThrow(message);
  });
});

describe('one LoRA step vs PyTorch + peft', () => {
  // tools/peft_reference.py: the gradients and one full-batch float64 AdamW step (lr 1e-3, decay 0.01, clip 1.0,
  // dropout 0) from peft's adapter, only lora_A/lora_B trainable. Adam's first step moves a weight by
  // lr·g/(|g| + eps): where the clipped gradient is within 100·eps of 0 that direction is ill-conditioned (a relative
  // gradient error δ moves it by up to lr·δ/4), so there the step is only bounded by lr; everywhere else the weights
  // must agree to 1e-5 of the tensor's largest. Gradients: f32 backward through every block of an adapter that moves
  // the logits by rel L2 0.3-0.6, bound rel L2 ≤ 1e-4 (measured ≤ 8.6e-5 on GPT-2, 6e-6 on Llama; weights ≤ 3.6e-6).
  it.each([
    ['peft-gpt2', 'assets/gpt2-shakespeare'],
    ['peft-llama', 'assets/stories260K-hf'],
  ])(
    '%s: gradients and lora_A/lora_B after the step match peft; the base bit-identical',
    async (name, base) => {
      const gpu = await gpuPromise;
      const ref = await readSafetensorsPath('test/fixtures/lora-step.safetensors');
      const ids = await ref.getInt32(`${name}.step.ids`);
      const targets = await ref.getInt32(`${name}.step.labels`);
      const model = await loadModel(gpu, base);
      try {
        await loadAdapter(model, `test/fixtures/lora/${name}`);
        const lr = 1e-3;
        const trainer = new Trainer(gpu, model, new LmTask(model), {
        epochs: 1, maxSteps: 1, gradAccum: 1, lr, lrSchedule: 'constant', warmupSteps: 0, weightDecay: 0.01,
        beta1: 0.9, beta2: 0.999, eps: 1e-8, clipGradNorm: 1, seed: 0, evalEvery: 0, patience: 0,
      }); // prettier-ignore
        const tokens = targets.filter((t) => t !== -100).length;
        await trainer.train({ trainBatches: () => [{ ids, targets, B: 2, T: 12, tokens }] });
        trainer.dispose();
        const params = new Map(model.namedParameters().map(([n, t]) => [peftKey(n), t]));
        const after = new Map((await adapterTensors(model)).map((t) => [t.name, t.data]));
        const keys = [...after.keys()];
        expect(keys.length).toBe(
          [...ref.tensors.keys()].filter((k) => k.startsWith(`${name}.step.base_model`)).length,
        );
        const grads = new Map(
          await Promise.all(keys.map(async (k) => [k, await ref.getF32(`${name}.grad.${k}`)] as const)),
        );
        const norm = Math.sqrt([...grads.values()].reduce((s, g) => s + g.reduce((a, x) => a + x * x, 0), 0));
        const clip = Math.min(1, 1 / (norm + 1e-6));
        let [worst, illConditioned, worstGrad] = [0, 0, 0];
        for (const key of keys) {
          const c = compare(await params.get(key)!.grad!.readF32(), grads.get(key)!);
          worstGrad = Math.max(worstGrad, c.relL2);
          expect(c.relL2, `${key} gradient: ${describeComparison(c)}`).toBeLessThanOrEqual(1e-4);
          const [want, got, g] = [await ref.getF32(`${name}.step.${key}`), after.get(key)!, grads.get(key)!];
          let [maxDiff, maxRef] = [0, 0];
          for (let i = 0; i < want.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(want[i]));
            const diff = Math.abs(got[i] - want[i]);
            if (Math.abs(g[i]) * clip >= 1e-6) maxDiff = Math.max(maxDiff, diff);
            else {
              illConditioned++;
              expect(diff, `${key}[${i}]`).toBeLessThanOrEqual(lr);
            }
          }
          worst = Math.max(worst, maxDiff / maxRef);
          expect(maxDiff / maxRef, `${key}: max|Δ| ${maxDiff} vs max|ref| ${maxRef}`).toBeLessThanOrEqual(
            1e-5,
          );
        }
        console.log(
          `${name}: gradients rel L2 ≤ ${worstGrad.toExponential(2)}; worst max|Δ|/max|ref| ${worst.toExponential(2)}, ${illConditioned} ill-conditioned elements (clip ${clip.toExponential(2)})`,
        );
        const original = await readSafetensorsPath(join(base, 'model.safetensors'));
        for (const t of await model.exportTensors()) {
          const bits = Buffer.from((await original.getF32(t.name)).buffer);
          expect(Buffer.from(t.data.buffer).equals(bits), `${t.name} unchanged`).toBe(true);
        }
      } finally {
        model.dispose();
      }
    },
  );
});
describe('LoRA training', () => {
  it("--adapter: training goes on from peft's adapter with its settings (rsLoRA, layers_to_transform)", async () => {
    const gpu = await gpuPromise;
    const a = sftArgs({
      model: 'assets/stories260K-hf', train: textRows(16), batchSize: 2, maxLength: 24, lr: 1e-3, maxSteps: 1,
      strategy: 'lora', adapter: 'test/fixtures/lora/peft-llama',
    }); // prettier-ignore
    await runSft(gpu, a, () => undefined);
    const config = JSON.parse(readFileSync(join(a.out, 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({ r: 4, lora_alpha: 16, use_rslora: true, layers_to_transform: [0, 2] });
    const [before, after] = await Promise.all(
      ['test/fixtures/lora/peft-llama', a.out].map((f) =>
        readSafetensorsPath(join(f, 'adapter_model.safetensors')),
      ),
    );
    const key = 'base_model.model.model.layers.2.mlp.up_proj.lora_B.weight';
    const [b0, b1] = [await before.getF32(key), await after.getF32(key)];
    const moved = b1.reduce((m, x, i) => Math.max(m, Math.abs(x - b0[i])), 0);
    expect(moved, 'one step of lr 1e-3 from the imported values').toBeGreaterThan(1e-4);
    expect(moved).toBeLessThan(3e-3);
  });

  it('a fresh adapter leaves the model exactly as it was (B = 0)', async () => {
    const gpu = await gpuPromise;
    const model = await loadModel(gpu, 'assets/stories260K-hf');
    try {
      const ids = Int32Array.from([1, 45, 300, 7, 99]);
      const before = await logits(model, ids);
      const adapted = attachLora(model, { ...LORA_DEFAULTS, targets: ['all-linear'] }, 3);
      expect(adapted).toHaveLength(5 * 7);
      expect(Buffer.from((await logits(model, ids)).buffer).equals(Buffer.from(before.buffer))).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it('trains only the adapter; the checkpoint is peft’s layout, and --resume goes on from it', async () => {
    const gpu = await gpuPromise;
    const a = sftArgs({
      model: 'assets/stories260K-hf', train: textRows(16), batchSize: 2, maxLength: 24, lr: 1e-2, maxSteps: 2,
      strategy: 'lora', lora: { ...LORA_DEFAULTS, r: 4, targets: ['q_proj', 'v_proj', 'down_proj'] },
    }); // prettier-ignore
    const events: string[] = [];
    await runSft(gpu, a, (e) => events.push(e.type === 'info' ? e.message : e.type));
    expect(events.join('\n')).toMatch(
      /strategy lora: 9,200 trainable parameters in 30 tensors, 260,032 frozen/,
    );
    const config = JSON.parse(readFileSync(join(a.out, 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 4,
      lora_alpha: 16,
      fan_in_fan_out: false,
    });
    expect(config.target_modules).toEqual(['down_proj', 'q_proj', 'v_proj']);
    const file = await readSafetensorsPath(join(a.out, 'adapter_model.safetensors'));
    expect(file.metadata.format).toBe('pt');
    expect(file.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')?.shape).toEqual(
      [4, 64],
    );
    expect(file.tensors.get('base_model.model.model.layers.4.mlp.down_proj.lora_B.weight')?.shape).toEqual([
      64, 4,
    ]);
    expect(file.tensors.size).toBe(30);
    const B = await file.getF32('base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight');
    expect(
      B.some((x) => x !== 0),
      'B trained',
    ).toBe(true);
    expect(() => readFileSync(join(a.out, 'model.safetensors')), 'no copy of the frozen base').toThrow();
    // The adapter loads back onto the base; a resume trains on from it.
    const model = await loadModel(gpu, 'assets/stories260K-hf');
    await loadAdapter(model, a.out);
    model.dispose();
    const resumed: number[] = [];
    await runSft(
      gpu,
      { ...a, resume: true, maxSteps: 3 },
      (e) => void (e.type === 'step' && resumed.push(e.step)),
    );
    expect(resumed).toEqual([3]);
  });
});
