// Rotary position embedding, Llama's rotate_half layout, on x (B, NH, T, HS) with position t + positionOffset for row t:
// for i < HS/2, angle = pos·theta^(−2i/HS), out[i] = x[i]·cos − x[i + HS/2]·sin, out[i + HS/2] = x[i + HS/2]·cos +
// x[i]·sin. Backward is the inverse rotation (sin → −sin). Angles are exact modulo one turn: see frequencyTable.
import type { Gpu, Kernel } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { strideGroups } from './grid.ts';
import type { RopeDims } from '../ops/dims.ts';
import { ropeInverseFrequencies, ropeKey, type Llama3RopeScaling } from '../ops/rope-frequencies.ts';

const WG = 256;

// Each frequency is held as turns per position in 0.64 fixed point (hi, lo words), so pos·freq mod 1 turn is exact
// integer arithmetic; an f32 angle would lose ~1e-4 rad by position 4096. cos/sin come from polynomials on a remainder
// within ±π/4 (absolute error ~1e-7), not the builtins, whose accuracy WGSL only bounds by 2^-11 on [−π, π].
const COMMON = /* wgsl */ `
struct Dims { pairs: u32, half: u32, T: u32, offset: u32 }
const RADIANS_PER_UNIT: f32 = 1.4629180792671596e-9; // 2π / 2^32

// The high 32 bits of the 64-bit product a·b, from 16-bit halves.
fn mul_hi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let mid = ((a0 * b0) >> 16u) + ((a0 * b1) & 0xffffu) + ((a1 * b0) & 0xffffu);
  return a1 * b1 + ((a0 * b1) >> 16u) + ((a1 * b0) >> 16u) + (mid >> 16u);
}

// (cos, sin) of phase / 2^32 turns: the nearest quarter turn k, then Taylor polynomials on the rest, in [−π/4, π/4).
fn cos_sin(phase: u32) -> vec2f {
  let k = (phase + 0x20000000u) >> 30u;
  let a = f32(bitcast<i32>(phase - (k << 30u))) * RADIANS_PER_UNIT;
  let a2 = a * a;
  let s = a * (1.0 + a2 * (-1.0 / 6.0 + a2 * (1.0 / 120.0 + a2 * (-1.0 / 5040.0 + a2 * (1.0 / 362880.0)))));
  let c = 1.0 + a2 * (-0.5 + a2 * (1.0 / 24.0 + a2 * (-1.0 / 720.0 + a2 * (1.0 / 40320.0 - a2 / 3628800.0))));
  switch k {
    case 0u: { return vec2f(c, s); }
    case 1u: { return vec2f(-s, c); }
    case 2u: { return vec2f(-c, -s); }
    default: { return vec2f(s, -c); }
  }
}
`;

// Forward rotates by +angle (out ← x), backward by −angle (dx ← dout); the sign is a compile-time constant.
function rotateKernel(name: string, dst: string, src: string, sign: 1 | -1): Kernel {
  return {
    name,
    wgsl: /* wgsl */ `
// Workgroup ${WG}, grid-stride loop over the B·NH·T·HS/2 pairs. One invocation rotates pair (row, i): elements i and
// i + HS/2 of row (b, h, t), by ${sign > 0 ? '+' : '−'}angle(t + offset, i).
// Bindings: ${dst} (B, NH, T, HS) written; ${src} (B, NH, T, HS), freq (HS/2, 2) read.
${COMMON}
const SIGN: f32 = ${sign.toFixed(1)};
@group(0) @binding(0) var<storage, read_write> ${dst}: array<f32>;
@group(0) @binding(1) var<storage, read> ${src}: array<f32>;
@group(0) @binding(2) var<storage, read> freq: array<u32>;
@group(0) @binding(3) var<uniform> u: Dims;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var p = gid.x; p < u.pairs; p += groups.x * ${WG}u) {
    let i = p % u.half;
    let row = p / u.half;
    let pos = row % u.T + u.offset;
    let cs = cos_sin(pos * freq[2u * i] + mul_hi(pos, freq[2u * i + 1u])); // wraps mod 2^32: whole turns drop out
    let s = SIGN * cs.y;
    let a = row * 2u * u.half + i;
    let b = a + u.half;
    let xa = ${src}[a];
    let xb = ${src}[b];
    ${dst}[a] = xa * cs.x - xb * s;
    ${dst}[b] = xb * cs.x + xa * s;
  }
}
`,
    sizes: ({ pairs, half }) => ({ [dst]: 2 * pairs, [src]: 2 * pairs, freq: 2 * half }),
  };
}

