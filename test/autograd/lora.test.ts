// A Linear with a LoRA adapter in autograd: GPU gradients of x, A and B (W frozen) for y = x·W + b + s·(x·Aᵀ)·Bᵀ, in
// both weight layouts (torch's (out, in) and GPT-2's Conv1D (in, out)), against float64 central differences.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { dot, numericalGrad, relL2 } from '../helpers/finite-diff.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import * as F from '../../src/autograd/functional.ts';
import { Rng, freshSeed } from '../../src/util/random.ts';
import { Linear } from '../../src/nn/layers.ts';

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
