// Runners for jax-js cases: one op, and one training step (forward, backward, Adam), both under jit (its kernel
// fusion, the way jax-js is meant to run) and timed by wall clock until the result is ready (jax-js exposes no GPU
// timestamps), which is how the suite then compares them with ours.
import type { Runner, SuiteContext } from '../suite.ts';
import type { Sample } from '../timing.ts';
import { ADAM, compareLosses } from '../cases/step-runners.ts';
import type { JaxArray } from './backend.ts';

type Params = Record<string, JaxArray>;

export interface JaxOp {
  /** The op on fresh references to the inputs (jit-compiled by the runner). */
  op(...inputs: JaxArray[]): JaxArray;
  /** Checks the output of the last timed run: null when right, else what is wrong. */
  check?(out: Float32Array): string | null;
}

export function jaxOpRunner(ctx: SuiteContext, inputs: JaxArray[], { op, check }: JaxOp): Runner {
  const jax = ctx.jax!;
  const f = jax.jit(op);
  let last: JaxArray | null = null;
  return {
    async run(): Promise<Sample> {
      const start = performance.now();
      const out = f(...inputs.map((a) => a.ref));
      await out.blockUntilReady();
      const wallMs = performance.now() - start;
      last?.dispose();
      last = out;
      return { wallMs, gpuMs: null };
    },
    verify: check ? async () => check((await last!.ref.data()) as Float32Array) : undefined,
    dispose() {
      last?.dispose();
      for (const a of inputs) a.dispose();
      f.dispose();
    },
  };
}

export interface JaxStep {
  params: Params;
  inputs: JaxArray[];
  /** The scalar loss of `params` on `inputs` (traced: follow the move rules, `.ref` for each extra use). */
  loss(params: Params, ...inputs: JaxArray[]): JaxArray;
  /** Our losses, step by step, for the cross-engine check (null when our case was filtered out). */
  ours(): number[] | null;
  tolerance(step: number): number;
}

/** Adam as tf.train.adam and our AdamW without decay or clipping: one jit-compiled step of loss, grads and update. */
export function jaxStepRunner(ctx: SuiteContext, step: JaxStep): Runner {
  const jax = ctx.jax!;
  const np = jax.numpy;
  const { lr, beta1, beta2, eps } = ADAM;
  const zeros = (p: Params) => Object.fromEntries(Object.entries(p).map(([k, a]) => [k, np.zerosLike(a.ref)]));
  let params = step.params;
  let m = zeros(params);
  let v = zeros(params);
  let t = 0;
  const update = jax.jit((p: Params, mIn: Params, vIn: Params, c1: JaxArray, c2: JaxArray, ...inputs: JaxArray[]) => {
    const refs = Object.fromEntries(Object.entries(p).map(([k, a]) => [k, a.ref]));
    const [loss, g] = jax.valueAndGrad((q: Params) => step.loss(q, ...inputs))(refs) as [JaxArray, Params];
    const out: [JaxArray, Params, Params, Params] = [loss, {}, {}, {}];
    for (const k of Object.keys(p)) {
      const mk = mIn[k].mul(beta1).add(g[k].ref.mul(1 - beta1));
      const vk = vIn[k].mul(beta2).add(g[k].ref.mul(g[k]).mul(1 - beta2));
      const denom = np.sqrt(vk.ref.mul(c2.ref)).add(eps);
      out[1][k] = p[k].sub(mk.ref.mul(c1.ref).mul(lr).div(denom));
      out[2][k] = mk;
      out[3][k] = vk;
    }
    c1.dispose();
    c2.dispose();
    return out;
  });
  const losses: number[] = [];

  async function run(): Promise<Sample> {
    t++;
    const start = performance.now();
    const c1 = np.array(1 / (1 - beta1 ** t));
    const c2 = np.array(1 / (1 - beta2 ** t));
    const [loss, p2, m2, v2] = update(params, m, v, c1, c2, ...step.inputs.map((a) => a.ref));
    [params, m, v] = [p2, m2, v2];
    const value = ((await loss.data()) as Float32Array)[0];
    const wallMs = performance.now() - start;
    losses.push(value);
    return { wallMs, gpuMs: null };
  }

  return {
    run,
    async verify() {
      const bad = losses.findIndex((l) => !Number.isFinite(l));
      if (bad >= 0) return `loss at step ${bad}, expected a finite number, got ${losses[bad]}`;
      const ours = step.ours();
      return ours ? compareLosses(ours, losses, step.tolerance, 'jax-js') : null;
    },
    note() {
      const ours = step.ours();
      const base = `loss ${losses[0]?.toFixed(4)} → ${losses.at(-1)?.toFixed(4)} over ${losses.length} steps`;
      if (!ours || ours.length !== losses.length) return base;
      const worst = Math.max(...losses.map((l, i) => Math.abs(ours[i] - l) / Math.abs(l)));
      return `${base}; max relative difference from ours ${worst.toExponential(1)}`;
    },
    dispose() {
      for (const tree of [params, m, v]) for (const a of Object.values(tree)) a.dispose();
      for (const a of step.inputs) a.dispose();
      update.dispose();
    },
  };
}
