// Autograd compositions checked end to end: GPU gradients of a 2-layer MLP and of a GPT-2 causal self-attention
// block against float64 central differences of the same network built from the CPU references.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { numericalGrad, dot, relL2 } from '../helpers/finite-diff.ts';
import { blockRef, geluRef, linearRef, type Params } from '../helpers/reference-gpt2.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import * as F from '../../src/autograd/functional.ts';
import { Block } from '../../src/models/gpt2/model.ts';
import { parseGpt2Config } from '../../src/models/gpt2/config.ts';
import { Rng, freshSeed } from '../../src/util/random.ts';

const gpuPromise = testGpu();

const BOUND = 1e-4;

describe('composed gradients, GPU autograd vs float64 finite differences', () => {
  it('2-layer MLP: x·W1+b1 → GELU → ·W2+b2, loss Σ out⊙R', async () => {
    const gpu = await gpuPromise;
    const seed = freshSeed();
    const rng = new Rng(seed);
    const [B, I, H, O] = [5, 7, 11, 3];
    const init = { x: rng.uniform(B * I), w1: rng.uniform(I * H, -0.5, 0.5), b1: rng.uniform(H), w2: rng.uniform(H * O, -0.5, 0.5), b2: rng.uniform(O), r: rng.uniform(B * O) };
    using _s = gpu.scope('mlp');
    const t = (name: keyof typeof init, shape: number[], requiresGrad = true) =>
      Tensor.from(gpu, init[name], shape, { label: name, requiresGrad, persistent: requiresGrad });
    const [x, w1, b1, w2, b2] = [t('x', [B, I]), t('w1', [I, H]), t('b1', [H]), t('w2', [H, O]), t('b2', [O])];
    const r = t('r', [B, O], false);
    const out = F.matmul(F.gelu(F.matmul(x, w1, { bias: b1 })), w2, { bias: b2 });
    F.sum(F.mul(out, r)).backward();

    const f64 = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, Float64Array.from(v)])) as Record<keyof typeof init, Float64Array>;
    const loss = () => dot(linearRef(geluRef(linearRef(f64.x, f64.w1, f64.b1, B, I, H)), f64.w2, f64.b2, B, H, O), f64.r);
    for (const [name, tensor] of [['x', x], ['w1', w1], ['b1', b1], ['w2', w2], ['b2', b2]] as const) {
      const want = numericalGrad(loss, f64[name]);
      const got = await tensor.grad!.readF32();
      expect(relL2(got, want), `seed ${seed}: d loss / d ${name}`).toBeLessThan(BOUND);
    }
    for (const p of [x, w1, b1, w2, b2]) p.dispose();
  });

  it('GPT-2 block (layernorm, fused qkv split, causal attention over heads, GELU MLP, residuals)', async () => {
    const gpu = await gpuPromise;
    const seed = freshSeed();
    const rng = new Rng(seed);
    const [B, T, C, NH, inner] = [2, 5, 8, 2, 12];
    const config = parseGpt2Config({ vocab_size: 11, n_positions: 16, n_embd: C, n_layer: 1, n_head: NH, n_inner: inner, embd_pdrop: 0, attn_pdrop: 0, resid_pdrop: 0 });
    const block = new Block(gpu, config);
    const params: Params = new Map();
    for (const [name, p] of block.namedParameters()) {
      const data = name.includes('ln_') && name.endsWith('weight') ? rng.uniform(p.size, 0.5, 1.5) : rng.uniform(p.size, -0.4, 0.4);
      block.load(name, data);
      params.set(name, Float64Array.from(data));
    }
    const xData = rng.uniform(B * T * C);
    const rData = rng.uniform(B * T * C);
    using _s = gpu.scope('block');
    const x = Tensor.from(gpu, xData, [B, T, C], { label: 'x', requiresGrad: true, persistent: true });
    const r = Tensor.from(gpu, rData, [B, T, C], { label: 'r' });
    F.sum(F.mul(block.forward(x), r)).backward();

    const x64 = Float64Array.from(xData);
    const r64 = Float64Array.from(rData);
    const loss = () => dot(blockRef(params, '', x64, B, T, C, NH, inner), r64);
    expect(relL2(await x.grad!.readF32(), numericalGrad(loss, x64)), `seed ${seed}: d loss / d x`).toBeLessThan(BOUND);
    for (const [name, p] of block.namedParameters()) {
      const want = numericalGrad(loss, params.get(name)!);
      expect(relL2(await p.grad!.readF32(), want), `seed ${seed}: d loss / d ${name}`).toBeLessThan(BOUND);
    }
    block.dispose();
    x.dispose();
  });
});
