// GPU-vs-reference checks for the embedding lookup and its scatter-add backward: V=1, C=1, primes, one id repeated
// many times, and a GPT-2-wide C. Forward copies rows: exact (bound 0). Backward sums the rows that share an id in
// f32 (bound relL2 ≤ 1e-5).
import type { Gpu } from '../gpu/gpu.ts';
import { embeddingBackward, embeddingForward } from '../kernels/embedding.ts';
import { embeddingBackwardRef, embeddingForwardRef } from '../reference/embedding.ts';
import { checkOutput, poison, toF32, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { Rng } from '../util/random.ts';
import type { EmbeddingDims } from '../ops/dims.ts';

const EXACT = 0;
const BACKWARD_BOUND = 1e-5;

interface Case extends EmbeddingDims {
  /** Ids are drawn from [0, distinct), so a small value repeats ids. */
  distinct: number;
}

const CASES: Case[] = [
  { N: 1, C: 1, V: 1, distinct: 1 },
  { N: 7, C: 1, V: 3, distinct: 3 },
  { N: 5, C: 13, V: 1, distinct: 1 },
  { N: 17, C: 31, V: 11, distinct: 11 },
  { N: 300, C: 67, V: 5, distinct: 1 },
  { N: 257, C: 65, V: 1031, distinct: 1031 },
  { N: 37, C: 65, V: 1031, distinct: 1031 }, // few rows of a large table (run in windows by binding-windows.ts)
  { N: 331, C: 768, V: 509, distinct: 7 },
];

function describe(c: Case): string {
  return `N=${c.N} C=${c.C} V=${c.V}${c.distinct < c.V ? ` ids<${c.distinct}` : ''}`;
}

function forwardCheck(c: Case): KernelCheck {
  const { N, C, V } = c;
  return {
    kernel: 'embedding forward',
    size: describe(c),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'embedding', async () => {
        const ids = rng.int(N, 0, c.distinct); // (N)
        const weight = rng.uniform(V * C); // (V, C)
        const out = gpu.alloc('out', N * C * 4); // (N, C)
        poison(gpu, out);
        embeddingForward(gpu, out, gpu.upload('ids', ids), gpu.upload('weight', weight), c);
        const got = await gpu.read(out, 'f32', N * C);
        const want = new Float64Array(N * C);
        embeddingForwardRef(want, ids, toF64(weight), c);
        return [checkOutput('out', got, toF32(want), EXACT)];
      }),
  };
}

function backwardCheck(c: Case): KernelCheck {
  const { N, C, V } = c;
  return {
    kernel: 'embedding backward',
    size: describe(c),
    run: (gpu: Gpu, rng: Rng) =>
      scoped(gpu, 'embedding', async () => {
        const ids = rng.int(N, 0, c.distinct); // (N)
        const dout = rng.uniform(N * C); // (N, C)
        const dweight = gpu.alloc('dweight', V * C * 4); // (V, C)
        poison(gpu, dweight);
        embeddingBackward(gpu, dweight, gpu.upload('dout', dout), gpu.upload('ids', ids), c);
        const got = await gpu.read(dweight, 'f32', V * C);
        const want = new Float64Array(V * C);
        embeddingBackwardRef(want, toF64(dout), ids, c);
        return [checkOutput('dweight', got, want, BACKWARD_BOUND)];
      }),
  };
}

export const embeddingChecks: KernelCheck[] = CASES.flatMap((c) => [forwardCheck(c), backwardCheck(c)]);
