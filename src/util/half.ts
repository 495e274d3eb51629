// 16-bit floats held two to a u32 (element 2i in the low half, as little-endian memory lays them out): F16 (IEEE
// binary16) and BF16 (the top half of an f32). Rounding is to nearest, ties to even; widening is exact.

export type HalfDtype = 'f16' | 'bf16';

/** f32 bits → f16 bits, nearest, ties to even; overflow → ±Inf; NaN stays NaN (quiet, top payload bits). */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    // Subnormal: value / 2^-24 = (1.mant) >> (14 - e), rounded.
    const full = mant | 0x800000;
    const shift = 14 - e;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const half = full >>> shift;
    return sign | (half + (rest > halfway || (rest === halfway && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, which is the right answer (up to Inf).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** f16 bits → f32 bits (exact). */
export function f16BitsToF32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  let e = 113; // subnormal: shift the leading 1 up to the implicit bit
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/** f32 bits → bf16 bits, nearest, ties to even (overflow rounds to ±Inf); NaN stays a quiet NaN. */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Bytes of n elements of a dtype on the GPU: 4 each, or 2 each rounded up to whole u32 words. */
export function storageBytes(dtype: 'f32' | 'i32' | HalfDtype, n: number): number {
  return dtype === 'f32' || dtype === 'i32' ? 4 * n : 4 * Math.ceil(n / 2);
}

/** data rounded to the dtype, packed two to a u32 (an odd count leaves the last high half zero). */
export function packHalves(data: Float32Array, dtype: HalfDtype): Uint32Array {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const round = dtype === 'f16' ? f32BitsToF16 : f32BitsToBf16;
  const out = new Uint32Array(Math.ceil(data.length / 2));
  for (let i = 0; i < data.length; i++) out[i >> 1] |= round(bits[i]) << (16 * (i & 1));
  return out;
}

/** The first n values of packed halves, widened to f32 (exact). */
export function unpackHalves(words: Uint32Array, n: number, dtype: HalfDtype): Float32Array {
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const h = (words[i >> 1] >>> (16 * (i & 1))) & 0xffff;
    bits[i] = dtype === 'f16' ? f16BitsToF32(h) : (h << 16) >>> 0;
  }
  return out;
}

/** data rounded to the dtype and widened back: the values a 16-bit weight holds, as f32. */
export function roundToHalf(data: Float32Array, dtype: HalfDtype): Float32Array {
  return unpackHalves(packHalves(data, dtype), data.length, dtype);
}
