// The memory planner runs the step on the meta device; here the same step runs on the real one (SwiftShader) and the
// buffer pool's high-water mark is compared with the plan: full, LoRA and checkpointed, GPT-2 and Llama, and with the
// binding limit forced low. A tensor past maxBufferSize, or an activation bound whole past the binding limit, is
// refused by the plan in one line, before any weight is read. By dtype: --dtype auto plans a BF16 file's
// matrices at 2 bytes (from its header, when config.json names no dtype), to a real step's peak, and the loader's
// limit check counts them so.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDevice } from '../../src/gpu/device.ts';
import { createMetaGpu } from '../../src/gpu/meta-device.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';
import { serializeSafetensors, type TensorToWrite } from '../../src/io/safetensors.ts';
import { loadModel, loadModelAndTokenizerFromFolder, openWeights } from '../../src/models/load-node.ts';
import { fileMatrixDtype } from '../../src/models/weights-plan.ts';
import { storeWeights, type WeightDtype } from '../../src/nn/weight-dtype.ts';
import { roundToHalf } from '../../src/util/half.ts';
import { WeightsError } from '../../src/util/errors.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { applyStrategy } from '../../src/sft/finetune-modes.ts';
import { attachLora, LORA_DEFAULTS } from '../../src/sft/lora.ts';
import { describePlan, planMemory, type PlanSettings } from '../../src/sft/memory-plan.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import { InputError } from '../../src/util/errors.ts';
import { Rng } from '../../src/util/random.ts';

// The real steps below run on SwiftShader: a software adapter (grad-norm sizes its scratch by the adapter's kind).
const SWIFTSHADER = { software: true, maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 };
const config = (folder: string) =>
  JSON.parse(readFileSync(`${folder}/config.json`, 'utf8')) as Record<string, unknown>;
const BASE: PlanSettings = {
  strategy: 'full',
  freezeLayers: 0,
  batchSize: 2,
  maxLength: 64,
  gradientCheckpointing: false,
  dropout: null,
};

