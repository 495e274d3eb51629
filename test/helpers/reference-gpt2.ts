// Float64 forward chains composed from the CPU references: the oracle for autograd compositions (via finite
// differences) and for GPT-2 blocks. Parameter maps use the Hugging Face names relative to the block.
import { matmulForwardRef } from '../../src/reference/matmul.ts';
import { geluForwardRef } from '../../src/reference/gelu.ts';
import { layernormForwardRef } from '../../src/reference/layernorm.ts';
import { softmaxForwardRef } from '../../src/reference/softmax.ts';

export type Params = Map<string, Float64Array>;

export function linearRef(x: Float64Array, w: Float64Array, b: Float64Array | null, rows: number, K: number, N: number): Float64Array {
  const out = new Float64Array(rows * N);
  matmulForwardRef(out, x, w, b, { batch: 1, M: rows, N, K });
  return out;
}

export function layernormRef(x: Float64Array, w: Float64Array, b: Float64Array, N: number, C: number, eps = 1e-5): Float64Array {
  const out = new Float64Array(N * C);
  layernormForwardRef(out, new Float64Array(N), new Float64Array(N), x, w, b, { N, C, eps });
  return out;
}

export function geluRef(x: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  geluForwardRef(out, x, { n: x.length });
  return out;
}

/** Causal self-attention of GPT-2 on x (B, T, C), written with plain index loops around the references. */
export function attentionRef(p: Params, prefix: string, x: Float64Array, B: number, T: number, C: number, NH: number): Float64Array {
  const HS = C / NH;
  const qkv = linearRef(x, p.get(`${prefix}c_attn.weight`)!, p.get(`${prefix}c_attn.bias`)!, B * T, C, 3 * C); // (B, T, 3C)
  const y = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const scores = new Float64Array(T * T);
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let d = 0; d < HS; d++) s += qkv[(b * T + i) * 3 * C + h * HS + d] * qkv[(b * T + j) * 3 * C + C + h * HS + d];
          scores[i * T + j] = s;
        }
      }
      const att = new Float64Array(T * T);
      softmaxForwardRef(att, scores, { rows: T, cols: T, scale: 1 / Math.sqrt(HS), causal: true });
      for (let i = 0; i < T; i++) {
        for (let d = 0; d < HS; d++) {
          let s = 0;
          for (let j = 0; j < T; j++) s += att[i * T + j] * qkv[(b * T + j) * 3 * C + 2 * C + h * HS + d];
          y[(b * T + i) * C + h * HS + d] = s;
        }
      }
    }
  }
  return linearRef(y, p.get(`${prefix}c_proj.weight`)!, p.get(`${prefix}c_proj.bias`)!, B * T, C, C);
}

/** One GPT-2 block: x + attn(ln_1(x)), then + mlp(ln_2(·)). */
export function blockRef(p: Params, prefix: string, x: Float64Array, B: number, T: number, C: number, NH: number, inner: number, eps = 1e-5): Float64Array {
  const N = B * T;
  const a = attentionRef(p, `${prefix}attn.`, layernormRef(x, p.get(`${prefix}ln_1.weight`)!, p.get(`${prefix}ln_1.bias`)!, N, C, eps), B, T, C, NH);
  const h = x.map((v, i) => v + a[i]);
  const ln2 = layernormRef(h, p.get(`${prefix}ln_2.weight`)!, p.get(`${prefix}ln_2.bias`)!, N, C, eps);
  const fc = geluRef(linearRef(ln2, p.get(`${prefix}mlp.c_fc.weight`)!, p.get(`${prefix}mlp.c_fc.bias`)!, N, C, inner));
  const m = linearRef(fc, p.get(`${prefix}mlp.c_proj.weight`)!, p.get(`${prefix}mlp.c_proj.bias`)!, N, inner, C);
  return h.map((v, i) => v + m[i]);
}
