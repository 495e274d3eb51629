// Fused causal attention backward: the probabilities are recomputed from q, k and the forward's lse, never stored.
// With A = dropout(P): dA_j = dout·v_j, dP_j = drop_j·dA_j and Σ_j P_j·dP_j = dout·out =: D (dropout included), so
// dS_j = P_j·(dP_j − D). Pass 1 (one invocation per query row) writes D and dq = scale·Σ_j dS_j·k_j; pass 2 (one per
// key row) sums dv = Σ_i P_i·drop_i·dout_i and dk = scale·Σ_i dS_i·q_i over the queries i ≥ j of its query heads.
import type { Gpu } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { checkDistinct } from '../gpu/check-buffer.ts';
import { shortRowGrid } from './rows.ts';
import { ATTENTION_COMMON, WG, attentionUniforms, bucketed } from './causal-attention.ts';
import type { CausalAttentionDims } from '../ops/dims.ts';

const queryKernel = bucketed(
  'causal-attention-backward-dq',
  (hsb) => /* wgsl */ `
// Workgroup ${WG}, one invocation per query row r = (b·NQ + h)·T + i (head size ≤ ${hsb}): D = dout·out, then over
// keys j = 0..i: P = exp(scale·q·k_j − lse), dS = P·(drop·dout·v_j − D), dq += dS·k_j. Bindings: dq (B, NQ, T, HS),
// dsum (B, NQ, T) written; dout, out (B, T, NQ·HS), lse (B, NQ, T), q (B, NQ, T, HS), k, v (B, NKV, T, HS) read.
@group(0) @binding(0) var<storage, read_write> dq: array<f32>;
@group(0) @binding(1) var<storage, read_write> dsum: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> out: array<f32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> q: array<f32>;
@group(0) @binding(6) var<storage, read> k: array<f32>;
@group(0) @binding(7) var<storage, read> v: array<f32>;
@group(0) @binding(8) var<uniform> u: Dims;
${ATTENTION_COMMON}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = row_of(gid, groups);
  if (r >= u.rows) { return; }
  let i = r % u.T;
  let h = (r / u.T) % u.NQ;
  let b = r / (u.T * u.NQ);
  let kv = (b * u.NKV + h / (u.NQ / u.NKV)) * u.T;
  let ob = ((b * u.T + i) * u.NQ + h) * u.HS;
  var qr: array<f32, ${hsb}>;
  var dr: array<f32, ${hsb}>;
  var acc: array<f32, ${hsb}>;
  var D = 0.0;
  for (var d = 0u; d < u.HS; d++) {
    qr[d] = q[r * u.HS + d];
    dr[d] = dout[ob + d];
    acc[d] = 0.0;
    D += dr[d] * out[ob + d];
  }
  dsum[r] = D;
  let L = lse[r];
  for (var j = 0u; j <= i; j++) {
    let kb = (kv + j) * u.HS;
    var s = 0.0;
    var da = 0.0;
    for (var d = 0u; d < u.HS; d++) {
      s += qr[d] * k[kb + d];
      da += dr[d] * v[kb + d];
    }
    let P = exp(u.scale * s - L);
    let dS = P * (drop(r, j) * da - D);
    for (var d = 0u; d < u.HS; d++) { acc[d] += dS * k[kb + d]; }
  }
  for (var d = 0u; d < u.HS; d++) { dq[r * u.HS + d] = u.scale * acc[d]; }
}
`,
  ({ q, kv, rows }) => ({ dq: q, dsum: rows, dout: q, out: q, lse: rows, q, k: kv, v: kv }),
);

