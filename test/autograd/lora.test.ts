// A Linear with a LoRA adapter in autograd: GPU gradients of x, A and B (W frozen) for y = x·W + b + s·(x·Aᵀ)·Bᵀ, in
// both weight layouts (torch's (out, in) and GPT-2's Conv1D (in, out)), against float64 central differences. With
// adapter dropout the dropped copy of x is recomputed in backward, not held: same values and gradients as spelled out.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { dot, numericalGrad, relL2 } from '../helpers/finite-diff.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import * as F from '../../src/autograd/functional.ts';
import { Rng, freshSeed } from '../../src/util/random.ts';
import { Linear } from '../../src/nn/layers.ts';
import { manualSeed } from '../../src/autograd/tape.ts';

const gpuPromise = testGpu();
const BOUND = 1e-4;
const [N, IN, OUT, R, SCALE] = [5, 7, 6, 3, 1.75];

/** Σ y ⊙ rOut in float64, W (out, in) or (in, out). */
function lossRef(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  a: Float64Array,
  bl: Float64Array,
  r: Float64Array,
  inOut: boolean,
): number {
  const y = new Float64Array(N * OUT);
  for (let n = 0; n < N; n++) {
    const low = new Float64Array(R);
    for (let k = 0; k < R; k++) for (let i = 0; i < IN; i++) low[k] += x[n * IN + i] * a[k * IN + i];
    for (let o = 0; o < OUT; o++) {
      let s = b[o];
      for (let i = 0; i < IN; i++) s += x[n * IN + i] * (inOut ? w[i * OUT + o] : w[o * IN + i]);
      let d = 0;
      for (let k = 0; k < R; k++) d += low[k] * bl[o * R + k];
      y[n * OUT + o] = s + SCALE * d;
    }
  }
  return dot(y, r);
}

describe('LoRA Linear in autograd vs float64 finite differences', () => {
  it.each(['out-in', 'in-out'] as const)(
    'layout %s: gradients of x, A and B; none for the frozen W',
    async (layout) => {
      const gpu = await gpuPromise;
      const seed = freshSeed();
      const rng = new Rng(seed);
      const init = {
        x: rng.uniform(N * IN),
        w: rng.uniform(IN * OUT, -0.5, 0.5),
        b: rng.uniform(OUT),
        a: rng.uniform(R * IN, -0.5, 0.5),
        bl: rng.uniform(OUT * R, -0.5, 0.5),
        r: rng.uniform(N * OUT),
      };
      using _s = gpu.scope('lora grads');
      const linear = new Linear(gpu, IN, OUT, { layout, init: init.w });
      linear.load('bias', init.b);
      linear.attachLora(R, SCALE, 0, init.a);
      linear.load('lora_B.weight', init.bl);
      linear.weight.requiresGrad = false;
      linear.bias!.requiresGrad = false;
      const x = Tensor.from(gpu, init.x, [1, N, IN], { label: 'x', requiresGrad: true, persistent: true });
      const r = Tensor.from(gpu, init.r, [1, N, OUT], { label: 'r' });
      F.sum(F.mul(linear.forward(x), r)).backward();

      const f64 = Object.fromEntries(
        Object.entries(init).map(([k, v]) => [k, Float64Array.from(v)]),
      ) as Record<keyof typeof init, Float64Array>;
      const loss = () => lossRef(f64.x, f64.w, f64.b, f64.a, f64.bl, f64.r, layout === 'in-out');
      for (const [name, tensor] of [
        ['x', x],
        ['a', linear.lora!.A],
        ['bl', linear.lora!.B],
      ] as const) {
        const want = numericalGrad(loss, f64[name]);
        expect(relL2(await tensor.grad!.readF32(), want), `seed ${seed}: d loss / d ${name}`).toBeLessThan(
          BOUND,
        );
      }
      expect(linear.weight.grad, 'frozen W gets no gradient').toBeNull();
      x.dispose();
      linear.dispose();
    },
  );
});

it('LoRA dropout: the dropped x recomputed in backward gives the output and gradients of the spelled-out layer, bit for bit', async () => {
  const gpu = await gpuPromise;
  const seed = freshSeed();
  const rng = new Rng(seed);
  const [n, inF, outF, r, p] = [37, 33, 19, 4, 0.3];
  using _s = gpu.scope('lora dropout');
  const linear = new Linear(gpu, inF, outF, { init: rng.uniform(inF * outF, -0.5, 0.5) });
  linear.attachLora(r, SCALE, p, rng.uniform(r * inF, -0.5, 0.5));
  linear.load('lora_B.weight', rng.uniform(outF * r, -0.5, 0.5));
  linear.weight.requiresGrad = false;
  const x = Tensor.from(gpu, rng.uniform(n * inF), [1, n, inF], { label: 'x', requiresGrad: true });
  const w = Tensor.from(gpu, rng.uniform(n * outF), [1, n, outF], { label: 'w' });
  const run = async (forward: () => Tensor) => {
    for (const t of [x, linear.lora!.A, linear.lora!.B, linear.bias!]) t.grad = null;
    manualSeed(gpu, seed, 5);
    const y = forward();
    F.sum(F.mul(y, w)).backward();
    return Promise.all([y, x.grad!, linear.lora!.A.grad!, linear.lora!.B.grad!].map((t) => t.readF32()));
  };
  const recomputed = await run(() => linear.forward(x));
  const spelled = await run(() => {
    const { A, B } = linear.lora!;
    const base = F.matmul(x, linear.weight, { transB: true, bias: linear.bias });
    const low = F.matmul(F.dropout(x, p, true), A, { transB: true });
    return F.add(base, F.scale(F.matmul(low, B, { transB: true }), SCALE));
  });
  const names = ['y', 'dx', 'dA', 'dB'];
  recomputed.forEach((got, i) => expect(got, `seed ${seed}: ${names[i]}`).toEqual(spelled[i]));
  // Dropout did drop: the adapter's path differs from the same layer without it.
  linear.lora!.dropout = 0;
  expect((await run(() => linear.forward(x)))[2]).not.toEqual(recomputed[2]);
});
