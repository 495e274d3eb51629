// The table of differentiable ops: forward allocates its output in the current scope and dispatches the kernel;
// backward returns one gradient per input (null where not needed). Typed so a missing backward does not compile.
// The entries live in tensor-ops.ts and layer-ops.ts; their shared checks in op-checks.ts.
import type { Llama3RopeScaling } from '../ops/rope-frequencies.ts';
import type { Tensor } from './tensor.ts';
import type { TapeNode } from './tape.ts';
import { TENSOR_OPS } from './tensor-ops.ts';
import { LAYER_OPS } from './layer-ops.ts';

export interface OpAttrs {
  matmul: { transA: boolean; transB: boolean };
  add: Record<string, never>;
  mul: Record<string, never>;
  scale: { alpha: number };
  sum: { axis: number | null; mean: boolean };
  reshape: { shape: number[] };
  transpose: Record<string, never>;
  slice: { start: number; width: number };
  softmax: { scale: number; causal: boolean };
  layernorm: { eps: number };
  gelu: Record<string, never>;
  embedding: Record<string, never>;
  crossEntropy: Record<string, never>;
  /** grads: the tape records this call, so the forward also computes the gradients (set by F.lmHeadLoss). */
  lmHeadLoss: { chunk?: number; grads: boolean };
  dropout: { p: number; seed: number; offset: number };
  rmsnorm: { eps: number };
  rope: { theta: number; positionOffset: number; scaling?: Llama3RopeScaling };
  swiglu: Record<string, never>;
  causalAttention: { scale: number; p: number; seed: number; offset: number; past: number };
}
export type OpName = keyof OpAttrs;

export interface OpDef<K extends OpName> {
  forward(inputs: Tensor[], attrs: OpAttrs[K]): { out: Tensor; saved?: Tensor[] };
  backward(gradOut: Tensor, node: TapeNode<K>, needs: boolean[]): (Tensor | null)[];
}

export const OPS: { [K in OpName]: OpDef<K> } = { ...TENSOR_OPS, ...LAYER_OPS };
