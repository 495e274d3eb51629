// Every kernel check, in the order selftest prints them. A new op adds its array here.
import type { KernelCheck } from './kernel-check.ts';
import { matmulChecks } from './matmul.ts';
import { softmaxChecks } from './softmax.ts';
import { layernormChecks } from './layernorm.ts';
import { geluChecks } from './gelu.ts';
import { elementwiseChecks } from './elementwise.ts';
import { sumChecks } from './sum.ts';
import { embeddingChecks } from './embedding.ts';
import { crossEntropyChecks } from './cross-entropy.ts';
import { lmHeadLossChecks } from './lm-head-loss.ts';
import { adamwChecks } from './adamw.ts';
import { gradNormChecks } from './grad-norm.ts';
import { dropoutChecks } from './dropout.ts';
import { transposeChecks } from './transpose.ts';
import { sliceChecks } from './slice.ts';
import { rmsnormChecks } from './rmsnorm.ts';
import { ropeChecks } from './rope.ts';
import { swigluChecks } from './swiglu.ts';
import { causalAttentionChecks } from './causal-attention.ts';
import { halfWeightChecks } from './half-weights.ts';
import { bindingWindowChecks } from './binding-windows.ts';

export const ALL_CHECKS: KernelCheck[] = [
  ...matmulChecks,
  ...softmaxChecks,
  ...layernormChecks,
  ...geluChecks,
  ...elementwiseChecks,
  ...sumChecks,
  ...embeddingChecks,
  ...crossEntropyChecks,
  ...lmHeadLossChecks,
  ...adamwChecks,
  ...gradNormChecks,
  ...dropoutChecks,
  ...transposeChecks,
  ...sliceChecks,
  ...rmsnormChecks,
  ...ropeChecks,
  ...swigluChecks,
  ...causalAttentionChecks,
  ...halfWeightChecks,
  ...bindingWindowChecks,
];
