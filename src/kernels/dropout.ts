// Inverted dropout on a flat (n) tensor: out[i] = keep(i) ? x[i] / (1 - p) : 0, where keep(i) holds iff
// philox(seed, offset + i) / 2^32 ≥ p. The random word is Philox2x32-10 (Salmon et al., SC'11) with counter
// (offset + i mod 2^32, 0) and key seed, so the mask is a pure function of (seed, offset, i): the backward recomputes
// it instead of storing it, and src/reference/dropout.ts computes the same words on the CPU.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { strideGroups } from './grid.ts';
import type { DropoutDims } from '../ops/dims.ts';

const WG = 256;

/** WGSL `philox(c0, c1, key) -> u32`, the random word of every dropout mask (causal attention draws it too). */
export const PHILOX_WGSL = /* wgsl */ `
// High 32 bits of the 64-bit product a · b, from 16-bit halves (WGSL has no 64-bit integers).
fn mulhi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = ((a0 * b0) >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}

// First output word of Philox2x32 with 10 rounds: counter (c0, c1), key k.
fn philox(c0_in: u32, c1_in: u32, k_in: u32) -> u32 {
  var c0 = c0_in;
  var c1 = c1_in;
  var k = k_in;
  for (var r = 0u; r < 10u; r++) {
    let hi = mulhi(0xd256d193u, c0);
    let lo = 0xd256d193u * c0;
    c0 = hi ^ k ^ c1;
    c1 = lo;
    k += 0x9e3779b9u;
  }
  return c0;
}
`;

const DROPOUT_FORWARD: Kernel = {
  name: 'dropout-forward',
  wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over the n elements. One invocation: one Philox2x32-10 word h for counter
// offset + i, then out[i] = x[i] · scale if h ≥ threshold, else 0 (threshold = ceil(p · 2^32), scale = 1 / (1 - p)).
// The backward is the same masked scale applied to dout, so it dispatches this kernel too.
// Bindings: out (n) written, x (n) read.
struct Dims { n: u32, seed: u32, offset: u32, threshold: u32, scale: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> u: Dims;

${PHILOX_WGSL}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = gid.x; i < u.n; i += groups.x * ${WG}u) {
    let h = philox(u.offset + i, 0u, u.seed);
    out[i] = select(0.0, x[i] * u.scale, h >= u.threshold);
  }
}
`,
  sizes: ({ n }) => ({ out: n, x: n }),
};

export function dropoutForward(gpu: Gpu, out: GPUBuffer, x: GPUBuffer, dims: DropoutDims): void {
  dispatch(gpu, 'dropoutForward', out, x, dims);
}

/** dx[i] = keep(i) ? dout[i] / (1 - p) : 0, with the mask of the forward call that used the same dims. */
export function dropoutBackward(gpu: Gpu, dx: GPUBuffer, dout: GPUBuffer, dims: DropoutDims): void {
  dispatch(gpu, 'dropoutBackward', dx, dout, dims);
}

function dispatch(gpu: Gpu, where: string, out: GPUBuffer, x: GPUBuffer, dims: DropoutDims): void {
  const { n, p, seed, offset } = dims;
  if (!Number.isInteger(n) || n < 1 || n >= 2 ** 32) {
    throw new ShapeError(`${where}: dims.n, expected an integer in [1, 2^32), got ${n}`);
  }
  if (!(p >= 0 && p < 1)) throw new ShapeError(`${where}: dims.p, expected a number in [0, 1), got ${p}`);
  for (const key of ['seed', 'offset'] as const) {
    const v = dims[key];
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32) {
      throw new ShapeError(`${where}: dims.${key}, expected a u32 integer in [0, 2^32), got ${v}`);
    }
  }
  // h / 2^32 ≥ p  ⇔  h ≥ ceil(p · 2^32) for integer h (p · 2^32 is exact in float64). Only for p > 1 - 2^-32 does the
  // threshold reach 2^32, where nothing is kept: the largest u32 threshold with scale 0 still outputs all zeros.
  const { threshold, scale } = dropoutThreshold(p);
  const groups = strideGroups(gpu, n, WG);
  gpu.dispatch(DROPOUT_FORWARD, { out, x }, { n, seed, offset, threshold, scale }, groups);
}

/** The kernel's keep test h ≥ threshold and the multiplier of kept values, for drop probability p. */
export function dropoutThreshold(p: number): { threshold: number; scale: number } {
  const threshold = Math.ceil(p * 2 ** 32);
  return threshold >= 2 ** 32 ? { threshold: 2 ** 32 - 1, scale: 0 } : { threshold, scale: 1 / (1 - p) };
}
