// GPU-vs-reference checks for the global gradient norm and clip scale: many buffers of awkward sizes (1, 7, primes,
// WG·4 ± 1, one past the per-buffer workgroup cap, 1000003), an empty buffer, no buffers at all, clipping off
// (maxNorm 0), on (maxNorm below the norm) and not triggered (above it), in both workgroup shapes (software and
// hardware adapters). Each invocation sums up to a few thousand squares in f32 before a fixed tree, and sqrt halves
// the relative error: bound relL2 ≤ 1e-5 (norm and scale).
import type { Gpu } from '../gpu/gpu.ts';
import { gradNorm, GRAD_NORM_SHAPES } from '../kernels/grad-norm.ts';
import { gradNormRef } from '../reference/grad-norm.ts';
import { checkOutput, poison, toF64, type KernelCheck, type OutputResult } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';

const BOUND = 1e-5;

interface Case {
  sizes: number[];
  /** maxNorm as a multiple of the true norm; 0 turns clipping off. */
  clipAt: number;
  /** The workgroup shape of the other adapter kind (hardware's on a software adapter and vice versa). */
  otherShape?: boolean;
}

const CASES: Case[] = [
  { sizes: [1], clipAt: 0 },
  { sizes: [1, 7, 1_000_003], clipAt: 0 },
  { sizes: [1, 7, 1_000_003], clipAt: 0.5 },
  { sizes: [13, 1023, 1025, 0, 262_145], clipAt: 2 },
  { sizes: Array.from({ length: 40 }, (_, k) => (k * 7919) % 3001), clipAt: 0.9 },
  { sizes: [], clipAt: 0 },
  { sizes: [1, 7, 1_000_003], clipAt: 0.5, otherShape: true },
  { sizes: [13, 1023, 1025, 0, 262_145], clipAt: 2, otherShape: true },
];

function checkCase(c: Case): KernelCheck {
  const total = c.sizes.reduce((a, b) => a + b, 0);
  const shown =
    c.sizes.length > 5 ? `${c.sizes.length} buffers, ${total} elements` : `sizes [${c.sizes.join(', ')}]`;
  return {
    kernel: 'grad-norm',
    size: `${shown} ${c.clipAt ? `maxNorm=${c.clipAt}·norm` : 'no clip'}${c.otherShape ? ' other shape' : ''}`,
    run: async (gpu: Gpu, rng: Rng): Promise<OutputResult[]> => {
      const scope = gpu.scope('grad-norm check');
      try {
        const grads = c.sizes.map((n) => rng.normal(n, 1e-3)); // each (n)
        const norm = gpu.alloc('norm', 4); // (1)
        const scale = gpu.alloc('scale', 4); // (1)
        poison(gpu, norm);
        poison(gpu, scale);
        const wantNorm = new Float64Array(1);
        const wantScale = new Float64Array(1);
        gradNormRef(wantNorm, wantScale, grads.map(toF64), 0);
        const maxNorm = Math.fround(c.clipAt * wantNorm[0]); // the kernel sees an f32 uniform
        gradNormRef(wantNorm, wantScale, grads.map(toF64), maxNorm);
        const buffers = grads.map((g, k) => ({ buffer: gpu.upload(`grad ${k}`, g), n: g.length }));
        const kind = gpu.software === !c.otherShape ? 'software' : 'hardware';
        gradNorm(gpu, norm, scale, buffers, maxNorm, GRAD_NORM_SHAPES[kind]);
        return [
          checkOutput('norm', await gpu.read(norm, 'f32', 1), wantNorm, BOUND),
          checkOutput('scale', await gpu.read(scale, 'f32', 1), wantScale, BOUND),
        ];
      } finally {
        scope[Symbol.dispose]();
      }
    },
  };
}

export const gradNormChecks: KernelCheck[] = CASES.map(checkCase);
