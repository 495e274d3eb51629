// The tape: ops append a node as they run forward (unless no input needs a gradient, or inside noGrad); backward()
// walks the nodes in reverse, dispatching each op's backward and summing gradients of tensors used more than once.
import type { Gpu } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { accumulate } from '../kernels/elementwise.ts';
import { OPS, type OpAttrs, type OpName } from './ops.ts';
import { Tensor, shapeString } from './tensor.ts';

export interface TapeNode<K extends OpName = OpName> {
  op: K;
  inputs: Tensor[];
  output: Tensor;
  attrs: OpAttrs[K];
  /** What forward kept for backward (e.g. layernorm's mean and rstd). */
  saved: Tensor[];
}

/** A node whose backward is a closure rather than an op table entry (checkpoint.ts re-runs a block there). */
export interface ClosureNode {
  op: 'closure';
  inputs: Tensor[];
  output: Tensor;
  backward(gradOut: Tensor, needs: boolean[]): (Tensor | null)[];
}

export type AnyNode = TapeNode | ClosureNode;

interface TapeState {
  nodes: AnyNode[];
  gradEnabled: boolean;
  /** Counts dropout draws so each call gets fresh random numbers from the same seed. */
  randomOffset: number;
  seed: number;
}

const tapes = new WeakMap<Gpu, TapeState>();

export function tapeOf(gpu: Gpu): TapeState {
  let t = tapes.get(gpu);
  if (!t) {
    t = { nodes: [], gradEnabled: true, randomOffset: 0, seed: 0 };
    tapes.set(gpu, t);
  }
  return t;
}

/** Run fn without recording anything (evaluation, generation). */
export function noGrad<T>(gpu: Gpu, fn: () => T): T {
  const tape = tapeOf(gpu);
  const was = tape.gradEnabled;
  tape.gradEnabled = false;
  try {
    return fn();
  } finally {
    tape.gradEnabled = was;
  }
}

/** Seed the GPU random numbers (dropout) and set their counter (0: from the start; a resumed run: where it was). */
export function manualSeed(gpu: Gpu, seed: number, offset = 0): void {
  const tape = tapeOf(gpu);
  tape.seed = seed >>> 0;
  tape.randomOffset = offset;
}

/** How many random numbers the GPU has drawn since the seed: what a checkpoint saves to resume the same stream. */
export function randomOffset(gpu: Gpu): number {
  return tapeOf(gpu).randomOffset;
}

/** Run op K forward and record it when any input requires a gradient. */
export function apply<K extends OpName>(op: K, inputs: Tensor[], attrs: OpAttrs[K]): Tensor {
  for (const t of inputs) t.buf(); // throws on a disposed input, naming it
  const def = OPS[op];
  const { out, saved = [] } = def.forward(inputs, attrs);
  const tape = tapeOf(out.gpu);
  if (tape.gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    const node: TapeNode<K> = { op, inputs, output: out, attrs, saved };
    out.creator = node as unknown as TapeNode;
    tape.nodes.push(node as unknown as TapeNode);
  }
  return out;
}

/** Record a closure node (checkpoint.ts): `output` now depends on `inputs` through `backward`. */
export function recordClosure(node: Omit<ClosureNode, 'op'>): void {
  const closure: ClosureNode = { op: 'closure', ...node };
  node.output.requiresGrad = true;
  node.output.creator = closure;
  tapeOf(node.output.gpu).nodes.push(closure);
}

/** Backpropagate from a scalar: leaves that require grad get `.grad` accumulated (persistent buffers). */
export function backward(loss: Tensor): void {
  if (!loss.requiresGrad) {
    throw new ShapeError(
      `${loss.label}: backward(), expected a tensor that requires grad, got one that does not`,
      'no parameter it depends on has requiresGrad, or it was computed inside noGrad()',
    );
  }
  if (loss.size !== 1) {
    throw new ShapeError(
      `${loss.label}: backward(), expected a scalar, got shape ${shapeString(loss.shape)}`,
    );
  }
  const gpu = loss.gpu;
  const tape = tapeOf(gpu);
  const nodes = tape.nodes;
  tape.nodes = [];
  backpropagate(nodes, loss, Tensor.from(gpu, new Float32Array([1]), loss.shape, { label: 'dloss' }));
}

/**
 * Walk `nodes` in reverse from `output`'s gradient: leaves get `.grad` accumulated, except the tensors in `capture`,
 * whose gradients are returned instead (checkpoint.ts: a re-run block's input).
 *
 * A gradient goes back to the pool as soon as nothing pending refers to its buffer: a node's gradOut once its backward
 * has run, an input's gradient once summed into a leaf's `.grad` or into an earlier gradient. Held to the step's end,
 * they were most of the step's peak (SmolLM2-135M LoRA at B4×T512: over 3 GiB of spent gradients). `refs` counts the
 * pending entries per buffer, since ops hand gradients on as they are (add) or as views (reshape); a spent view gives back
 * its base.
 */
export function backpropagate(
  nodes: readonly AnyNode[],
  output: Tensor,
  gradOutput: Tensor,
  capture: ReadonlySet<Tensor> = new Set(),
): Map<Tensor, Tensor> {
  const gpu = output.gpu;
  const grads = new Map<Tensor, Tensor>([[output, gradOutput]]);
  const captured = new Map<Tensor, Tensor>();
  const refs = new Map<GPUBuffer, number>([[gradOutput.buffer, 1]]);
  const hold = (g: Tensor) => refs.set(g.buffer, (refs.get(g.buffer) ?? 0) + 1);
  const spent = (g: Tensor) => {
    if (!refs.get(g.buffer) && g.buffer !== gradOutput.buffer) (g.base ?? g).dispose(); // a view: its base
  };
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    const gradOut = grads.get(node.output);
    if (!gradOut) continue;
    const needs = node.inputs.map((t) => t.requiresGrad);
    const def = node.op === 'closure' ? null : (OPS[node.op] as (typeof OPS)[OpName]);
    const inputGrads = def
      ? (def.backward as (g: Tensor, n: TapeNode, needs: boolean[]) => (Tensor | null)[])(
          gradOut,
          node as TapeNode,
          needs,
        )
      : (node as ClosureNode).backward(gradOut, needs);
    const used: Tensor[] = [];
    node.inputs.forEach((input, k) => {
      const g = inputGrads[k];
      if (!needs[k] || !g) return;
      const into = capture.has(input) ? captured : input.creator ? grads : null;
      const existing = into?.get(input);
      if (!into) accumulateLeafGrad(input, g);
      else if (existing) accumulate(gpu, existing.buf(), g.buf(), { n: g.size });
      else return void (into.set(input, g), hold(g));
      used.push(g);
    });
    grads.delete(node.output);
    refs.set(gradOut.buffer, refs.get(gradOut.buffer)! - 1);
    for (const g of [...used, gradOut]) spent(g);
  }
  return captured;
}

function accumulateLeafGrad(leaf: Tensor, g: Tensor): void {
  const gpu = leaf.gpu;
  const root = leaf.base ?? leaf;
  root.grad ??= Tensor.empty(gpu, root.shape, `${root.label}.grad`, 'f32', { persistent: true });
  if (root.gradIsZero) gpu.copy(g.buf(), root.grad.buf(), g.size * 4);
  else accumulate(gpu, root.grad.buf(), g.buf(), { n: g.size });
  root.gradIsZero = false;
}
