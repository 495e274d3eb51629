// GPT-2 written with TF.js ops, for the TF.js side of the SFT-step bench: the math of src/models/gpt2 (pre-LayerNorm
// blocks, causal attention scaled by 1/sqrt(HS), gelu_new, lm_head tied to wte) on the Hugging Face weights, and the
// loss of src/sft/tasks.ts (mean cross-entropy over the target positions only).
import type { Scalar, Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { TensorStore } from '../../src/io/safetensors.ts';
import type { Tfjs } from './backend.ts';

export interface TfGpt2Dims {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  vocabSize: number;
  layerNormEpsilon: number;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export class TfGpt2 {
  private masks = new Map<number, Tensor2D>();

  private constructor(
    private readonly tf: Tfjs,
    readonly dims: TfGpt2Dims,
    /** Trainable variables by Hugging Face name (transformer.*). */
    readonly params: Map<string, Variable>,
  ) {}

  static async load(tf: Tfjs, store: TensorStore, dims: TfGpt2Dims): Promise<TfGpt2> {
    const params = new Map<string, Variable>();
    for (const [name, info] of store.tensors) {
      if (!name.startsWith('transformer.')) continue;
      params.set(name, tf.variable(tf.tensor(await store.getF32(name), [...info.shape]), true));
    }
    return new TfGpt2(tf, dims, params);
  }

  private p(name: string): Variable {
    const v = this.params.get(`transformer.${name}`);
    if (!v)
      throw new Error(
        `TF.js GPT-2: parameter 'transformer.${name}', expected it in model.safetensors, got none`,
      );
    return v;
  }

  /** (T, T): 0 on and below the diagonal, -1e9 above it (after softmax: the causal mask's zeros). Kept across tidy. */
  private mask(T: number): Tensor2D {
    let m = this.masks.get(T);
    if (!m) {
      const data = new Float32Array(T * T).map((_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0));
      this.masks.set(T, (m = this.tf.keep(this.tf.tensor2d(data, [T, T]))));
    }
    return m;
  }

  private layernorm(x: Tensor, name: string): Tensor {
    const tf = this.tf;
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.dims.layerNormEpsilon)));
    return tf.add(tf.mul(normed, this.p(`${name}.weight`)), this.p(`${name}.bias`));
  }

  /** Conv1D: x (N, in) · weight (in, out) + bias. */
  private linear(x: Tensor, name: string): Tensor2D {
    return this.tf.add(
      this.tf.matMul(x as Tensor2D, this.p(`${name}.weight`) as Tensor2D),
      this.p(`${name}.bias`),
    );
  }

  private gelu(x: Tensor): Tensor {
    const tf = this.tf;
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  }

  /** Final hidden states (B·T, C) after ln_f, for ids (B, T) int32. */
  hidden(ids: Tensor2D): Tensor2D {
    const tf = this.tf;
    const [B, T] = ids.shape;
    const { nEmbd: C, nHead: NH } = this.dims;
    const HS = C / NH;
    let x = tf.add(tf.gather(this.p('wte.weight'), ids), tf.slice(this.p('wpe.weight'), [0, 0], [T, C])); // (B, T, C)
    for (let l = 0; l < this.dims.nLayer; l++) {
      const qkv = this.linear(tf.reshape(this.layernorm(x, `h.${l}.ln_1`), [B * T, C]), `h.${l}.attn.c_attn`); // (B·T, 3C)
      const [q, k, v] = tf
        .split(qkv, 3, 1)
        .map((t) => tf.transpose(tf.reshape(t, [B, T, NH, HS]), [0, 2, 1, 3])); // (B, NH, T, HS)
      const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(HS)), this.mask(T)); // (B, NH, T, T)
      const y = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [B * T, C]); // (B·T, C)
      x = tf.add(x, tf.reshape(this.linear(y, `h.${l}.attn.c_proj`), [B, T, C]));
      const h = this.gelu(
        this.linear(tf.reshape(this.layernorm(x, `h.${l}.ln_2`), [B * T, C]), `h.${l}.mlp.c_fc`),
      );
      x = tf.add(x, tf.reshape(this.linear(h, `h.${l}.mlp.c_proj`), [B, T, C]));
    }
    return tf.reshape(this.layernorm(x, 'ln_f'), [B * T, C]);
  }

  /** Mean cross-entropy at the target positions: rows (n) index B·T, labels (n, V) one-hot. */
  loss(ids: Tensor2D, rows: Tensor1D, labels: Tensor2D): Scalar {
    const tf = this.tf;
    const picked = tf.gather(this.hidden(ids), rows); // (n, C)
    const logits = tf.matMul(picked, this.p('wte.weight') as Tensor2D, false, true); // (n, V)
    return tf.losses.softmaxCrossEntropy(labels, logits) as Scalar;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const m of this.masks.values()) m.dispose();
  }
}
