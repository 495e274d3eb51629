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

describe('attention after cached positions (generation) equals the last rows of attention over the whole sequence', () => {
  // Total positions L = past + n; the cache holds TK > L rows per head, the tail NaN (never read).
  const CACHED = [
    { NQ: 4, NKV: 2, HS: 8, past: 9, n: 1, TK: 13, fns: [causalAttention, causalAttentionComposed] },
    { NQ: 3, NKV: 1, HS: 24, past: 0, n: 6, TK: 8, fns: [causalAttention, causalAttentionComposed] },
    { NQ: 2, NKV: 2, HS: 64, past: 5, n: 3, TK: 11, fns: [causalAttention] },
  ];
  for (const c of CACHED) {
    it(`NQ=${c.NQ} NKV=${c.NKV} HS=${c.HS} past=${c.past} n=${c.n} TK=${c.TK}`, async () => {
      const gpu = await gpuPromise;
      const seed = freshSeed();
      const rng = new Rng(seed);
      const L = c.past + c.n;
      const [q, k, v] = [c.NQ, c.NKV, c.NKV].map((heads) => rng.uniform(heads * L * c.HS, -2, 2)); // (1, heads, L, HS)
      using _s = gpu.scope('cached attention');
      const dropout = new Dropout(gpu, 0.5).eval();
      const scale = 1 / Math.sqrt(c.HS);
      const whole = await causalAttention(
        Tensor.from(gpu, q, [1, c.NQ, L, c.HS]),
        Tensor.from(gpu, k, [1, c.NKV, L, c.HS]),
        Tensor.from(gpu, v, [1, c.NKV, L, c.HS]),
        { scale, dropout },
      ).readF32(); // (1, L, NQ·HS)
      const want = whole.slice(c.past * c.NQ * c.HS);
      // q's last n positions; k and v in a cache of TK rows per head.
      const qn = new Float32Array(c.NQ * c.n * c.HS);
      const [kc, vc] = [new Float32Array(c.NKV * c.TK * c.HS).fill(NaN), new Float32Array(c.NKV * c.TK * c.HS).fill(NaN)];
      for (let h = 0; h < c.NQ; h++) qn.set(q.subarray((h * L + c.past) * c.HS, (h + 1) * L * c.HS), h * c.n * c.HS);
      for (let h = 0; h < c.NKV; h++) {
        kc.set(k.subarray(h * L * c.HS, (h + 1) * L * c.HS), h * c.TK * c.HS);
        vc.set(v.subarray(h * L * c.HS, (h + 1) * L * c.HS), h * c.TK * c.HS);
      }
      for (const fn of c.fns) {
        const got = await fn(
          Tensor.from(gpu, qn, [1, c.NQ, c.n, c.HS]),
          Tensor.from(gpu, kc, [1, c.NKV, c.TK, c.HS]),
          Tensor.from(gpu, vc, [1, c.NKV, c.TK, c.HS]),
          { scale, dropout, past: c.past },
        ).readF32(); // (1, n, NQ·HS)
        expect(relL2(got, want), `seed ${seed}: ${fn.name}`).toBeLessThan(1e-5);
      }
    });
  }

  it('the composed path refuses several queries after cached positions, naming both', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('refusal');
    const t = (T: number) => Tensor.from(gpu, new Float32Array(T * 8), [1, 1, T, 8]);
    expect(() => causalAttentionComposed(t(2), t(6), t(6), { scale: 1, dropout: new Dropout(gpu, 0), past: 3 })).toThrow(
      'causalAttentionComposed: queries after 3 cached positions, expected 1, got 2',
    );
  });
});
