// Float64 reference for fused causal attention, written the plain way (full probability matrix per head):
// P = softmax(scale·q·kᵀ) with j > past + i masked, A = dropout(P) with the masks of reference/dropout.ts over the flat
// (B, NQ, T, past + T) probabilities, out = A·v laid out (B, T, NQ·HS). Query head h reads KV head h / (NQ / NKV);
// k and v hold TK ≥ past + T rows per head, of which the first past + T are keys.
import type { CausalAttentionDims } from '../ops/dims.ts';
import { dropoutKeep } from './dropout.ts';
import { ShapeError } from '../util/errors.ts';

/** Visit every (b, h, query i): its probabilities row P[0..past+i], dropout multipliers z[0..past+i] and offsets. */
function eachRow(
  q: Float64Array,
  k: Float64Array,
  dims: CausalAttentionDims,
  visit: (row: {
    b: number;
    h: number;
    i: number;
    qb: number;
    kv: number;
    ob: number;
    P: Float64Array;
    z: Float64Array;
    lse: number;
  }) => void,
): void {
  const { B, NQ, NKV, T, HS, past = 0, TK = past + T, scale, p, seed, offset } = dims;
  const group = NQ / NKV;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NQ; h++) {
      const kv = (b * NKV + Math.floor(h / group)) * TK; // row of key 0
      for (let i = 0; i < T; i++) {
        const r = (b * NQ + h) * T + i;
        const qb = r * HS;
        const s = new Float64Array(past + i + 1);
        let m = -Infinity;
        for (let j = 0; j < s.length; j++) {
          let dot = 0;
          for (let d = 0; d < HS; d++) dot += q[qb + d] * k[(kv + j) * HS + d];
          s[j] = scale * dot;
          m = Math.max(m, s[j]);
        }
        let sum = 0;
        for (let j = 0; j < s.length; j++) sum += Math.exp(s[j] - m);
        const P = s.map((v) => Math.exp(v - m) / sum);
        const z = s.map((_, j) =>
          p > 0 && !dropoutKeep(seed, offset, r * (past + T) + j, p) ? 0 : 1 / (1 - p),
        );
        visit({ b, h, i, qb, kv, ob: ((b * T + i) * NQ + h) * HS, P, z, lse: m + Math.log(sum) });
      }
    }
  }
}

/** out (B, T, NQ·HS), lse (B, NQ, T) = log Σ_j exp(scale·q_i·k_j), the statistic the kernel saves. */
export function causalAttentionForwardRef(
  out: Float64Array,
  lse: Float64Array,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  dims: CausalAttentionDims,
): void {
  const { NQ, T, HS } = dims;
  eachRow(q, k, dims, ({ b, h, i, kv, ob, P, z, lse: l }) => {
    lse[(b * NQ + h) * T + i] = l;
    for (let d = 0; d < HS; d++) {
      let acc = 0;
      for (let j = 0; j < P.length; j++) acc += P[j] * z[j] * v[(kv + j) * HS + d];
      out[ob + d] = acc;
    }
  });
}

/** dq (B, NQ, T, HS), dk and dv (B, NKV, T, HS) from dout (B, T, NQ·HS); dk and dv sum over the query heads they serve. */
export function causalAttentionBackwardRef(
  dq: Float64Array,
  dk: Float64Array,
  dv: Float64Array,
  dout: Float64Array,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  dims: CausalAttentionDims,
): void {
  const { HS, scale, past = 0 } = dims;
  if (past !== 0 || (dims.TK ?? dims.T) !== dims.T) {
    throw new ShapeError(
      `causalAttentionBackwardRef: dims.past and dims.TK, expected 0 and T (no cache), got ${past} and ${dims.TK}`,
    );
  }
  dk.fill(0);
  dv.fill(0);
  eachRow(q, k, dims, ({ i, qb, kv, ob, P, z }) => {
    // dA_j = dout·v_j; dP_j = z_j·dA_j; dS_j = P_j·(dP_j − Σ_k P_k·dP_k); d(q·k) = scale·dS.
    const dP = new Float64Array(i + 1);
    let sum = 0;
    for (let j = 0; j <= i; j++) {
      let dot = 0;
      for (let d = 0; d < HS; d++) dot += dout[ob + d] * v[(kv + j) * HS + d];
      dP[j] = z[j] * dot;
      sum += P[j] * dP[j];
    }
    for (let d = 0; d < HS; d++) dq[qb + d] = 0;
    for (let j = 0; j <= i; j++) {
      const dS = scale * P[j] * (dP[j] - sum);
      const kb = (kv + j) * HS;
      for (let d = 0; d < HS; d++) {
        dq[qb + d] += dS * k[kb + d];
        dk[kb + d] += dS * q[qb + d];
        dv[kb + d] += P[j] * z[j] * dout[ob + d];
      }
    }
  });
}
