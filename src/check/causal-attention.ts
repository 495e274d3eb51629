// GPU-vs-reference checks for fused causal attention: T = 1, primes and sizes past the workgroup (64), head sizes in
// several buckets (8, 24, 64, 80, 128), grouped-query ratios 1, 2 and 4, with and without dropout; forward also with
// a KV cache's offset (past > 0, TK > past + T key rows whose unused tail is NaN). Bounds relL2 ≤ 2e-6
// forward, 1e-5 backward: each output is an f32 online softmax (or its recomputation) over ≤ T keys, a few roundings
// per term; the backward's drop·dout·v − dout·out cancels no more than softmax's backward does. lse = max + log Σ
// can cancel to near zero (T = 1: one score q·k), so its error is measured against the size of its terms.
import type { Gpu } from '../gpu/gpu.ts';
import { causalAttentionForward } from '../kernels/causal-attention.ts';
import { causalAttentionBackward } from '../kernels/causal-attention-backward.ts';
import { causalAttentionBackwardRef, causalAttentionForwardRef } from '../reference/causal-attention.ts';
import { checkOutput, poison, toF32, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { CausalAttentionDims } from '../ops/dims.ts';

const FORWARD_BOUND = 2e-6;
const BACKWARD_BOUND = 1e-5;

type Case = Omit<CausalAttentionDims, 'scale' | 'seed' | 'offset'>;

const CASES: Case[] = [
  { B: 1, NQ: 1, NKV: 1, T: 1, HS: 8, p: 0 },
  { B: 2, NQ: 3, NKV: 3, T: 7, HS: 24, p: 0 },
  { B: 1, NQ: 4, NKV: 2, T: 33, HS: 8, p: 0.1 },
  { B: 1, NQ: 4, NKV: 1, T: 130, HS: 8, p: 0 },
  { B: 2, NQ: 2, NKV: 1, T: 13, HS: 80, p: 0.25 },
  { B: 1, NQ: 2, NKV: 2, T: 67, HS: 64, p: 0.1 },
  { B: 1, NQ: 1, NKV: 1, T: 9, HS: 128, p: 0 },
];

/** Queries after `past` cached positions (generation's decode and chunked prefill); forward only. */
const CACHED_CASES: Case[] = [
  { B: 1, NQ: 4, NKV: 2, T: 1, HS: 8, past: 37, TK: 50, p: 0 },
  { B: 1, NQ: 3, NKV: 3, T: 1, HS: 24, past: 0, TK: 5, p: 0 },
  { B: 2, NQ: 4, NKV: 1, T: 5, HS: 64, past: 11, TK: 19, p: 0.1 },
  { B: 1, NQ: 2, NKV: 2, T: 70, HS: 8, past: 3, TK: 73, p: 0 },
];

const describe = (c: Case) =>
  `B=${c.B} NQ=${c.NQ} NKV=${c.NKV} T=${c.T} HS=${c.HS}${c.TK ? ` past=${c.past} TK=${c.TK}` : ''}${c.p > 0 ? ` p=${c.p}` : ''}`;

function inputs(c: Case, rng: Rng) {
  const dims: CausalAttentionDims = {
    ...c,
    scale: Math.fround(1 / Math.sqrt(c.HS)),
    seed: Math.floor(rng.next() * 2 ** 32),
    offset: Math.floor(rng.next() * 2 ** 32),
  };
  const { past = 0, TK = past + c.T } = c;
  const nq = c.B * c.NQ * c.T * c.HS;
  const nkv = c.B * c.NKV * TK * c.HS;
  const [q, k, v] = [rng.uniform(nq, -2, 2), rng.uniform(nkv, -2, 2), rng.uniform(nkv)]; // (B, NQ|NKV, T|TK, HS)
  // Cache rows past the last key are never read: NaN there would reach the output.
  for (let row = 0; row < c.B * c.NKV * TK; row++) {
    if (row % TK >= past + c.T) for (const x of [k, v]) x.fill(NaN, row * c.HS, (row + 1) * c.HS);
  }
  return { dims, nq, nkv, rows: c.B * c.NQ * c.T, q, k, v };
}

/** Per row of lse: the largest Σ|q·k|·scale over its keys 0..past+t plus log(keys), the size of the terms rounded in f32. */
function lseScale(q: Float32Array, k: Float32Array, d: CausalAttentionDims): Float64Array {
  const { B, NQ, NKV, T, HS, past = 0, TK = past + T } = d;
  const out = new Float64Array(B * NQ * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NQ; h++) {
      const kh = Math.floor(h / (NQ / NKV));
      for (let t = 0; t < T; t++) {
        const qi = ((b * NQ + h) * T + t) * HS;
        let largest = 0;
        for (let j = 0; j <= past + t; j++) {
          const kj = ((b * NKV + kh) * TK + j) * HS;
          let sum = 0;
          for (let e = 0; e < HS; e++) sum += Math.abs(q[qi + e] * k[kj + e]);
          largest = Math.max(largest, sum * d.scale);
        }
        out[(b * NQ + h) * T + t] = largest + Math.log(past + t + 1);
      }
    }
  }
  return out;
}

