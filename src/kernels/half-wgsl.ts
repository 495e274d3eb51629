// Reading 16-bit floats stored two to a u32 (util/half.ts) in WGSL, widened to f32 on load: f16 by unpack2x16float
// (core WGSL, no shader-f16 feature needed, which SwiftShader lacks), bf16 as the top half of an f32's bits.
import type { HalfDtype } from '../util/half.ts';

/** How a weight operand is stored: f32, or 16-bit floats two to a u32 (frozen weights). */
export type OperandDtype = 'f32' | HalfDtype;

const UNPACK: Record<HalfDtype, string> = {
  f16: 'unpack2x16float(w)[i & 1u]',
  bf16: 'bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u))',
};

/**
 * The declaration of read-only storage `name` at `binding`, and for a 16-bit dtype a function `load_<name>(i)`
 * giving element i as f32.
 */
export function operandDeclaration(name: string, binding: number, dtype: OperandDtype): string {
  if (dtype === 'f32') return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<f32>;`;
  return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<u32>; // ${dtype}, two per word
fn load_${name}(i: u32) -> f32 {
  let w = ${name}[i >> 1u];
  return ${UNPACK[dtype]};
}`;
}

/** The WGSL expression for element `index` of operand `name`. */
export function operandLoad(name: string, dtype: OperandDtype, index: string): string {
  return dtype === 'f32' ? `${name}[${index}]` : `load_${name}(${index})`;
}

/** A kernel name's suffix for the dtype ('' for f32, so f32 kernels keep their names). */
export const dtypeSuffix = (dtype: OperandDtype): string => (dtype === 'f32' ? '' : `-${dtype}`);

/** u32 words a buffer of n elements of the dtype needs (f32: n). */
export const operandWords = (dtype: OperandDtype, n: number): number =>
  dtype === 'f32' ? n : Math.ceil(n / 2);
