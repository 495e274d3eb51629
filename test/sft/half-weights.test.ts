// 16-bit weights end to end: BF16 and F16 copies of the bundled models (made here by rounding every tensor), loaded
// with --dtype auto, hold their frozen matrices 16-bit on the GPU (half the bytes, by the buffer pool) and give the
// same logits and the same LoRA / freeze training losses as the float32 model holding the same rounded values; the
// memory planner sees the 16-bit weights; a freeze checkpoint writes the frozen tensors back in the file's dtype.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { readSafetensorsPath } from '../../src/io/safetensors-node.ts';
import { serializeSafetensors, type TensorToWrite } from '../../src/io/safetensors.ts';
import { loadModelAndTokenizerFromFolder } from '../../src/models/load-node.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { fineTune } from '../../src/sft/fine-tune.ts';
import { planMemory, type PlanSettings } from '../../src/sft/memory-plan.ts';
import { storeWeights, weightBytesByDtype, type WeightDtype } from '../../src/nn/weight-dtype.ts';
import { createDevice } from '../../src/gpu/device.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { applyStrategy } from '../../src/sft/finetune-modes.ts';
import { attachLora } from '../../src/sft/lora.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import { roundToHalf, type HalfDtype } from '../../src/util/half.ts';
import type { TrainEvent } from '../../src/sft/trainer.ts';

const gpuPromise = testGpu();
const ROWS = [
  { text: 'Once upon a time there was a little cat.' },
  { text: 'The dog ran to the park and played.' },
  { text: 'Lily had a red ball. She liked to play.' },
  { text: 'Tim saw a big tree in the garden.' },
];
const FILE_DTYPE = { f16: 'F16', bf16: 'BF16' } as const;
const TORCH_DTYPE = { f16: 'float16', bf16: 'bfloat16' } as const;

/** `folder` with every tensor (or every matrix) rounded to `dtype`: stored 16-bit (`as16`) or widened back to F32. */
async function roundedCopy(folder: string, dtype: HalfDtype, as16: boolean, matricesOnly = false): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), `half-${dtype}-`));
  for (const f of readdirSync(folder)) if (f !== 'model.safetensors' && f !== 'config.json') copyFileSync(join(folder, f), join(out, f));
  const store = await readSafetensorsPath(join(folder, 'model.safetensors'));
  const tensors: TensorToWrite[] = [];
  for (const [name, info] of store.tensors) {
    const data = matricesOnly && info.shape.length !== 2 ? await store.getF32(name) : roundToHalf(await store.getF32(name), dtype);
    tensors.push({ name, dtype: as16 ? FILE_DTYPE[dtype] : 'F32', shape: info.shape, data });
  }
  writeFileSync(join(out, 'model.safetensors'), serializeSafetensors(tensors));
  const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(out, 'config.json'), JSON.stringify({ ...config, torch_dtype: as16 ? TORCH_DTYPE[dtype] : 'float32' }));
  return out;
}

async function load(folder: string, dtype: WeightDtype) {
  const gpu = await gpuPromise;
  const before = gpu.stats().liveBytes;
  const loaded = await loadModelAndTokenizerFromFolder(gpu, folder, { dtype });
  return { ...loaded, bytes: gpu.stats().liveBytes - before };
}

