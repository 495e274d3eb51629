// The memory planner runs the step on the meta device; here the same step runs on the real one (SwiftShader) and the
// buffer pool's high-water mark is compared with the plan: full, LoRA and checkpointed, GPT-2 and Llama, and with the
// binding limit forced low. A tensor past maxBufferSize, or an activation bound whole past the binding limit, is
// refused by the plan in one line, before any weight is read.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createDevice } from '../../src/gpu/device.ts';
import { loadModel } from '../../src/models/load-node.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { applyStrategy } from '../../src/sft/finetune-modes.ts';
import { attachLora, LORA_DEFAULTS } from '../../src/sft/lora.ts';
import { describePlan, planMemory, type PlanSettings } from '../../src/sft/memory-plan.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import { InputError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';

const config = (folder: string) => JSON.parse(readFileSync(`${folder}/config.json`, 'utf8')) as Record<string, unknown>;
const BASE: PlanSettings = { strategy: 'full', freezeLayers: 0, batchSize: 2, maxLength: 64, gradientCheckpointing: false, dropout: null };

/** The pool's high-water mark over model, optimizer and one step on a fresh real device, targets only on some rows. */
async function measured(folder: string, s: PlanSettings, maxBindingBytes?: number): Promise<number> {
  const gpu = await createDevice({ log: null, maxBindingBytes });
  try {
    const model = await loadModel(gpu, folder);
    model.gradientCheckpointing = s.gradientCheckpointing;
    if (s.dropout !== null) model.setDropout(s.dropout);
    if (s.strategy === 'lora') attachLora(model, s.lora ?? LORA_DEFAULTS, 0);
    applyStrategy(model, s.strategy, { freezeLayers: s.freezeLayers });
    const optimizer = new AdamW(gpu, model.namedParameters(), { lr: 1e-3, clipGradNorm: 1 });
    const T = Math.min(s.maxLength, model.contextLength);
    const rng = new Rng(3);
    const ids = Int32Array.from({ length: s.batchSize * T }, () => Math.floor(rng.next() * model.vocabSize));
    model.train();
    {
      using _scope = gpu.scope('step');
      const { loss } = new LmTask(model).loss({ ids, targets: ids, B: s.batchSize, T, tokens: ids.length });
      loss.backward();
      await loss.readF32();
      optimizer.step();
      await gpu.sync();
    }
    const peak = gpu.pool.takePeakBytes();
    model.dispose();
    return peak;
  } finally {
    gpu.dispose();
  }
}

describe('memory plan', () => {
  const cases: [string, string, Partial<PlanSettings>][] = [
    ['GPT-2 full', 'assets/gpt2-shakespeare', {}],
    ['GPT-2 LoRA, dropout 0.1', 'assets/gpt2-shakespeare', { strategy: 'lora', dropout: 0.1 }],
    ['stories260K full, checkpointed', 'assets/stories260K-hf', { batchSize: 4, maxLength: 256, gradientCheckpointing: true }],
    ['stories260K freeze 2', 'assets/stories260K-hf', { strategy: 'freeze', freezeLayers: 2, batchSize: 3, maxLength: 100 }],
  ];
  for (const [name, folder, over] of cases) {
    it(`${name}: the plan's peak is a real step's high-water mark to 0.1%`, async () => {
      const s = { ...BASE, ...over };
      const t0 = performance.now();
      const plan = await planMemory(config(folder), `${folder}/config.json`, s);
      const planMs = performance.now() - t0;
      const real = await measured(folder, s);
      console.log(`${name}: ${describePlan(plan)}; measured ${(real / 2 ** 20).toFixed(1)} MiB (plan in ${planMs.toFixed(0)} ms)`);
      // Equal to within a few KiB (small per-step buffers the loader and the real step's readback add).
      expect(Math.abs(plan.peak - real)).toBeLessThan(real * 1e-3);
      expect(plan.trainedWeights + plan.frozenWeights + plan.gradients + plan.optimizer + plan.step).toBe(plan.peak);
      expect(plan.step).toBeGreaterThan(0);
    });
  }

  it('at a 1 MiB binding limit (wte, its gradient and AdamW state in windows) the plan is still the real step\'s peak', async () => {
    const folder = 'assets/gpt2-shakespeare';
    const s = { ...BASE, batchSize: 2, maxLength: 40 };
    const plan = await planMemory(config(folder), `${folder}/config.json`, s, { maxStorageBufferBindingSize: 2 ** 20 });
    const real = await measured(folder, s, 2 ** 20);
    expect(Math.abs(plan.peak - real)).toBeLessThan(real * 1e-3);
  });

  it("GPT-2 124M's wte (154 MB) under a browser's default limits (128 MiB bindings, 256 MiB buffers) plans; past maxBufferSize it is refused", async () => {
    const gpt2 = { model_type: 'gpt2', vocab_size: 50257, n_embd: 768, n_layer: 12, n_head: 12, n_positions: 1024, n_ctx: 1024 };
    const s = { ...BASE, batchSize: 1, maxLength: 64 };
    const plan = await planMemory(gpt2, 'gpt2/config.json', s);
    expect(plan.trainedWeights).toBe(124_439_808 * 4);
    const err = await planMemory(gpt2, 'gpt2/config.json', s, { maxBufferSize: 128 * 2 ** 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^memory plan: \S+: buffer size, expected at most 134217728 bytes \(device maxBufferSize\), got 154389504/);
  });

  it('an activation a kernel binds whole past the binding limit is refused in one line naming it, with what to change', async () => {
    const folder = 'assets/gpt2-shakespeare';
    const s = { ...BASE, batchSize: 8, maxLength: 128 };
    const err = await planMemory(config(folder), `${folder}/config.json`, s, { maxStorageBufferBindingSize: 2 ** 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^memory plan: [\w-]+: binding '\w+' \(.*\), expected at most 1048576 bytes \(binding limit\), got \d+/);
    expect((err as Error).message).toMatch(/--batch-size or --max-length/);
  });
});
