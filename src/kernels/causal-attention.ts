// Fused causal attention forward (flash-attention style): out = dropout(softmax(scale·q·kᵀ, causal))·v, with an
// online softmax over the keys, so only out (B, T, NQ·HS) and the row statistic lse = log Σ_j exp(s_j) (B, NQ, T) are
// written, never the (B, NQ, T, T) probabilities. Grouped-query: query head h reads KV head h / (NQ / NKV). Dropout
// masks are those of dropout.ts over the flat (B, NQ, T, T) probabilities: the composed path's, bit for bit. A KV
// cache is the same call with an offset: queries at positions past..past+T−1 over TK ≥ past + T key rows per head.
import type { Gpu, Kernel, Uniforms } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { shortRowGrid } from './rows.ts';
import { FLOAT_WGSL, rowOfWgsl } from './row-wgsl.ts';
import { PHILOX_WGSL, dropoutThreshold } from './dropout.ts';
import type { CausalAttentionDims } from '../ops/dims.ts';

export const WG = 64;
/** Head sizes round up to one of these private-array lengths: at most 5 pipelines per kernel. */
const HEAD_BUCKETS = [16, 32, 64, 128, 256];

/**
 * What every attention kernel shares: the uniforms, the dropout multiplier of query row r = (b·NQ + h)·T + i at key j
 * (0 or 1 / (1 − p); the mask index r·(past + T) + j is that element's index in the flat probabilities) and the row
 * of the grid. The backward kernels take past = 0 and TK = T only (training has no cache).
 */
export const ATTENTION_COMMON = /* wgsl */ `
struct Dims {
  rows: u32, NQ: u32, NKV: u32, T: u32, HS: u32, scale: f32, seed: u32, offset: u32, threshold: u32, keep_scale: f32,
  past: u32, TK: u32,
}
${PHILOX_WGSL}
${FLOAT_WGSL}
fn drop(r: u32, j: u32) -> f32 {
  if (u.threshold == 0u) { return 1.0; }
  return select(0.0, u.keep_scale, philox(u.offset + r * (u.past + u.T) + j, 0u, u.seed) >= u.threshold);
}
${rowOfWgsl(WG)}`;

/** One compiled kernel per head-size bucket, built on first use; `sizes` from the extents below. */
export function bucketed(
  name: string,
  wgsl: (hsb: number) => string,
  sizes: (e: ReturnType<typeof extents>) => Record<string, number>,
): (HS: number) => Kernel {
  const kernels = new Map<number, Kernel>();
  return (HS) => {
    const hsb = HEAD_BUCKETS.find((b) => b >= HS)!;
    let k = kernels.get(hsb);
    if (!k)
      kernels.set(hsb, (k = { name: `${name}-hs${hsb}`, wgsl: wgsl(hsb), sizes: (u) => sizes(extents(u)) }));
    return k;
  };
}

/** Elements of a query-shaped tensor (q, out: rows·HS), of a key/value one (B·NKV·TK·HS) and of a row statistic. */
function extents({ rows, NQ, NKV, T, HS, TK }: Uniforms): { q: number; kv: number; rows: number } {
  return { q: rows * HS, kv: (rows / (NQ * T)) * NKV * TK * HS, rows };
}

const forwardKernel = bucketed(
  'causal-attention-forward',
  (hsb) => /* wgsl */ `
// Workgroup ${WG}, one invocation per query row r = (b·NQ + h)·T + i (head size ≤ ${hsb}). Over keys j = 0..past+i
// in order: s = scale·q·k_j, running max m and l = Σ exp(s − m), acc = Σ exp(s − m)·drop·v_j, both rescaled when m
// grows; then out = acc / l and lse = m + log l. Bindings: out (B, T, NQ·HS), lse (B, NQ, T) written; q (B, NQ, T, HS),
// k, v (B, NKV, TK, HS) read.
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read_write> lse: array<f32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> k: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;
@group(0) @binding(5) var<uniform> u: Dims;
${ATTENTION_COMMON}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = row_of(gid, groups);
  if (r >= u.rows) { return; }
  let i = r % u.T;
  let h = (r / u.T) % u.NQ;
  let b = r / (u.T * u.NQ);
  let kv = (b * u.NKV + h / (u.NQ / u.NKV)) * u.TK; // row of key 0
  var qr: array<f32, ${hsb}>;
  var acc: array<f32, ${hsb}>;
  for (var d = 0u; d < u.HS; d++) {
    qr[d] = q[r * u.HS + d];
    acc[d] = 0.0;
  }
  var m = FLOOR;
  var l = 0.0;
  for (var j = 0u; j <= u.past + i; j++) {
    let kb = (kv + j) * u.HS;
    var s = 0.0;
    for (var d = 0u; d < u.HS; d++) { s += qr[d] * k[kb + d]; }
    s *= u.scale;
    if (s > m) {
      let c = exp(m - s);
      l *= c;
      for (var d = 0u; d < u.HS; d++) { acc[d] *= c; }
      m = s;
    }
    let e = exp(s - m);
    l += e;
    let w = e * drop(r, j);
    if (w != 0.0) {
      for (var d = 0u; d < u.HS; d++) { acc[d] += w * v[kb + d]; }
    }
  }
  let ob = ((b * u.T + i) * u.NQ + h) * u.HS;
  for (var d = 0u; d < u.HS; d++) { out[ob + d] = acc[d] / l; }
  lse[r] = m + log(l);
}
`,
  ({ q, kv, rows }) => ({ out: q, lse: rows, q, k: kv, v: kv }),
);