const ROPE_FORWARD = rotateKernel('rope-forward', 'out', 'x', 1);
const ROPE_BACKWARD = rotateKernel('rope-backward', 'dx', 'dout', -1);

export function ropeForward(gpu: Gpu, out: GPUBuffer, x: GPUBuffer, dims: RopeDims): void {
  rotate(gpu, 'ropeForward', ROPE_FORWARD, { out, x }, dims);
}

/** dx = the inverse rotation of dout (a rotation's transpose). */
export function ropeBackward(gpu: Gpu, dx: GPUBuffer, dout: GPUBuffer, dims: RopeDims): void {
  rotate(gpu, 'ropeBackward', ROPE_BACKWARD, { dx, dout }, dims);
}

function rotate(
  gpu: Gpu,
  where: string,
  kernel: Kernel,
  buffers: Record<string, GPUBuffer>,
  dims: RopeDims,
): void {
  const { B, NH, T, HS, theta, positionOffset } = dims;
  checkDims(where, dims);
  const pairs = (B * NH * T * HS) / 2;
  if (pairs === 0) return;
  const freq = frequencies(gpu, HS, theta, dims.scaling);
  const uniforms = { pairs, half: HS / 2, T, offset: positionOffset };
  const groups = strideGroups(gpu, pairs, WG);
  gpu.dispatch(kernel, { ...buffers, freq }, uniforms, groups);
}

// One table per (device, HS, theta), uploaded once and kept for the device's life: an upload per call would flush
// the step's pending encoder (a submit) every time q or k is rotated.
const tables = new WeakMap<Gpu, Map<string, GPUBuffer>>();

function frequencies(gpu: Gpu, HS: number, theta: number, scaling?: Llama3RopeScaling): GPUBuffer {
  let perGpu = tables.get(gpu);
  if (!perGpu) tables.set(gpu, (perGpu = new Map()));
  const key = ropeKey(HS, theta, scaling);
  let buf = perGpu.get(key);
  if (!buf) {
    buf = gpu.upload(
      `rope frequencies ${key}`,
      frequencyTable(ropeInverseFrequencies(HS, theta, scaling)),
      true,
    ); // (HS/2, 2)
    perGpu.set(key, buf);
  }
  return buf;
}

/**
 * (HS/2, 2) u32: inv_freq[i] (src/ops/rope-frequencies.ts) in turns per position (÷ 2π), reduced mod 1 and scaled by 2^64 into
 * hi and lo words. The float64 fraction is good to ~2^-54 turns, so pos·freq mod 1 is off by ~pos·2^-54 turns
 * (1e-13 at position 4096); the kernel takes the top 32 bits of pos·(hi, lo) mod 2^64, 2^-32 turns of rounding.
 */
export function frequencyTable(invFreq: Float64Array): Uint32Array {
  const table = new Uint32Array(2 * invFreq.length);
  for (let i = 0; i < invFreq.length; i++) {
    const turns = invFreq[i] / (2 * Math.PI);
    const scaled = (turns - Math.floor(turns)) * 2 ** 32;
    let hi = Math.floor(scaled);
    let lo = Math.round((scaled - hi) * 2 ** 32);
    if (lo === 2 ** 32) [hi, lo] = [hi + 1, 0];
    table[2 * i] = hi >>> 0; // hi + 1 may reach 2^32: that is 0 turns, as >>> 0 gives
    table[2 * i + 1] = lo;
  }
  return table;
}

function checkDims(where: string, { B, NH, T, HS, theta, positionOffset }: RopeDims): void {
  const counts = { B, NH, T };
  for (const [name, v] of Object.entries(counts)) {
    if (!Number.isInteger(v) || v < 0) {
      throw new ShapeError(`${where}: dims.${name}, expected a non-negative integer, got ${v}`);
    }
  }
  if (!Number.isInteger(HS) || HS < 2 || HS % 2 !== 0) {
    throw new ShapeError(
      `${where}: dims.HS, expected an even integer ≥ 2 (halves rotate in pairs), got ${HS}`,
    );
  }
  if (B * NH * T * HS >= 2 ** 32) {
    throw new ShapeError(`${where}: B·NH·T·HS, expected < 2^32, got ${B * NH * T * HS}`);
  }
  if (!Number.isFinite(theta) || theta <= 0) {
    throw new ShapeError(`${where}: dims.theta, expected a finite number > 0, got ${theta}`);
  }
  if (!Number.isInteger(positionOffset) || positionOffset < 0 || positionOffset + T > 2 ** 32) {
    throw new ShapeError(
      `${where}: dims.positionOffset, expected an integer ≥ 0 with positionOffset + T ≤ 2^32, got ${positionOffset}`,
    );
  }
}
