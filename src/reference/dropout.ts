// Float64 reference for inverted dropout, with the same Philox2x32-10 random words as the WGSL kernel (u32 arithmetic
// spelled out with Math.imul and >>> 0), so the CPU and GPU masks agree bit for bit.
import type { DropoutDims } from '../ops/dims.ts';

const PHILOX_M = 0xd256d193;
const PHILOX_W = 0x9e3779b9;

/** High 32 bits of the 64-bit product of two u32, from 16-bit halves as in the kernel. */
function mulhi(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

/** Philox2x32 with 10 rounds: counter (c0, c1), key k → both output words. */
export function philox2x32(c0: number, c1: number, k: number): [number, number] {
  c0 >>>= 0;
  c1 >>>= 0;
  k >>>= 0;
  for (let r = 0; r < 10; r++) {
    const hi = mulhi(PHILOX_M, c0);
    const lo = Math.imul(PHILOX_M, c0) >>> 0;
    c0 = (hi ^ k ^ c1) >>> 0;
    c1 = lo;
    k = (k + PHILOX_W) >>> 0;
  }
  return [c0, c1];
}

/** Whether dropout keeps element i of a call with this seed and offset: philox(offset + i mod 2^32, 0; seed) / 2^32 ≥ p. */
export function dropoutKeep(seed: number, offset: number, i: number, p: number): boolean {
  return philox2x32((offset + i) >>> 0, 0, seed)[0] / 2 ** 32 >= p;
}

export function dropoutForwardRef(out: Float64Array, x: Float64Array, dims: DropoutDims): void {
  const { n, p, seed, offset } = dims;
  for (let i = 0; i < n; i++) out[i] = dropoutKeep(seed, offset, i, p) ? x[i] / (1 - p) : 0;
}

export function dropoutBackwardRef(dx: Float64Array, dout: Float64Array, dims: DropoutDims): void {
  const { n, p, seed, offset } = dims;
  for (let i = 0; i < n; i++) dx[i] = dropoutKeep(seed, offset, i, p) ? dout[i] / (1 - p) : 0;
}
