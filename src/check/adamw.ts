// GPU-vs-reference checks for the fused AdamW update: n = 1, primes, WG ± 1, a moderately large n; the first step
// from zero state and later steps from random state; with and without a clip scale and weight decay. Each element is
// a few f32 operations with no sum, so param, m and v match the float64 PyTorch formula to a few ulps: bound relL2
// ≤ 1e-6 (measured ~5e-8). The step itself (param_new − param_old) also carries the rounding of param_new, ~1e-9 at
// GPT-2's weight scale 0.02 against steps of ~1e-3: bound relL2 ≤ 5e-6 (measured ≤ 7e-7).
import type { Gpu } from '../gpu/gpu.ts';
import { adamwUpdate, NO_BAD_SLOT } from '../kernels/adamw.ts';
import { adamwUpdateRef } from '../reference/adamw.ts';
import { checkOutput, toF32, toF64, type KernelCheck, type OutputResult } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { AdamwDims } from '../ops/dims.ts';

const STATE_BOUND = 1e-6;
const STEP_BOUND = 5e-6;

interface Case {
  n: number;
  step: number;
  weightDecay: number;
  clip: boolean;
  /**
   * Draw each gradient's sign against its weight's, so the step moves the weight away from 0. For n = 1 only: relL2
   * of one element is its relative error, which has no bound when the step lands the weight near 0 (the f32 rounding
   * of its operands, ~1e-9, over a tiny result: 29 of 1500 seeds failed); with many elements such an element is one
   * term among many, so the larger cases keep fully random signs.
   */
  awayFromZero?: boolean;
  /** Make the gradient of this element infinite, so its weight becomes NaN and status must name the slot. */
  infAt?: number;
}

const CASES: Case[] = [
  { n: 1, step: 1, weightDecay: 0.1, clip: false, awayFromZero: true },
  { n: 7, step: 2, weightDecay: 0, clip: true },
  { n: 255, step: 1, weightDecay: 0.01, clip: true },
  { n: 257, step: 10, weightDecay: 0.1, clip: false },
  { n: 1009, step: 3, weightDecay: 0.1, clip: true },
  { n: 65_537, step: 1000, weightDecay: 0.01, clip: false },
  { n: 100_003, step: 7, weightDecay: 0.05, clip: true },
  { n: 1009, step: 2, weightDecay: 0.1, clip: false, infAt: 1008 },
  { n: 65_537, step: 3, weightDecay: 0, clip: false, infAt: 40_000 },
];

function checkCase(c: Case): KernelCheck {
  const { n, step, weightDecay, clip } = c;
  return {
    kernel: 'adamw update',
    size: `n=${n} step=${step} wd=${weightDecay}${clip ? ' clip' : ''}${c.infAt === undefined ? '' : ` inf@${c.infAt}`}`,
    run: async (gpu: Gpu, rng: Rng): Promise<OutputResult[]> => {
      const scope = gpu.scope('adamw check');
      try {
        const dims: Omit<AdamwDims, 'slot'> = {
          n,
          lr: 1e-2,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay,
          step,
        };
        const param = rng.normal(n, 0.02); // (n), the scale of GPT-2 weights
        const grad = rng.normal(n, 0.1); // (n)
        if (c.awayFromZero) grad.forEach((g, i) => (grad[i] = -Math.sign(param[i]) * Math.abs(g)));
        if (c.infAt !== undefined) grad[c.infAt] = Infinity;
        const slot = 1 + Math.floor(rng.next() * 1000); // the tensor's index in an optimizer
        // The first step starts from zero state; later ones from state of a plausible size.
        const m = step === 1 ? new Float32Array(n) : rng.normal(n, 0.05); // (n)
        const v = step === 1 ? new Float32Array(n) : rng.uniform(n, 0, 0.02); // (n)
        const scale = Float32Array.of(clip ? 0.1 + 0.9 * rng.next() : 1); // (1)
        const bufs = { param: gpu.upload('param', param), m: gpu.upload('m', m), v: gpu.upload('v', v) };
        const gradBuf = gpu.upload('grad', grad);
        const status = gpu.upload('status', Uint32Array.of(NO_BAD_SLOT));
        const scaleBuf = clip ? gpu.upload('scale', scale) : null;
        adamwUpdate(gpu, bufs.param, bufs.m, bufs.v, gradBuf, scaleBuf, status, { ...dims, slot });
        const got = {
          param: await gpu.read(bufs.param, 'f32', n),
          m: await gpu.read(bufs.m, 'f32', n),
          v: await gpu.read(bufs.v, 'f32', n),
        };
        const gotStatus = (await gpu.read(status, 'u32', 1))[0];
        const want = { param: toF64(param), m: toF64(m), v: toF64(v) };
        const bad = adamwUpdateRef(want.param, want.m, want.v, toF64(grad), clip ? toF64(scale) : null, dims);
        // The non-finite element is compared by its status; the others by value, as in the finite cases.
        if (c.infAt !== undefined) {
          for (const [k, x] of Object.entries({ param, m, v }))
            want[k as keyof typeof want][c.infAt] = got[k as keyof typeof got][c.infAt] = x[c.infAt];
        }
        const wantStep = want.param.map((p, i) => p - param[i]);
        return [
          checkOutput('status', Float64Array.of(gotStatus), Float64Array.of(bad ? slot : NO_BAD_SLOT), 0),
          checkOutput('param', got.param, want.param, STATE_BOUND),
          checkOutput('m', got.m, want.m, STATE_BOUND),
          checkOutput('v', got.v, want.v, STATE_BOUND),
          checkOutput(
            'step',
            Float64Array.from(got.param, (p, i) => p - param[i]),
            wantStep,
            STEP_BOUND,
          ),
        ];
      } finally {
        scope[Symbol.dispose]();
      }
    },
  };
}

