// Tensors past the binding limit, LoRA on a bf16 base: gpt2-shakespeare's wte stays 16-bit (50257 × 64 bf16 =
// 6.4 MB, 7 windows of 1 MiB) and is read in windows by the embedding lookup (at odd word offsets), the fused LM head
// (training, eval) and the logits matmul (generation). Against the same run with the device's own binding limit:
// loss, LoRA gradients, updates, eval sums and generated tokens bit-identical.
import { afterAll, expect, it } from 'vitest';
import { createDevice } from '../../src/gpu/device.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { loadModel } from '../../src/models/load-node.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { generate } from '../../src/models/generate.ts';
import { attachLora, LORA_DEFAULTS } from '../../src/sft/lora.ts';
import { applyStrategy } from '../../src/sft/finetune-modes.ts';
import { storeWeights } from '../../src/nn/weight-dtype.ts';
import { Rng } from '../../src/util/random.ts';

const devices: Gpu[] = [];
afterAll(() => devices.forEach((g) => g.dispose()));

async function run(maxBindingBytes?: number) {
  const gpu = await createDevice({ log: null, maxBindingBytes });
  devices.push(gpu);
  const model = await loadModel(gpu, 'assets/gpt2-shakespeare');
  attachLora(model, { ...LORA_DEFAULTS, dropout: 0 }, 0);
  applyStrategy(model, 'lora');
  await storeWeights(model, 'bfloat16');
  model.setDropout(0);
  const V = model.vocabSize;
  const rng = new Rng(11);
  const B = 2, T = 24;
  const ids = Int32Array.from({ length: B * T }, () => Math.floor(rng.next() * V));
  const targets = Int32Array.from(ids, (_, i) => (i % T < 8 ? -100 : ids[(i + 1) % ids.length]));
  const batch = { ids, targets, B, T, tokens: targets.filter((t) => t !== -100).length };
  const named = model.namedParameters().filter(([, p]) => p.requiresGrad);
  const optimizer = new AdamW(gpu, model.namedParameters(), { lr: 1e-2, clipGradNorm: 0 });
  const out: Record<string, ArrayLike<number>> = {};
  {
    using _s = gpu.scope('step');
    const { loss } = new LmTask(model, { fusedHead: true }).loss(batch);
    loss.backward();
    out.loss = await loss.readF32();
    for (const [name, p] of named) out[`grad ${name}`] = await p.grad!.readF32();
    optimizer.step();
    for (const [name, p] of named) out[name] = await p.readF32();
  }
  model.eval();
  const sums = { loss: 0, correct: 0, count: 0 };
  {
    using _s = gpu.scope('eval');
    await new LmTask(model).evaluate(batch, sums);
  }
  out.eval = [sums.loss, sums.correct, sums.count];
  out.generated = await generate(model, [464, 3290, 318], { maxNewTokens: 5 });
  const wte = model.headWeight();
  const result = { out, dtype: wte.dtype, wteBytes: gpu.pool.meta(wte.buf())!.bytes, trained: named.length };
  optimizer.dispose();
  model.dispose();
  return result;
}

it('LoRA on a bf16 base with 1 MiB bindings (bf16 wte in 7 windows): step, eval and generation bit-identical', async () => {
  const whole = await run();
  const split = await run(2 ** 20);
  expect(split.dtype).toBe('bf16');
  expect(Math.ceil(split.wteBytes / (2 ** 20 - 256))).toBe(7);
  expect(split.trained).toBe(8); // lora_A and lora_B of c_attn in 4 blocks
  for (const [key, want] of Object.entries(whole.out)) {
    const got = split.out[key];
    expect(got.length, key).toBe(want.length);
    let differ = 0;
    for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) differ++;
    expect(differ, `${key}: ${differ} of ${want.length} elements differ`).toBe(0);
  }
}, 60_000);
