// Tensors past the binding limit: gpt2-shakespeare (wte 50257 × 64 f32 = 12.9 MB) on a device whose bindings are
// forced to 1 MiB, so wte, its gradient and AdamW's m and v each span 13 windows, against the same model on the
// device's own limit. A training step (fused head, then the unfused logits matmul + cross-entropy), evaluation and
// generation must give bit-identical losses, gradients, gradient norms (clipped at 0.5), updates, logits and tokens.
import { afterAll, expect, it } from 'vitest';
import { createDevice } from '../../src/gpu/device.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { loadModel } from '../../src/models/load-node.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import { AdamW } from '../../src/optim/adamw.ts';
import { generate } from '../../src/models/generate.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { scaleForward } from '../../src/kernels/elementwise.ts';
import { Rng } from '../../src/util/random.ts';
import type { LmBatch } from '../../src/sft/batching.ts';

const MODEL = 'assets/gpt2-shakespeare';
const LIMIT = 2 ** 20;
const devices: Gpu[] = [];
afterAll(() => devices.forEach((g) => g.dispose()));

// Ids spread over the whole vocabulary, so every window of wte is read and gets gradient.
function batch(rng: Rng, B: number, T: number, V: number, targetsPerRow: number): LmBatch {
  const ids = Int32Array.from({ length: B * T }, () => Math.floor(rng.next() * V));
  const targets = new Int32Array(B * T).fill(-100);
  for (let b = 0; b < B; b++) for (let t = T - targetsPerRow; t < T; t++) targets[b * T + t] = ids[b * T + ((t + 1) % T)];
  return { ids, targets, B, T, tokens: B * targetsPerRow };
}

async function run(maxBindingBytes?: number) {
  const gpu = await createDevice({ log: null, maxBindingBytes });
  devices.push(gpu);
  const model = await loadModel(gpu, MODEL);
  model.setDropout(0);
  const V = model.vocabSize;
  const wte = model.headWeight();
  const rng = new Rng(7);
  const optimizer = new AdamW(gpu, model.namedParameters(), { lr: 1e-3, clipGradNorm: 0.5, weightDecay: 0.01 });
  const out: Record<string, Float32Array | number[] | number> = {};
  // Step 1 through the fused head, step 2 through logits (4 rows: 0.8 MB) + cross-entropy. The head's rows go in
  // chunks of 5 in both runs (the most whose logits fit 1 MiB): the chunks set the order dW sums its rows in.
  for (const [step, b, fused] of [[1, batch(rng, 2, 24, V, 16), true], [2, batch(rng, 1, 12, V, 4), false]] as const) {
    using _s = gpu.scope(`step ${step}`);
    optimizer.zeroGrad();
    const { loss } = new LmTask(model, { fusedHead: fused, headChunk: 5 }).loss(b);
    loss.backward();
    out[`loss${step}`] = Array.from(await loss.readF32());
    out[`grad${step}`] = await wte.grad!.readF32();
    optimizer.step();
    out[`norm${step}`] = await optimizer.lastGradNorm();
    out[`wte${step}`] = await wte.readF32();
  }
  const state = await optimizer.exportState();
  out.m = state.m['transformer.wte.weight'];
  out.v = state.v['transformer.wte.weight'];
  model.eval();
  const sums = { loss: 0, correct: 0, count: 0 };
  {
    using _s = gpu.scope('eval');
    await new LmTask(model).evaluate(batch(rng, 2, 20, V, 20), sums);
  }
  out.eval = [sums.loss, sums.correct, sums.count];
  {
    using _s = gpu.scope('logits');
    const ids = Tensor.from(gpu, batch(rng, 1, 9, V, 0).ids, [1, 9], { label: 'ids' });
    out.logits = await noGrad(gpu, () => model.forward(ids)).readF32(); // (1, 9, V): 1.8 MB
  }
  out.generated = await generate(model, [464, 3290, 318], { maxNewTokens: 4 });
  out.sampled = await generate(model, [50256], { maxNewTokens: 4, temperature: 0.8, topK: 40, seed: 3 });
  // The limit is real: a kernel that binds wte whole is refused on the small device.
  let refusal = '';
  try {
    scaleForward(gpu, gpu.alloc('scratch', wte.size * 4), wte.buf(), { n: wte.size, alpha: 1 });
  } catch (e) {
    refusal = (e as Error).message;
  }
  optimizer.dispose();
  model.dispose();
  return { out, refusal, bindingBytes: gpu.maxBindingBytes, wteBytes: wte.size * 4 };
}

it('gpt2-shakespeare with 1 MiB bindings (wte in 13 windows): steps, eval, logits and generation bit-identical to whole bindings', async () => {
  const whole = await run();
  const split = await run(LIMIT);
  expect(whole.refusal).toBe('');
  expect(split.bindingBytes).toBe(LIMIT);
  expect(Math.ceil(split.wteBytes / (LIMIT - 256))).toBe(13);
  expect(split.refusal).toMatch(/^scale-forward: binding 'out' \(scratch\), expected at most 1048576 bytes \(binding limit\), got 12865792/);
  for (const [key, want] of Object.entries(whole.out)) {
    const got = split.out[key];
    if (typeof want === 'number') {
      expect(got, key).toBe(want);
      continue;
    }
    const g = got as ArrayLike<number>;
    expect(g.length, key).toBe(want.length);
    let differ = 0;
    for (let i = 0; i < want.length; i++) if (!Object.is(g[i], want[i])) differ++;
    expect(differ, `${key}: ${differ} of ${want.length} elements differ`).toBe(0);
  }
}, 60_000);