/**
 * Two AdamW steps on known numbers, worked out by hand from torch.optim.AdamW's update in 50-digit decimal
 * arithmetic (independently of the reference). Element 0 of step 1: 1 − 0.01·0.1·1 = 0.999, then
 * − 0.01 · (0.01 / 0.1) / (sqrt(1e-5 / 0.001) + 1e-8) = − 0.001 / 0.10000001, giving 0.98900000099999990...
 */
export const ADAMW_KNOWN_ANSWER = {
  hyper: { n: 3, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 },
  param: [1, -0.5, 2],
  grads: [
    [0.1, -0.2, 0.3],
    [-0.05, 0.4, 0],
  ],
  // After step 1 and after step 2.
  expected: [
    {
      param: [0.98900000099999985, -0.48950000049999998, 1.9880000003333334],
      m: [0.01, -0.02, 0.03],
      v: [1e-5, 4e-5, 9e-5],
    },
    {
      param: [0.98534763093933908, -0.49267153565410371, 1.9793114181075822],
      m: [0.004, 0.022, 0.027],
      v: [1.249e-5, 0.00019996, 8.991e-5],
    },
  ],
};

// The known answer on the GPU, two steps in a row: f32 inputs and arithmetic against the exact values, so the
// bound is f32's few ulps, relL2 ≤ 1e-6.
const knownAnswerCheck: KernelCheck = {
  kernel: 'adamw update',
  size: 'known answer n=3 steps 1-2',
  run: async (gpu: Gpu): Promise<OutputResult[]> => {
    const scope = gpu.scope('adamw check');
    try {
      const { hyper, param, grads, expected } = ADAMW_KNOWN_ANSWER;
      const bufs = {
        param: gpu.upload('param', toF32(param)),
        m: gpu.upload('m', new Float32Array(3)),
        v: gpu.upload('v', new Float32Array(3)),
      };
      const results: OutputResult[] = [];
      for (let t = 0; t < 2; t++) {
        const status = gpu.upload('status', Uint32Array.of(NO_BAD_SLOT));
        adamwUpdate(gpu, bufs.param, bufs.m, bufs.v, gpu.upload('grad', toF32(grads[t])), null, status, {
          ...hyper,
          step: t + 1,
          slot: 0,
        });
        const finite = (await gpu.read(status, 'u32', 1))[0];
        results.push(
          checkOutput(`status step ${t + 1}`, Float64Array.of(finite), Float64Array.of(NO_BAD_SLOT), 0),
        );
        for (const name of ['param', 'm', 'v'] as const) {
          results.push(
            checkOutput(
              `${name} step ${t + 1}`,
              await gpu.read(bufs[name], 'f32', 3),
              expected[t][name],
              STATE_BOUND,
            ),
          );
        }
      }
      return results;
    } finally {
      scope[Symbol.dispose]();
    }
  },
};

export const adamwChecks: KernelCheck[] = [knownAnswerCheck, ...CASES.map(checkCase)];
