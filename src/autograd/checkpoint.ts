// Activation (gradient) checkpointing: a block's forward runs without recording, in a scope of its own, so its
// intermediates go back to the pool as soon as it returns and only its input and output stay. Backward runs the block
// again from the same input with the same dropout draws, recording a short tape, and backpropagates through it:
// one block's activations are alive at a time, for one more forward per block. Gradients equal the plain path's.
import { Tensor } from './tensor.ts';
import { backpropagate, noGrad, recordClosure, tapeOf } from './tape.ts';

/** fn(x) whose activations are recomputed in backward; `params` are the tensors fn reads that may need gradients. */
export function checkpoint(fn: (x: Tensor) => Tensor, x: Tensor, params: readonly Tensor[]): Tensor {
  const gpu = x.gpu;
  const tape = tapeOf(gpu);
  const trainable = params.filter((p) => p.requiresGrad);
  if (!tape.gradEnabled || (!x.requiresGrad && trainable.length === 0)) return fn(x);
  const randomOffset = tape.randomOffset; // the recomputation replays these dropout draws
  let output: Tensor;
  {
    using scope = gpu.scope('checkpoint-forward');
    output = noGrad(gpu, () => fn(x));
    scope.keep(output.buf());
  }
  // fn handed its input back (a block that does nothing here): nothing to recompute, and a closure whose output is x
  // would take over x's gradient from x's own creator. Recorded as it is instead, with the same dropout draws.
  if (output.buffer === x.buffer) {
    tape.randomOffset = randomOffset;
    return fn(x);
  }
  recordClosure({
    inputs: [x, ...trainable],
    output,
    backward(gradOut, needs) {
      using scope = gpu.scope('checkpoint-backward');
      const outer = { nodes: tape.nodes, randomOffset: tape.randomOffset };
      tape.nodes = [];
      tape.randomOffset = randomOffset;
      // A leaf view of the input: the re-run's tape ends there, and its gradient is captured, not accumulated.
      const input = x.detach();
      input.requiresGrad = needs[0];
      let inner;
      let again: Tensor;
      try {
        again = fn(input);
        inner = tape.nodes;
      } finally {
        tape.nodes = outer.nodes;
        tape.randomOffset = outer.randomOffset;
      }
      if (!again.requiresGrad) return [null, ...trainable.map(() => null)];
      const dx = backpropagate(inner, again, gradOut, new Set([input])).get(input) ?? null;
      if (dx) scope.keep(dx.buf());
      // The parameters' gradients went into their .grad in backpropagate (leaves); none is returned for them here.
      return [dx, ...trainable.map(() => null)];
    },
  });
  return output;
}
