// The fused causal attention op inside autograd against the composed one (matmul, causal softmax, dropout op): the same
// outputs and q/k/v gradients, dropout masks included, and the same advance of the random stream.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { relL2 } from '../helpers/finite-diff.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import * as F from '../../src/autograd/functional.ts';
import { manualSeed, randomOffset } from '../../src/autograd/tape.ts';
import { causalAttention, causalAttentionComposed } from '../../src/nn/attention.ts';
import { Dropout } from '../../src/nn/layers.ts';
import { Rng, freshSeed } from '../../src/util/random.ts';

const gpuPromise = testGpu();

const CASES = [
  { B: 2, NQ: 4, NKV: 2, T: 33, HS: 8, p: 0.1 }, // stories260K's heads (GQA 2:1)
  { B: 1, NQ: 3, NKV: 3, T: 7, HS: 24, p: 0 }, // GPT-2 style, no dropout
  { B: 1, NQ: 4, NKV: 1, T: 20, HS: 80, p: 0.3 },
];

describe('fused causal attention vs the composed ops (GPU autograd)', () => {
  for (const c of CASES) {
    it(`B=${c.B} NQ=${c.NQ} NKV=${c.NKV} T=${c.T} HS=${c.HS} p=${c.p}`, async () => {
      const gpu = await gpuPromise;
      const seed = freshSeed();
      const rng = new Rng(seed);
      const data = { q: rng.uniform(c.B * c.NQ * c.T * c.HS, -2, 2), k: rng.uniform(c.B * c.NKV * c.T * c.HS, -2, 2), v: rng.uniform(c.B * c.NKV * c.T * c.HS) };
      const r = rng.uniform(c.B * c.T * c.NQ * c.HS); // dL/dy
      using _s = gpu.scope('attention');
      const run = async (fn: typeof causalAttention, dropout = new Dropout(gpu, c.p)) => {
        manualSeed(gpu, seed, 0xfffffff0); // near 2^32: the counter wraps inside the call
        const q = Tensor.from(gpu, data.q, [c.B, c.NQ, c.T, c.HS], { label: 'q', requiresGrad: true });
        const k = Tensor.from(gpu, data.k, [c.B, c.NKV, c.T, c.HS], { label: 'k', requiresGrad: true });
        const v = Tensor.from(gpu, data.v, [c.B, c.NKV, c.T, c.HS], { label: 'v', requiresGrad: true });
        const y = fn(q, k, v, { scale: 1 / Math.sqrt(c.HS), dropout }); // (B, T, NQ·HS)
        const advance = randomOffset(gpu);
        F.sum(F.mul(y, Tensor.from(gpu, r, y.shape, { label: 'r' }))).backward();
        return { y: await y.readF32(), dq: await q.grad!.readF32(), dk: await k.grad!.readF32(), dv: await v.grad!.readF32(), advance };
      };
      const fused = await run(causalAttention);
      const composed = await run(causalAttentionComposed);
      expect(fused.advance).toBe(composed.advance);
      for (const name of ['y', 'dq', 'dk', 'dv'] as const) {
        expect(relL2(fused[name], composed[name]), `seed ${seed}: ${name}`).toBeLessThan(1e-5);
      }
      // Dropout acted (so the agreement above is of the masks, not of two no-ops).
      if (c.p > 0) expect(relL2(fused.y, (await run(causalAttention, new Dropout(gpu, 0))).y)).toBeGreaterThan(0.01);
    });
  }

  it('does not keep (B, NQ, T, T) probabilities: the pool peak over a forward+backward stays below the composed one', async () => {
    const gpu = await gpuPromise;
    const [B, NQ, T, HS] = [1, 2, 256, 8];
    const rng = new Rng(1);
    const peak = (fn: typeof causalAttention) => {
      using _s = gpu.scope('peak');
      const t = (label: string) => Tensor.from(gpu, rng.uniform(B * NQ * T * HS), [B, NQ, T, HS], { label, requiresGrad: true });
      const before = gpu.stats().liveBytes;
      let high = 0;
      const y = fn(t('q'), t('k'), t('v'), { scale: 0.3, dropout: new Dropout(gpu, 0) });
      high = Math.max(high, gpu.stats().liveBytes - before);
      F.sum(y).backward();
      return Math.max(high, gpu.stats().liveBytes - before);
    };
    const fused = peak(causalAttention);
    const composed = peak(causalAttentionComposed);
    expect(fused).toBeLessThan(B * NQ * T * T * 4);
    expect(composed).toBeGreaterThan(2 * B * NQ * T * T * 4);
  });
});
