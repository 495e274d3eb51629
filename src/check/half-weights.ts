// GPU-vs-reference checks for the kernels that read 16-bit weights (f16 and bf16, two per u32): matmul's B operand
// in every variant, as the models use a frozen weight (x·W and x·Wᵀ shared over the batch, with a bias, and
// dX = dY·op(W)ᵀ in the backward), and the embedding lookup. The reference runs in float64 on the rounded values
// (what the GPU holds), so the bounds are float32's: matmul relL2 ≤ 1e-5, the lookup exact. Odd element counts
// leave a half-used last word.
import {
  matmulBackward,
  matmulForward,
  MATMUL_VARIANTS,
  matmulVariantAvailable,
  type MatmulVariant,
} from '../kernels/matmul.ts';
import { embeddingForward } from '../kernels/embedding.ts';
import { matmulBackwardRef, matmulForwardRef } from '../reference/matmul.ts';
import { embeddingForwardRef } from '../reference/embedding.ts';
import { packHalves, roundToHalf, type HalfDtype } from '../util/half.ts';
import { checkOutput, poison, toF32, toF64, type KernelCheck, scoped } from './kernel-check.ts';
import type { MatmulDims } from '../ops/dims.ts';

const BOUND = 1e-5;
const DTYPES: HalfDtype[] = ['f16', 'bf16'];

// B shared over the batch (stride 0), as a weight: (K, N) for GPT-2's Conv1D, (N, K) transposed for nn.Linear.
const FORWARD: (MatmulDims & { bias?: boolean })[] = [
  { batch: 1, M: 1, N: 1, K: 1 },
  { batch: 1, M: 7, N: 13, K: 5, bias: true },
  { batch: 1, M: 7, N: 13, K: 5, transB: true },
  { batch: 3, M: 17, N: 19, K: 23, batchStrideB: 0, bias: true },
  { batch: 2, M: 33, N: 65, K: 67, batchStrideB: 0, transB: true },
  { batch: 1, M: 70, N: 131, K: 37, transB: true, accumulate: true },
];
const BACKWARD: MatmulDims[] = [
  { batch: 1, M: 1, N: 1, K: 1 },
  { batch: 3, M: 17, N: 19, K: 23, batchStrideB: 0 },
  { batch: 2, M: 33, N: 65, K: 67, batchStrideB: 0, transB: true },
  { batch: 1, M: 9, N: 131, K: 37, transB: true },
];

const describe = (c: MatmulDims & { bias?: boolean }) =>
  `batch=${c.batch} M=${c.M} N=${c.N} K=${c.K}${c.transB ? ' transB' : ''}${c.batchStrideB === 0 ? ' shared B' : ''}${c.bias ? ' bias' : ''}${c.accumulate ? ' accumulate' : ''}`;

const weightSize = (c: MatmulDims) => (c.batchStrideB === 0 ? 1 : c.batch) * c.K * c.N;

function forwardCheck(dtype: HalfDtype, variant: MatmulVariant, c: (typeof FORWARD)[number]): KernelCheck {
  const { batch, M, N, K } = c;
  return {
    kernel: `matmul forward ${variant} ${dtype} B`,
    size: describe(c),
    available: (gpu) => matmulVariantAvailable(gpu, variant),
    run: (gpu, rng) =>
      scoped(gpu, 'matmul-half', async () => {
        const a = rng.uniform(batch * M * K);
        const b = rng.uniform(weightSize(c)); // rounded to dtype on upload
        const bias = c.bias ? rng.uniform(N) : null;
        const init = rng.uniform(batch * M * N);
        const out = gpu.alloc('out', init.byteLength);
        if (c.accumulate) gpu.write(out, init);
        else poison(gpu, out);
        const dims = { ...c, dtypeB: dtype };
        matmulForward(
          gpu,
          out,
          gpu.upload('a', a),
          gpu.upload('b', packHalves(b, dtype)),
          bias && gpu.upload('bias', bias),
          dims,
          variant,
        );
        const want = toF64(init);
        matmulForwardRef(want, toF64(a), toF64(roundToHalf(b, dtype)), bias && toF64(bias), c);
        return [checkOutput('out', await gpu.read(out, 'f32', batch * M * N), want, BOUND)];
      }),
  };
}

function backwardCheck(dtype: HalfDtype, variant: MatmulVariant, c: MatmulDims): KernelCheck {
  const { batch, M, K } = c;
  return {
    kernel: `matmul backward ${variant} ${dtype} B`,
    size: `${describe(c)} only dA`,
    available: (gpu) => matmulVariantAvailable(gpu, variant),
    run: (gpu, rng) =>
      scoped(gpu, 'matmul-half', async () => {
        const a = rng.uniform(batch * M * K);
        const b = rng.uniform(weightSize(c));
        const dOut = rng.uniform(batch * M * c.N);
        const dA = gpu.alloc('dA', a.byteLength);
        poison(gpu, dA);
        const [ua, ub, ud] = [
          gpu.upload('a', a),
          gpu.upload('b', packHalves(b, dtype)),
          gpu.upload('dOut', dOut),
        ];
        matmulBackward(gpu, dA, null, null, ud, ua, ub, { ...c, dtypeB: dtype }, variant);
        const want = new Float64Array(a.length);
        const unused = [new Float64Array(b.length), new Float64Array(c.N)] as const;
        matmulBackwardRef(want, unused[0], unused[1], toF64(dOut), toF64(a), toF64(roundToHalf(b, dtype)), c);
        return [checkOutput('dA', await gpu.read(dA, 'f32', a.length), want, BOUND)];
      }),
  };
}

const EMBEDDING = [
  { N: 1, C: 1, V: 1 },
  { N: 17, C: 31, V: 11 },
  { N: 257, C: 65, V: 1031 },
  { N: 33, C: 768, V: 509 },
];

function embeddingCheck(dtype: HalfDtype, c: (typeof EMBEDDING)[number]): KernelCheck {
  const { N, C, V } = c;
  return {
    kernel: `embedding forward ${dtype} weight`,
    size: `N=${N} C=${C} V=${V}`,
    run: (gpu, rng) =>
      scoped(gpu, 'embedding-half', async () => {
        const ids = rng.int(N, 0, V);
        const weight = rng.uniform(V * C);
        const out = gpu.alloc('out', N * C * 4);
        poison(gpu, out);
        embeddingForward(gpu, out, gpu.upload('ids', ids), gpu.upload('weight', packHalves(weight, dtype)), {
          ...c,
          dtype,
        });
        const want = new Float64Array(N * C);
        embeddingForwardRef(want, ids, toF64(roundToHalf(weight, dtype)), c);
        return [checkOutput('out', await gpu.read(out, 'f32', N * C), toF32(want), 0)];
      }),
  };
}

export const halfWeightChecks: KernelCheck[] = DTYPES.flatMap((dtype) => [
  ...MATMUL_VARIANTS.flatMap((variant) => [
    ...FORWARD.map((c) => forwardCheck(dtype, variant, c)),
    ...BACKWARD.map((c) => backwardCheck(dtype, variant, c)),
  ]),
  ...EMBEDDING.map((c) => embeddingCheck(dtype, c)),
]);
