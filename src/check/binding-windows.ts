// The windowed paths of the kernels that take tensors past the binding limit (gpu/ranges.ts), checked like every
// kernel: existing cases of matmul, embedding, the LM head loss, accumulate, AdamW and the gradient norm, rerun with
// the binding limit lowered so that their large operands go in several windows, against the same float64 reference
// and bound. Each entry names a case by its check's kernel and size, and the limit it runs under.
import type { KernelCheck } from './kernel-check.ts';
import { matmulChecks } from './matmul.ts';
import { embeddingChecks } from './embedding.ts';
import { lmHeadLossChecks } from './lm-head-loss.ts';
import { elementwiseChecks } from './elementwise.ts';
import { adamwChecks } from './adamw.ts';
import { gradNormChecks } from './grad-norm.ts';
import { halfWeightChecks } from './half-weights.ts';

const KiB = 1024;

const WINDOWED: [kernel: string, size: string, limit: number][] = [
  ['matmul forward subgroup', 'batch=1 M=1 N=1048565 K=2 transB', 32 * KiB], // B (N, K) and out by columns
  ['matmul forward register', 'batch=1 M=1048563 N=1 K=2 transA', 32 * KiB], // A (K, M): k runs of 1, then rows
  ['matmul forward subgroup', 'batch=1 M=257 N=31 K=300 bias', 16 * KiB], // A and out by rows, with a bias
  ['matmul backward subgroup', 'batch=1 M=257 N=31 K=300 bias', 32 * KiB], // dBias sums dOut bound whole
  ['matmul forward subgroup f16 B', 'batch=1 M=70 N=131 K=37 transB accumulate', 4 * KiB],
  ['matmul backward subgroup f16 B', 'batch=1 M=9 N=131 K=37 transB only dA', 4 * KiB],
  ['embedding forward', 'N=37 C=65 V=1031', 16 * KiB], // 17 windows of rows
  ['embedding backward', 'N=37 C=65 V=1031', 16 * KiB],
  ['embedding forward bf16 weight', 'N=257 C=65 V=1031', 128 * KiB], // windows at odd element offsets
  // W (12.9 MB) in 50 windows; a row of logits (201 KB) must fit one binding, so the limit stays above it
  ['lm-head-loss forward', 'N=5 C=64 V=50257 ignore 1/4', 256 * KiB],
  ['lm-head-loss backward', 'N=5 C=64 V=50257 ignore 1/4', 256 * KiB],
  ['lm-head-loss backward', 'N=6 C=33 V=1031 f16 W', 32 * KiB],
  ['accumulate', 'n=200003', 32 * KiB],
  ['adamw update', 'n=100003 step=7 wd=0.05 clip', 64 * KiB],
  ['adamw update', 'n=65537 step=3 wd=0 inf@40000', 64 * KiB], // the bad slot is still reported
  ['grad-norm', 'sizes [1, 7, 1000003] maxNorm=0.5·norm', 256 * KiB],
  ['grad-norm', 'sizes [13, 1023, 1025, 0, 262145] maxNorm=2·norm', 64 * KiB],
  ['grad-norm', 'sizes [13, 1023, 1025, 0, 262145] maxNorm=2·norm other shape', 4 * KiB], // fewer workgroups than one binding's grid
];

const SOURCES = [
  ...matmulChecks,
  ...embeddingChecks,
  ...lmHeadLossChecks,
  ...elementwiseChecks,
  ...adamwChecks,
  ...gradNormChecks,
  ...halfWeightChecks,
];

export const bindingWindowChecks: KernelCheck[] = WINDOWED.map(([kernel, size, limit]) => {
  const check = SOURCES.find((c) => c.kernel === kernel && c.size === size);
  if (!check) throw new Error(`binding windows: no check '${kernel} [${size}]'`);
  return {
    ...check,
    kernel: `${kernel} in windows`,
    size: `${size}, bindings ≤ ${limit / KiB} KiB`,
    run: async (gpu, rng) => {
      using _limit = gpu.lowerBindingLimit(limit);
      return check.run(gpu, rng);
    },
  };
});