export function causalAttentionForward(
  gpu: Gpu,
  out: GPUBuffer,
  lse: GPUBuffer,
  q: GPUBuffer,
  k: GPUBuffer,
  v: GPUBuffer,
  dims: CausalAttentionDims,
): void {
  const uniforms = attentionUniforms('causalAttentionForward', dims);
  gpu.dispatch(forwardKernel(dims.HS), { out, lse, q, k, v }, uniforms, shortRowGrid(gpu, uniforms.rows, WG));
}

/** Whether the fused kernels take these sizes; otherwise attention runs composed (nn/attention.ts). */
export function fusedAttentionFits(dims: {
  B: number;
  NQ: number;
  T: number;
  HS: number;
  past?: number;
  TK?: number;
}): boolean {
  const { B, NQ, T, HS, past = 0, TK = past + T } = dims;
  const indices = B * NQ * T * Math.max(past + T, HS) < 2 ** 32 && B * NQ * TK * HS < 2 ** 32;
  return HS <= HEAD_BUCKETS[HEAD_BUCKETS.length - 1] && indices;
}

/** Checked dims → the kernels' uniforms (rows = B·NQ·T query rows). */
export function attentionUniforms(where: string, dims: CausalAttentionDims) {
  const { B, NQ, NKV, T, HS, past = 0, TK = past + T, scale, p, seed, offset } = dims;
  for (const [key, value] of Object.entries({ B, NQ, NKV, T, HS })) {
    if (!Number.isInteger(value) || value < 1)
      throw new ShapeError(`${where}: dims.${key}, expected an integer ≥ 1, got ${value}`);
  }
  if (NQ % NKV !== 0) throw new ShapeError(`${where}: dims.NQ % dims.NKV, expected 0, got ${NQ} % ${NKV}`);
  if (!Number.isInteger(past) || past < 0)
    throw new ShapeError(`${where}: dims.past, expected an integer ≥ 0, got ${past}`);
  if (!Number.isInteger(TK) || TK < past + T)
    throw new ShapeError(`${where}: dims.TK, expected an integer ≥ past + T = ${past + T}, got ${TK}`);
  if (!fusedAttentionFits({ B, NQ, T, HS, past, TK })) {
    throw new ShapeError(
      `${where}: sizes, expected HS ≤ 256, B·NQ·T·max(past + T, HS) and B·NQ·TK·HS < 2^32, got B=${B} NQ=${NQ} T=${T} HS=${HS} past=${past} TK=${TK}`,
    );
  }
  if (!Number.isFinite(scale))
    throw new ShapeError(`${where}: dims.scale, expected a finite number, got ${scale}`);
  if (!(p >= 0 && p < 1)) throw new ShapeError(`${where}: dims.p, expected a number in [0, 1), got ${p}`);
  for (const [key, value] of Object.entries({ seed, offset })) {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32) {
      throw new ShapeError(`${where}: dims.${key}, expected a u32 integer in [0, 2^32), got ${value}`);
    }
  }
  const { threshold, scale: keepScale } = p > 0 ? dropoutThreshold(p) : { threshold: 0, scale: 1 };
  return {
    rows: B * NQ * T,
    NQ,
    NKV,
    T,
    HS,
    scale,
    seed,
    offset,
    threshold,
    keep_scale: keepScale,
    past,
    TK,
  };
}