/** The pool's high-water mark over loading (auto), the job's storage, the optimizer and one LoRA step. */
async function measuredPeak(folder: string, s: PlanSettings): Promise<number> {
  const gpu = await createDevice({ log: null });
  try {
    const { model } = await loadModelAndTokenizerFromFolder(gpu, folder, { dtype: 'auto' });
    attachLora(model, s.lora!, 0);
    applyStrategy(model, 'lora');
    await storeWeights(model, 'auto');
    const optimizer = new AdamW(gpu, model.namedParameters(), { lr: 1e-3, clipGradNorm: 1 });
    const T = Math.min(s.maxLength, model.contextLength);
    const ids = Int32Array.from({ length: s.batchSize * T }, (_, i) => (i * 31 + 7) % model.vocabSize);
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

function relL2(a: Float32Array, b: Float32Array): number {
  let [num, den] = [0, 0];
  for (let i = 0; i < a.length; i++) [num, den] = [num + (a[i] - b[i]) ** 2, den + b[i] ** 2];
  return Math.sqrt(num / den);
}

for (const [asset, dtype] of [['stories260K-hf', 'bf16'], ['stories260K-hf', 'f16'], ['gpt2-shakespeare', 'bf16']] as const) {
  describe(`${asset} as ${dtype}`, () => {
    const folders = (async () => ({
      half: await roundedCopy(`assets/${asset}`, dtype, true),
      wide: await roundedCopy(`assets/${asset}`, dtype, false),
      matrices: await roundedCopy(`assets/${asset}`, dtype, false, true),
    }))();

    it('holds the matrices 16-bit in half the bytes and gives the float32 logits', async () => {
      const { half, wide } = await folders;
      const a = await load(wide, 'float32');
      const b = await load(half, 'auto');
      const byDtype = weightBytesByDtype(b.model);
      const f32Matrices = weightBytesByDtype(a.model).f32! - (byDtype.f32 ?? 0);
      expect(byDtype[dtype]).toBe(f32Matrices / 2); // every matrix, at 2 bytes (even element counts here)
      expect(a.bytes - b.bytes).toBe(f32Matrices / 2); // the pool agrees
      const ids = Int32Array.from({ length: 2 * 24 }, (_, i) => (i * 37 + 5) % a.model.vocabSize);
      const gpu = await gpuPromise;
      const logits = async (m: typeof a.model) =>
        (await noGrad(gpu, () => m.eval().forward(Tensor.from(gpu, ids, [2, 24]))).readF32());
      const [la, lb] = [await logits(a.model), await logits(b.model)];
      const err = relL2(lb, la);
      console.log(`${asset} ${dtype}: matrices ${f32Matrices} B as f32, ${byDtype[dtype]} B as ${dtype}; logits relL2 ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-6);
      a.model.dispose();
      b.model.dispose();
    });

    if (asset !== 'stories260K-hf') return;
    // f16 takes the same code paths as bf16 past the kernels: LoRA only, to keep the file short.
    for (const strategy of dtype === 'bf16' ? (['lora', 'freeze'] as const) : (['lora'] as const)) {
      it(`strategy ${strategy}: the losses equal the float32 run on the rounded weights`, async () => {
        const { half, wide, matrices } = await folders;
        const losses = async (folder: string, loadAs: WeightDtype, setting: WeightDtype = 'auto') => {
          const { model, tokenizer } = await load(folder, loadAs);
          const events: TrainEvent[] = [];
          const result = await fineTune({
            model, tokenizer, train: ROWS, batchSize: 2, epochs: 1, lr: 1e-2, lrSchedule: 'constant', shuffle: false,
            strategy, freezeLayers: 2, lora: { r: 2, dropout: 0 }, dtype: setting, onEvent: (e) => events.push(e),
          }); // prettier-ignore
          const frozen = model.namedParameters().filter(([, p]) => !p.requiresGrad && p.shape.length === 2);
          const dtypes = new Set(frozen.map(([, p]) => p.dtype));
          const trained = new Set(model.parameters().filter((p) => p.requiresGrad).map((p) => p.dtype));
          const saved = strategy === 'freeze' ? await model.exportTensors() : [];
          model.dispose();
          return { loss: events.flatMap((e) => (e.type === 'step' ? [e.loss] : [])), dtypes, trained, saved, steps: result.steps };
        };
        const a = await losses(wide, 'float32');
        const b = await losses(half, 'auto');
        expect(b.dtypes).toEqual(new Set([dtype]));
        expect(b.trained).toEqual(new Set(['f32']));
        expect(b.loss.length).toBe(2);
        const worst = Math.max(...b.loss.map((l, i) => Math.abs(l - a.loss[i]) / Math.abs(a.loss[i])));
        console.log(`${asset} ${dtype} ${strategy}: losses ${b.loss.join(', ')} vs f32 ${a.loss.join(', ')}; worst rel ${worst.toExponential(2)}`);
        expect(worst).toBeLessThanOrEqual(1e-6);
        if (strategy === 'lora') {
          // --dtype bfloat16 / float16 from the float32 file: the frozen matrices rounded at the job (norms stay
          // float32), the same run as float32 with those matrices rounded.
          const c = await losses(`assets/${asset}`, 'auto', TORCH_DTYPE[dtype]);
          expect(c.dtypes).toEqual(new Set([dtype]));
          expect(c.loss).toEqual((await losses(matrices, 'float32')).loss);
        }
        if (strategy === 'freeze') {
          // Frozen tensors written back as loaded; trained ones as F32 master copies.
          const store = await readSafetensorsPath(join(half, 'model.safetensors'));
          for (const t of b.saved) {
            if (t.dtype === FILE_DTYPE[dtype]) expect(t.data).toEqual(await store.getF32(t.name));
          }
          expect(b.saved.filter((t) => t.dtype === FILE_DTYPE[dtype]).length).toBeGreaterThan(0);
        }
      });
    }

    if (dtype !== 'bf16') return;
    it('the memory planner sees the 16-bit weights (LoRA), to the real step\'s high-water mark', async () => {
      const { half } = await folders;
      const config = JSON.parse(readFileSync(join(half, 'config.json'), 'utf8')) as Record<string, unknown>;
      const settings = { strategy: 'lora' as const, freezeLayers: 0, batchSize: 2, maxLength: 32, gradientCheckpointing: false, dropout: null, lora: { r: 2, alpha: 16, dropout: 0, targets: ['q_proj', 'v_proj'], rslora: false, layers: null } };
      const plan = await planMemory(config, join(half, 'config.json'), settings);
      const f32 = await planMemory(config, join(half, 'config.json'), { ...settings, dtype: 'float32' });
      console.log(`${asset} ${dtype} LoRA plan: frozen ${plan.frozenWeights} B (${JSON.stringify(plan.weightsByDtype)}) vs ${f32.frozenWeights} B at float32`);
      expect(plan.weightsByDtype[dtype]).toBeGreaterThan(0);
      expect(f32.weightsByDtype[dtype]).toBeUndefined();
      const matrices = plan.weightsByDtype[dtype]!;
      expect(f32.frozenWeights - plan.frozenWeights).toBe(matrices);
      const real = await measuredPeak(half, settings);
      console.log(`${asset} ${dtype} LoRA: plan peak ${plan.peak} B, measured ${real} B (f32 plan ${f32.peak} B)`);
      expect(Math.abs(plan.peak - real)).toBeLessThan(real * 1e-3);
    });
  });
}
