// The Llama ops inside autograd: GPU gradients of x → RMSNorm → matmul → RoPE on a (B, NH, T, HS) view → SwiGLU of
// the two halves, against float64 central differences of the same chain built from the CPU references.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../helpers/gpu.ts';
import { dot, numericalGrad, relL2 } from '../helpers/finite-diff.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import * as F from '../../src/autograd/functional.ts';
import { Rng, freshSeed } from '../../src/util/random.ts';
import { matmulForwardRef } from '../../src/reference/matmul.ts';
import { rmsnormForwardRef } from '../../src/reference/rmsnorm.ts';
import { ropeForwardRef } from '../../src/reference/rope.ts';
import { swigluForwardRef } from '../../src/reference/swiglu.ts';

// At file level, so the device outlives every describe block.
const gpuPromise = testGpu();

const BOUND = 1e-4;
// stories260K: rms_norm_eps 1e-5, rope_theta 10000, head_dim 8. Offset 2 as if 2 tokens were already cached.
const [B, T, C, NH, HS] = [2, 3, 8, 4, 8];
const [EPS, THETA, OFFSET] = [1e-5, 10_000, 2];
const D = (NH / 2) * HS; // width of gate and of up

/** (d0, d1, d2, d3) → (d0, d2, d1, d3) in float64. */
function swap12(x: Float64Array, d0: number, d1: number, d2: number, d3: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let a = 0; a < d0; a++)
    for (let i = 0; i < d1; i++)
      for (let j = 0; j < d2; j++)
        for (let k = 0; k < d3; k++)
          out[((a * d2 + j) * d1 + i) * d3 + k] = x[((a * d1 + i) * d2 + j) * d3 + k];
  return out;
}

/** The chain in float64: Σ swiglu(gate, up) ⊙ r, with [gate | up] = rope(rmsnorm(x)·W) over (B, T, 2D). */
function lossRef(x: Float64Array, norm: Float64Array, w: Float64Array, r: Float64Array): number {
  const N = B * T;
  const h = new Float64Array(N * C); // (B, T, C)
  rmsnormForwardRef(h, new Float64Array(N), x, norm, { N, C, eps: Math.fround(EPS) });
  const q = new Float64Array(N * 2 * D); // (B, T, NH·HS)
  matmulForwardRef(q, h, w, null, { batch: 1, M: N, N: 2 * D, K: C });
  const rotated = new Float64Array(q.length); // (B, NH, T, HS)
  ropeForwardRef(rotated, swap12(q, B, T, NH, HS), { B, NH, T, HS, theta: THETA, positionOffset: OFFSET });
  const back = swap12(rotated, B, NH, T, HS); // (B, T, 2D)
  const [gate, up] = [new Float64Array(N * D), new Float64Array(N * D)]; // (B, T, D)
  for (let n = 0; n < N; n++) {
    for (let d = 0; d < D; d++) {
      gate[n * D + d] = back[n * 2 * D + d];
      up[n * D + d] = back[n * 2 * D + D + d];
    }
  }
  const out = new Float64Array(N * D);
  swigluForwardRef(out, gate, up, { n: N * D });
  return dot(out, r);
}

describe('Llama ops in autograd vs float64 finite differences', () => {
  it('x → rmsnorm → matmul → rope over heads (offset 2) → swiglu of two slices, loss Σ out⊙R', async () => {
    const gpu = await gpuPromise;
    const seed = freshSeed();
    const rng = new Rng(seed);
    const init = {
      x: rng.uniform(B * T * C, -2, 2),
      norm: rng.uniform(C, 0.5, 1.5),
      w: rng.uniform(C * 2 * D, -0.7, 0.7),
      r: rng.uniform(B * T * D),
    };
    using _s = gpu.scope('llama ops');
    const t = (name: keyof typeof init, shape: number[], requiresGrad = true) =>
      Tensor.from(gpu, init[name], shape, { label: name, requiresGrad, persistent: requiresGrad });
    const [x, norm, w] = [t('x', [B, T, C]), t('norm', [C]), t('w', [C, 2 * D])];
    const r = t('r', [B, T, D], false);

    const q = F.matmul(F.rmsnorm(x, norm, EPS), w); // (B, T, 2D)
    const heads = F.transpose12(F.reshape(q, [B, T, NH, HS])); // (B, NH, T, HS)
    const back = F.reshape(F.transpose12(F.rope(heads, THETA, OFFSET)), [B, T, 2 * D]);
    const out = F.swiglu(F.slice(back, 0, D), F.slice(back, D, D)); // (B, T, D)
    F.sum(F.mul(out, r)).backward();

    const f64 = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, Float64Array.from(v)])) as Record<
      keyof typeof init,
      Float64Array
    >;
    const loss = () => lossRef(f64.x, f64.norm, f64.w, f64.r);
    for (const [name, tensor] of [
      ['x', x],
      ['norm', norm],
      ['w', w],
    ] as const) {
      const want = numericalGrad(loss, f64[name]);
      const got = await tensor.grad!.readF32();
      expect(relL2(got, want), `seed ${seed}: d loss / d ${name}`).toBeLessThan(BOUND);
    }
    for (const p of [x, norm, w]) p.dispose();
  });

  it('rope and swiglu reject bad shapes at the call', async () => {
    const gpu = await gpuPromise;
    using _s = gpu.scope('llama ops errors');
    const a = Tensor.from(gpu, new Float32Array(24), [2, 3, 4]);
    expect(() => F.rope(a, THETA)).toThrow('rope: rank, expected 4-D (B, NH, T, HS), got [2, 3, 4]');
    expect(() => F.swiglu(a, Tensor.from(gpu, new Float32Array(24), [6, 4]))).toThrow(
      'swiglu: up shape, expected [2, 3, 4], got [6, 4]',
    );
    expect(() => F.rmsnorm(a, Tensor.from(gpu, new Float32Array(3), [3]), EPS)).toThrow(
      'rmsnorm: weight shape, expected [4], got [3]',
    );
  });
});