/** The pool's high-water mark over model, optimizer and one step on a fresh real device, targets only on some rows. */
async function measured(
  folder: string,
  s: PlanSettings,
  maxBindingBytes?: number,
  targetCount?: number,
): Promise<number> {
  const gpu = await createDevice({ log: null, maxBindingBytes });
  try {
    // As sft/run-node.ts loads: the file's dtype kept unless float32, then trained weights f32 and frozen as set.
    const dtype: WeightDtype | undefined = s.dtype;
    const model = dtype
      ? (
          await loadModelAndTokenizerFromFolder(gpu, folder, {
            dtype: dtype === 'float32' ? 'float32' : 'auto',
          })
        ).model
      : await loadModel(gpu, folder);
    model.gradientCheckpointing = s.gradientCheckpointing;
    if (s.dropout !== null) model.setDropout(s.dropout);
    if (s.strategy === 'lora') attachLora(model, s.lora ?? LORA_DEFAULTS, 0);
    applyStrategy(model, s.strategy, { freezeLayers: s.freezeLayers });
    if (dtype) await storeWeights(model, dtype);
    const optimizer = new AdamW(gpu, model.namedParameters(), { lr: 1e-3, clipGradNorm: 1 });
    const T = Math.min(s.maxLength, model.contextLength);
    const rng = new Rng(3);
    const ids = Int32Array.from({ length: s.batchSize * T }, () => Math.floor(rng.next() * model.vocabSize));
    model.train();
    {
      using _scope = gpu.scope('step');
      const targets = targetCount === undefined ? ids : ids.map((t, i) => (i < targetCount ? t : -100));
      const { loss } = new LmTask(model).loss({ ids, targets, B: s.batchSize, T, tokens: ids.length });
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
    [
      'stories260K full, checkpointed',
      'assets/stories260K-hf',
      { batchSize: 4, maxLength: 256, gradientCheckpointing: true },
    ],
    [
      'stories260K freeze 2',
      'assets/stories260K-hf',
      { strategy: 'freeze', freezeLayers: 2, batchSize: 3, maxLength: 100 },
    ],
  ];
  for (const [name, folder, over] of cases) {
    it(`${name}: the plan's peak is a real step's high-water mark to 0.1%`, async () => {
      const s = { ...BASE, ...over };
      const t0 = performance.now();
      const plan = await planMemory(config(folder), `${folder}/config.json`, s, SWIFTSHADER);
      const planMs = performance.now() - t0;
      const real = await measured(folder, s);
      console.log(
        `${name}: ${describePlan(plan)}; measured ${(real / 2 ** 20).toFixed(1)} MiB (plan in ${planMs.toFixed(0)} ms)`,
      );
      // Equal to within a few KiB (small per-step buffers the loader and the real step's readback add).
      expect(Math.abs(plan.peak - real)).toBeLessThan(real * 1e-3);
      expect(plan.trainedWeights + plan.frozenWeights + plan.gradients + plan.optimizer + plan.step).toBe(
        plan.peak,
      );
      expect(plan.step).toBeGreaterThan(0);
    });
  }

  it('a batch with fewer targets than positions stays under the plan (every position a target)', async () => {
    const folder = 'assets/gpt2-shakespeare';
    const s = { ...BASE, batchSize: 8, maxLength: 64 };
    const plan = await planMemory(config(folder), `${folder}/config.json`, s, SWIFTSHADER);
    const all = await measured(folder, s);
    const some = await measured(folder, s, undefined, 300);
    expect(Math.abs(plan.peak - all)).toBeLessThan(all * 1e-3);
    expect(some).toBeLessThan(all);
  });

  it("at a 1 MiB binding limit (wte, its gradient and AdamW state in windows) the plan is still the real step's peak", async () => {
    const folder = 'assets/gpt2-shakespeare';
    const s = { ...BASE, batchSize: 2, maxLength: 40 };
    const plan = await planMemory(config(folder), `${folder}/config.json`, s, {
      ...SWIFTSHADER,
      maxStorageBufferBindingSize: 2 ** 20,
    });
    const real = await measured(folder, s, 2 ** 20);
    expect(Math.abs(plan.peak - real)).toBeLessThan(real * 1e-3);
  });

  it("GPT-2 124M's wte (154 MB) under a browser's default limits (128 MiB bindings, 256 MiB buffers) plans; past maxBufferSize it is refused", async () => {
    const gpt2 = {
      model_type: 'gpt2',
      vocab_size: 50257,
      n_embd: 768,
      n_layer: 12,
      n_head: 12,
      n_positions: 1024,
      n_ctx: 1024,
    };
    const s = { ...BASE, batchSize: 1, maxLength: 64 };
    const plan = await planMemory(gpt2, 'gpt2/config.json', s);
    expect(plan.trainedWeights).toBe(124_439_808 * 4);
    const err = await planMemory(gpt2, 'gpt2/config.json', s, { maxBufferSize: 128 * 2 ** 20 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(
      /^memory plan: \S+: buffer size, expected at most 134217728 bytes \(device maxBufferSize\), got 154389504/,
    );
  });

  it('an activation past the binding limit runs the batch in passes; past it even for one row, refused in one line', async () => {
    const folder = 'assets/gpt2-shakespeare';
    const limits = { maxStorageBufferBindingSize: 512 * 1024 }; // the MLP's (T, 256) activation: 128 KiB a row
    const s = { ...BASE, batchSize: 16, maxLength: 128 };
    const plan = await planMemory(config(folder), `${folder}/config.json`, s, limits);
    expect(plan.batchSize).toBe(16);
    expect(plan.rowsPerPass).toBe(4);
    expect(describePlan(plan)).toMatch(/micro-batch 16 × 128 tokens, in passes of 4 rows: /);
    // One row's (128, 256) activation past a 64 KiB limit: nothing to split.
    const err = await planMemory(config(folder), `${folder}/config.json`, s, {
      maxStorageBufferBindingSize: 64 * 1024,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^memory plan: [\w-]+: .*expected at most \d+ bytes \(binding limit.*\), got \d+/);
    expect((err as Error).message).toMatch(/even one row at a time: for an activation lower --max-length/);
  });
});

/** stories260K with its matrices stored BF16 (rounded), and a config.json that names no dtype. */
async function bf16Copy(): Promise<string> {
  const folder = 'assets/stories260K-hf';
  const out = mkdtempSync(join(tmpdir(), 'plan-bf16-'));
  for (const f of readdirSync(folder))
    if (f !== 'model.safetensors' && f !== 'config.json') copyFileSync(join(folder, f), join(out, f));
  const store = await readSafetensorsPath(join(folder, 'model.safetensors'));
  const tensors: TensorToWrite[] = [];
  for (const [name, info] of store.tensors) {
    const matrix = info.shape.length === 2;
    tensors.push({
      name,
      dtype: matrix ? 'BF16' : 'F32',
      shape: info.shape,
      data: matrix ? roundToHalf(await store.getF32(name), 'bf16') : await store.getF32(name),
    });
  }
  writeFileSync(join(out, 'model.safetensors'), serializeSafetensors(tensors));
  const { torch_dtype: _dropped, ...rest } = config(folder);
  writeFileSync(join(out, 'config.json'), JSON.stringify(rest));
  return out;
}

describe('memory plan by dtype', () => {
  const folderPromise = bf16Copy();
  const LORA: PlanSettings = { ...BASE, strategy: 'lora', batchSize: 3, maxLength: 40, dtype: 'auto' };

  it("--dtype auto plans a BF16 file's matrices at 2 bytes from its header, to a real step's high-water mark", async () => {
    const folder = await folderPromise;
    const raw = config(folder);
    expect(raw.torch_dtype ?? raw.dtype).toBeUndefined();
    const fileDtype = fileMatrixDtype((await openWeights(folder)).tensors.values());
    expect(fileDtype).toBe('BF16');
    const plan = await planMemory(raw, `${folder}/config.json`, { ...LORA, fileDtype }, SWIFTSHADER);
    const configOnly = await planMemory(raw, `${folder}/config.json`, LORA, SWIFTSHADER);
    const real = await measured(folder, LORA);
    console.log(
      `bf16 LoRA: plan ${plan.peak} B (${JSON.stringify(plan.weightsByDtype)}), config-only plan ${configOnly.peak} B, measured ${real} B`,
    );
    const matrices = plan.weightsByDtype.bf16 ?? 0;
    expect(matrices).toBeGreaterThan(0);
    expect(configOnly.weightsByDtype.bf16).toBeUndefined();
    expect(configOnly.frozenWeights - plan.frozenWeights).toBe(matrices); // the same matrices at half the bytes
    expect(Math.abs(plan.peak - real)).toBeLessThan(real * 1e-3);
    expect(Math.abs(configOnly.peak - real)).toBeGreaterThan(matrices * 0.9);
  });

  it('the loader counts 16-bit matrices at 2 bytes against the buffer limit', async () => {
    const folder = await folderPromise;
    // embed_tokens (512, 64): 65,536 bytes as bf16, 131,072 as f32, so a 100,000-byte buffer limit takes only the first.
    const gpu = createMetaGpu({ maxBufferSize: 100_000 });
    try {
      const { model } = await loadModelAndTokenizerFromFolder(gpu, folder, { dtype: 'auto' });
      expect(model.namedParameters().find(([name]) => name === 'model.embed_tokens.weight')?.[1].dtype).toBe(
        'bf16',
      );
      model.dispose();
      const err = await loadModelAndTokenizerFromFolder(gpu, folder, { dtype: 'float32' }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WeightsError);
      expect((err as Error).message).toMatch(
        /tensor 'model\.embed_tokens\.weight' \[512, 64\] as f32, expected at most 100000 bytes .* got 131072 bytes/,
      );
    } finally {
      gpu.dispose();
    }
  });
});