function forwardCheck(c: Case): KernelCheck {
  return {
    kernel: 'causal attention forward',
    size: describe(c),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'causal attention', async () => {
        const { dims, nq, rows, q, k, v } = inputs(c, rng);
        const out = gpu.alloc('out', nq * 4); // (B, T, NQ·HS)
        const lse = gpu.alloc('lse', rows * 4); // (B, NQ, T)
        poison(gpu, out);
        poison(gpu, lse);
        causalAttentionForward(
          gpu,
          out,
          lse,
          gpu.upload('q', q),
          gpu.upload('k', k),
          gpu.upload('v', v),
          dims,
        );
        const [wantOut, wantLse] = [new Float64Array(nq), new Float64Array(rows)];
        causalAttentionForwardRef(wantOut, wantLse, toF64(q), toF64(k), toF64(v), dims);
        return [
          checkOutput('out', await gpu.read(out, 'f32', nq), wantOut, FORWARD_BOUND),
          checkOutput('lse', await gpu.read(lse, 'f32', rows), wantLse, FORWARD_BOUND, lseScale(q, k, dims)),
        ];
      }),
  };
}

function backwardCheck(c: Case): KernelCheck {
  return {
    kernel: 'causal attention backward',
    size: describe(c),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'causal attention', async () => {
        const { dims, nq, nkv, rows, q, k, v } = inputs(c, rng);
        const dout = rng.uniform(nq); // (B, T, NQ·HS)
        // The forward's outputs as the kernel would have stored them (f32).
        const [out64, lse64] = [new Float64Array(nq), new Float64Array(rows)];
        causalAttentionForwardRef(out64, lse64, toF64(q), toF64(k), toF64(v), dims);
        const grads = {
          dq: gpu.alloc('dq', nq * 4),
          dk: gpu.alloc('dk', nkv * 4),
          dv: gpu.alloc('dv', nkv * 4),
        };
        for (const buf of Object.values(grads)) poison(gpu, buf);
        const up = (name: string, x: ArrayLike<number>) => gpu.upload(name, toF32(x));
        causalAttentionBackward(
          gpu,
          grads.dq,
          grads.dk,
          grads.dv,
          gpu.alloc('dsum', rows * 4),
          up('dout', dout),
          up('out', out64),
          up('lse', lse64),
          up('q', q),
          up('k', k),
          up('v', v),
          dims,
        );
        const want = { dq: new Float64Array(nq), dk: new Float64Array(nkv), dv: new Float64Array(nkv) };
        causalAttentionBackwardRef(
          want.dq,
          want.dk,
          want.dv,
          toF64(dout),
          toF64(q),
          toF64(k),
          toF64(v),
          dims,
        );
        return [
          checkOutput('dq', await gpu.read(grads.dq, 'f32', nq), want.dq, BACKWARD_BOUND),
          checkOutput('dk', await gpu.read(grads.dk, 'f32', nkv), want.dk, BACKWARD_BOUND),
          checkOutput('dv', await gpu.read(grads.dv, 'f32', nkv), want.dv, BACKWARD_BOUND),
        ];
      }),
  };
}

export const causalAttentionChecks: KernelCheck[] = [
  ...CASES.flatMap((c) => [forwardCheck(c), backwardCheck(c)]),
  ...CACHED_CASES.map(forwardCheck),
];
