// The kernel-vs-reference checks, shared by `npm test` and `selftest` (one definition, two runners). A check runs a
// kernel on fresh random inputs with its outputs poisoned (NaN) first, and compares each output with the float64
// reference by relative L2 error against a bound stated per kernel.
import type { Gpu } from '../gpu/gpu.ts';
import { compare, describeComparison, type Comparison } from './compare.ts';
import { Rng } from '../util/random.ts';

export interface OutputResult {
  /** Which output of the kernel, e.g. 'dx' or 'out'. */
  output: string;
  comparison: Comparison;
  bound: number;
  pass: boolean;
}

export interface KernelCheck {
  /** Kernel (op and direction), e.g. 'layernorm backward'. */
  kernel: string;
  /** Human-readable size, e.g. 'N=7 C=13'. */
  size: string;
  /** Whether this device can run the kernel at all (e.g. it needs a feature); runners skip it and say so. */
  available?(gpu: Gpu): boolean;
  run(gpu: Gpu, rng: Rng): Promise<OutputResult[]>;
}

/**
 * Compare one output; pass when relL2 ≤ bound and nothing is NaN/Inf where the reference is finite. An output whose
 * terms can cancel passes `scale` (the reference over the terms' absolute values): see compare.ts.
 */
export function checkOutput(
  output: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  bound: number,
  scale?: ArrayLike<number>,
): OutputResult {
  const comparison = compare(got, want, scale);
  return { output, comparison, bound, pass: comparison.nonFinite === 0 && comparison.relL2 <= bound };
}

export function describeResult(check: KernelCheck, r: OutputResult): string {
  return `${check.kernel} [${check.size}] ${r.output}: ${describeComparison(r.comparison)} (bound relL2 ≤ ${r.bound})`;
}

/** Fill a buffer with NaN so a kernel that skips an element is caught. */
export function poison(gpu: Gpu, buf: GPUBuffer, bytes?: number): void {
  const n = Math.floor((bytes ?? buf.size) / 4);
  gpu.write(buf, new Float32Array(n).fill(NaN));
}

/** Upload a Float32Array, or a Float64Array converted to f32. */
export function toF32(x: ArrayLike<number>): Float32Array {
  return x instanceof Float32Array ? x : Float32Array.from(x);
}

export function toF64(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x);
}

export { Rng };

/** Runs a check's body inside a buffer scope labelled '<op> check', so whatever it allocates is released after. */
export async function scoped(
  gpu: Gpu,
  op: string,
  fn: () => Promise<OutputResult[]>,
): Promise<OutputResult[]> {
  const scope = gpu.scope(`${op} check`);
  try {
    return await fn();
  } finally {
    scope[Symbol.dispose]();
  }
}
