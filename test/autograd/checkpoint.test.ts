// Activation checkpointing (autograd/checkpoint.ts): the gradients of a full training step equal the plain path's
// bit for bit (the re-run block replays the same kernels and dropout draws), for GPT-2 with dropout on and for a
// Llama with LoRA adapters (a frozen input to every block); and a step holds fewer bytes, measured on fresh devices.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { createDevice } from '../../src/gpu/device.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { manualSeed } from '../../src/autograd/tape.ts';
import { loadModel } from '../../src/models/load-node.ts';
import type { LanguageModel } from '../../src/models/language-model.ts';
import { attachLora, LORA_DEFAULTS } from '../../src/sft/lora.ts';
import { LmTask } from '../../src/sft/tasks.ts';
import { Rng } from '../../src/util/random.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { checkpoint } from '../../src/autograd/checkpoint.ts';
import * as F from '../../src/autograd/functional.ts';

const gpuPromise = testGpu();

function batch(vocab: number, B: number, T: number, seed: number) {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: B * T }, () => Math.floor(rng.next() * vocab));
  const targets = Int32Array.from({ length: B * T }, (_, i) => ((i + 1) % T === 0 ? -100 : ids[i + 1]));
  return { ids, targets, B, T, tokens: B * (T - 1) };
}

/** One loss + backward; the trainable parameters' gradients by name. */
async function gradients(model: LanguageModel, b: ReturnType<typeof batch>, checkpointing: boolean) {
  const gpu = model.gpu;
  model.gradientCheckpointing = checkpointing;
  for (const [, p] of model.namedParameters()) p.gradIsZero = true;
  manualSeed(gpu, 1234);
  {
    using _s = gpu.scope('step');
    new LmTask(model).loss(b).loss.backward();
  }
  const out = new Map<string, Float32Array>();
  for (const [name, p] of model.namedParameters()) if (p.requiresGrad) out.set(name, await p.grad!.readF32());
  return out;
}

async function compareGrads(model: LanguageModel, b: ReturnType<typeof batch>) {
  const plain = await gradients(model, b, false);
  const checkpointed = await gradients(model, b, true);
  expect([...checkpointed.keys()]).toEqual([...plain.keys()]);
  let differing = 0;
  for (const [name, g] of plain) {
    const h = checkpointed.get(name)!;
    expect(g.some((x) => x !== 0), `${name} has a gradient`).toBe(true);
    if (!Buffer.from(g.buffer).equals(Buffer.from(h.buffer))) differing++;
  }
  expect(differing, 'tensors whose gradient differs in any bit').toBe(0);
  return plain.size;
}

describe('activation checkpointing', () => {
  it('GPT-2 with dropout 0.1: every gradient equals the plain path’s bit for bit', async () => {
    const gpu = await gpuPromise;
    const model = await loadModel(gpu, 'assets/gpt2-shakespeare');
    try {
      model.setDropout(0.1);
      model.train();
      expect(await compareGrads(model, batch(model.vocabSize, 2, 33, 1))).toBe(52);
    } finally {
      model.dispose();
    }
  });

  it('Llama with LoRA adapters (frozen embeddings): adapter gradients equal the plain path’s bit for bit', async () => {
    const gpu = await gpuPromise;
    const model = await loadModel(gpu, 'assets/stories260K-hf');
    try {
      attachLora(model, { ...LORA_DEFAULTS, r: 4, dropout: 0.1, targets: ['all-linear'] }, 5);
      // B starts at zero, which would leave A without a gradient: random B, so both factors have one.
      const rng = new Rng(9);
      for (const [name, p] of model.namedParameters())
        if (name.includes('lora_B')) model.load(name, rng.uniform(p.size, -0.1, 0.1));
      model.train();
      expect(await compareGrads(model, batch(model.vocabSize, 3, 21, 2))).toBe(2 * 5 * 7);
    } finally {
      model.dispose();
    }
  });

  it('a step allocates fewer bytes (fresh devices: the pool’s high-water mark)', async () => {
    const measure = async (checkpointing: boolean) => {
      const gpu: Gpu = await createDevice({ log: null });
      try {
        const model = await loadModel(gpu, 'assets/stories260K-hf');
        const weights = gpu.stats().liveBytes;
        await gradients(model, batch(model.vocabSize, 4, 256, 3), checkpointing);
        const s = gpu.stats();
        model.dispose();
        return s.liveBytes + s.pooledBytes - weights;
      } finally {
        gpu.dispose();
      }
    };
    const plain = await measure(false);
    const checkpointed = await measure(true);
    console.log(
      `stories260K B 4 T 256: step bytes beyond the weights ${(plain / 2 ** 20).toFixed(1)} MiB plain, ${(checkpointed / 2 ** 20).toFixed(1)} MiB checkpointed`,
    );
    expect(checkpointed).toBeLessThan(plain * 0.8);
  });

  it('a block that hands its input back keeps the gradient flowing to what made the input', async () => {
    const gpu = await gpuPromise;
    const w = Tensor.from(gpu, new Float32Array([1, 2, 3, 4]), [2, 2], { label: 'w', requiresGrad: true });
    using _s = gpu.scope('identity block');
    const x = Tensor.from(gpu, new Float32Array([1, -1, 2, 0.5]), [2, 2], { label: 'x' });
    const y = checkpoint((t) => t, F.matmul(x, w), [w]);
    F.sum(y).backward();
    // d Σ(x·w) / dw[i, j] = Σ_r x[r, i]
    expect(Array.from(await w.grad!.readF32())).toEqual([3, 3, -0.5, -0.5]);
    w.dispose();
  });
});