const keyKernel = bucketed(
  'causal-attention-backward-dkv',
  (hsb) => /* wgsl */ `
// Workgroup ${WG}, one invocation per key row c = (b·NKV + g)·T + j (head size ≤ ${hsb}): over the query heads h of KV
// head g and queries i = j..T−1, row r = (b·NQ + h)·T + i: P = exp(scale·q_r·k_j − lse_r), z = drop(r, j),
// dv += P·z·dout_r, dk += P·(z·dout_r·v_j − D_r)·q_r. Bindings: dk, dv (B, NKV, T, HS) written; dout (B, T, NQ·HS),
// dsum, lse (B, NQ, T), q (B, NQ, T, HS), k, v (B, NKV, T, HS) read.
@group(0) @binding(0) var<storage, read_write> dk: array<f32>;
@group(0) @binding(1) var<storage, read_write> dv: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> dsum: array<f32>;
@group(0) @binding(4) var<storage, read> lse: array<f32>;
@group(0) @binding(5) var<storage, read> q: array<f32>;
@group(0) @binding(6) var<storage, read> k: array<f32>;
@group(0) @binding(7) var<storage, read> v: array<f32>;
@group(0) @binding(8) var<uniform> u: Dims;
${ATTENTION_COMMON}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = row_of(gid, groups);
  if (c >= u.rows / u.NQ * u.NKV) { return; }
  let j = c % u.T;
  let g = (c / u.T) % u.NKV;
  let b = c / (u.T * u.NKV);
  let group = u.NQ / u.NKV;
  var kr: array<f32, ${hsb}>;
  var vr: array<f32, ${hsb}>;
  var dka: array<f32, ${hsb}>;
  var dva: array<f32, ${hsb}>;
  for (var d = 0u; d < u.HS; d++) {
    kr[d] = k[c * u.HS + d];
    vr[d] = v[c * u.HS + d];
    dka[d] = 0.0;
    dva[d] = 0.0;
  }
  for (var h = g * group; h < (g + 1u) * group; h++) {
    for (var i = j; i < u.T; i++) {
      let r = (b * u.NQ + h) * u.T + i;
      let ob = ((b * u.T + i) * u.NQ + h) * u.HS;
      var s = 0.0;
      var da = 0.0;
      for (var d = 0u; d < u.HS; d++) {
        s += q[r * u.HS + d] * kr[d];
        da += dout[ob + d] * vr[d];
      }
      let P = exp(u.scale * s - lse[r]);
      let z = drop(r, j);
      let pz = P * z;
      let dS = P * (z * da - dsum[r]);
      for (var d = 0u; d < u.HS; d++) {
        dva[d] += pz * dout[ob + d];
        dka[d] += dS * q[r * u.HS + d];
      }
    }
  }
  for (var d = 0u; d < u.HS; d++) {
    dk[c * u.HS + d] = u.scale * dka[d];
    dv[c * u.HS + d] = dva[d];
  }
}
`,
  ({ q, kv, rows }) => ({ dk: kv, dv: kv, dout: q, dsum: rows, lse: rows, q, k: kv, v: kv }),
);

/** dq (B, NQ, T, HS), dk and dv (B, NKV, T, HS) from dout (B, T, NQ·HS), the forward's out and lse; dsum (B, NQ, T) scratch. */
export function causalAttentionBackward(
  gpu: Gpu,
  dq: GPUBuffer,
  dk: GPUBuffer,
  dv: GPUBuffer,
  dsum: GPUBuffer,
  dout: GPUBuffer,
  out: GPUBuffer,
  lse: GPUBuffer,
  q: GPUBuffer,
  k: GPUBuffer,
  v: GPUBuffer,
  dims: CausalAttentionDims,
): void {
  const where = 'causalAttentionBackward';
  const uniforms = attentionUniforms(where, dims);
  if (uniforms.past !== 0 || uniforms.TK !== dims.T) {
    throw new ShapeError(
      `${where}: dims.past and dims.TK, expected 0 and T = ${dims.T} (no cache), got ${uniforms.past} and ${uniforms.TK}`,
    );
  }
  const { B, NKV, T, HS } = dims;
  checkDistinct(where, { dq, dk, dv }, { dout, out, lse, q, k, v }); // two dispatches: dq first, then dk and dv
  gpu.dispatch(
    queryKernel(HS),
    { dq, dsum, dout, out, lse, q, k, v },
    uniforms,
    shortRowGrid(gpu, uniforms.rows, WG),
  );
  gpu.dispatch(
    keyKernel(HS),
    { dk, dv, dout, dsum, lse, q, k, v },
    uniforms,
    shortRowGrid(gpu, B * NKV * T, WG),
  );
}
