// Llama (LlamaForCausalLM) as a tree of Modules whose dotted names are the Hugging Face keys. Projections are
// torch.nn.Linear, weight [out, in]: our Linear 'out-in' layout, so nothing is transposed on load or save.
// Pre-norm blocks: x += o_proj(attention(rope(q), rope(k), v)); x += down_proj(silu(gate_proj h) ⊙ up_proj h).
// Qwen2 and Qwen3 are the same model (config.ts): Qwen2 with q/k/v biases, Qwen3 with q = q_norm(q), k = k_norm(k), an
// RMSNorm over each head's HS values, before RoPE.
import type { Gpu } from '../../gpu/gpu.ts';
import { ShapeError } from '../../util/errors.ts';
import { Tensor } from '../../autograd/tensor.ts';
import * as F from '../../autograd/functional.ts';
import { Module } from '../../nn/module.ts';
import { Dropout, Embedding, Linear, RMSNorm } from '../../nn/layers.ts';
import { causalAttention } from '../../nn/attention.ts';
import { throughBlocks } from '../../nn/blocks.ts';
import { HF_CLASSES, type LlamaConfig } from './config.ts';
import { KvCache } from '../kv-cache.ts';
import type { LanguageModel } from '../language-model.ts';

export class LlamaAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;
  /** Qwen3 only. */
  readonly q_norm: RMSNorm | null = null;
  readonly k_norm: RMSNorm | null = null;
  readonly attnDropout: Dropout;

  constructor(
    gpu: Gpu,
    readonly config: LlamaConfig,
  ) {
    super(gpu);
    const { hiddenSize: C, numHeads: NQ, numKvHeads: NKV, headDim: HS, qkvBias: bias, oBias } = config;
    this.q_proj = this.addModule('q_proj', new Linear(gpu, C, NQ * HS, { bias, layout: 'out-in' }));
    this.k_proj = this.addModule('k_proj', new Linear(gpu, C, NKV * HS, { bias, layout: 'out-in' }));
    this.v_proj = this.addModule('v_proj', new Linear(gpu, C, NKV * HS, { bias, layout: 'out-in' }));
    this.o_proj = this.addModule('o_proj', new Linear(gpu, NQ * HS, C, { bias: oBias, layout: 'out-in' }));
    if (config.qkNorm) {
      this.q_norm = this.addModule('q_norm', new RMSNorm(gpu, HS, config.rmsNormEps));
      this.k_norm = this.addModule('k_norm', new RMSNorm(gpu, HS, config.rmsNormEps));
    }
    this.attnDropout = this.addModule('attn_dropout', new Dropout(gpu, config.attentionDropout));
  }

  /** q (B, NQ, T, HS) and k, v (B, NKV, T, HS), RoPE applied to q and k from position `past`. */
  private heads(x: Tensor, past: number): [Tensor, Tensor, Tensor] {
    const [B, T] = x.shape;
    const { numHeads: NQ, numKvHeads: NKV, headDim: HS, ropeTheta, ropeScaling } = this.config;
    // (B, T, n·HS) → (B, n, T, HS), each head's row normed first when a norm is given.
    const split = (t: Tensor, n: number, norm: RMSNorm | null) => {
      const heads = F.reshape(t, [B, T, n, HS]);
      return F.transpose12(norm ? norm.forward(heads) : heads);
    };
    const rope = (t: Tensor) => F.rope(t, ropeTheta, past, ropeScaling);
    const q = rope(split(this.q_proj.forward(x), NQ, this.q_norm)); // (B, NQ, T, HS)
    const k = rope(split(this.k_proj.forward(x), NKV, this.k_norm)); // (B, NKV, T, HS)
    const v = split(this.v_proj.forward(x), NKV, null); // (B, NKV, T, HS)
    return [q, k, v];
  }

  forward(x: Tensor): Tensor {
    const [q, k, v] = this.heads(x, 0);
    const scale = 1 / Math.sqrt(this.config.headDim);
    return this.o_proj.forward(causalAttention(q, k, v, { scale, dropout: this.attnDropout })); // (B, T, C)
  }

  /** Generation: x (1, n, C) for the next n positions, attending through the KV cache. */
  forwardCached(x: Tensor, cache: KvCache, layer: number): Tensor {
    const [q, k, v] = this.heads(x, cache.length);
    const cached = cache.append(layer, k, v); // (1, NKV, maxT, HS) each
    const scale = 1 / Math.sqrt(this.config.headDim);
    const y = causalAttention(q, cached.k, cached.v, { scale, dropout: this.attnDropout, past: cached.past }); // (1, n, NQ·HS)
    return this.o_proj.forward(y); // (1, n, C)
  }
}

export class LlamaMlp extends Module {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;

  constructor(gpu: Gpu, config: LlamaConfig) {
    super(gpu);
    const { hiddenSize: C, intermediateSize: FF, mlpBias: bias } = config;
    this.gate_proj = this.addModule('gate_proj', new Linear(gpu, C, FF, { bias, layout: 'out-in' }));
    this.up_proj = this.addModule('up_proj', new Linear(gpu, C, FF, { bias, layout: 'out-in' }));
    this.down_proj = this.addModule('down_proj', new Linear(gpu, FF, C, { bias, layout: 'out-in' }));
  }

  forward(x: Tensor): Tensor {
    return this.down_proj.forward(F.swiglu(this.gate_proj.forward(x), this.up_proj.forward(x))); // (B, T, C)
  }
}

export class LlamaBlock extends Module {
  readonly input_layernorm: RMSNorm;
  readonly self_attn: LlamaAttention;
  readonly post_attention_layernorm: RMSNorm;
  readonly mlp: LlamaMlp;

  constructor(gpu: Gpu, config: LlamaConfig) {
    super(gpu);
    this.input_layernorm = this.addModule(
      'input_layernorm',
      new RMSNorm(gpu, config.hiddenSize, config.rmsNormEps),
    );
    this.self_attn = this.addModule('self_attn', new LlamaAttention(gpu, config));
    this.post_attention_layernorm = this.addModule(
      'post_attention_layernorm',
      new RMSNorm(gpu, config.hiddenSize, config.rmsNormEps),
    );
    this.mlp = this.addModule('mlp', new LlamaMlp(gpu, config));
  }

  forward(x: Tensor): Tensor {
    const h = F.add(x, this.self_attn.forward(this.input_layernorm.forward(x)));
    return F.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }

  forwardCached(x: Tensor, cache: KvCache, layer: number): Tensor {
    const h = F.add(x, this.self_attn.forwardCached(this.input_layernorm.forward(x), cache, layer));
    return F.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

/** HF's LlamaModel: the decoder stack under the `model.` prefix. */
class LlamaDecoder extends Module {
  readonly embed_tokens: Embedding;
  readonly layers: LlamaBlock[];
  readonly norm: RMSNorm;

  constructor(gpu: Gpu, config: LlamaConfig) {
    super(gpu);
    this.embed_tokens = this.addModule(
      'embed_tokens',
      new Embedding(gpu, config.vocabSize, config.hiddenSize),
    );
    this.layers = Array.from({ length: config.numLayers }, (_, i) =>
      this.addModule(`layers.${i}`, new LlamaBlock(gpu, config)),
    );
    this.norm = this.addModule('norm', new RMSNorm(gpu, config.hiddenSize, config.rmsNormEps));
  }
}

export class LlamaModel extends Module implements LanguageModel {
  readonly kind = 'llama';
  /** The transformers classes this checkpoint is saved as (config.json architectures). */
  readonly hfClasses: { causalLm: string; classifier: string };
  readonly model: LlamaDecoder;
  /** Present only when the checkpoint's lm_head is not tied to embed_tokens. */
  readonly lmHead: Linear | null;

  /** Recompute each block's activations in backward instead of keeping them (--gradient-checkpointing). */
  gradientCheckpointing = false;

  constructor(
    gpu: Gpu,
    readonly config: LlamaConfig,
  ) {
    super(gpu);
    this.hfClasses = HF_CLASSES[config.modelType];
    this.model = this.addModule('model', new LlamaDecoder(gpu, config));
    this.lmHead = config.tieWordEmbeddings
      ? null
      : this.addModule(
          'lm_head',
          new Linear(gpu, config.hiddenSize, config.vocabSize, { bias: false, layout: 'out-in' }),
        );
  }

  /** Final hidden states (B, T, C) after the last RMSNorm, for ids (B, T) i32. */
  hidden(ids: Tensor): Tensor {
    if (ids.shape.length !== 2 || ids.dtype !== 'i32') {
      throw new ShapeError(`llama: ids, expected i32 (B, T), got ${ids.dtype} [${ids.shape.join(', ')}]`);
    }
    if (ids.shape[1] > this.config.maxPositions) {
      throw new ShapeError(
        `llama: sequence length, expected ≤ max_position_embeddings ${this.config.maxPositions}, got ${ids.shape[1]}`,
      );
    }
    let x = this.model.embed_tokens.forward(ids); // (B, T, C)
    x = throughBlocks(this.model.layers, x, this.gradientCheckpointing);
    return this.model.norm.forward(x);
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get hiddenSize(): number {
    return this.config.hiddenSize;
  }

  get contextLength(): number {
    return this.config.maxPositions;
  }

  get numLayers(): number {
    return this.config.numLayers;
  }

  get rawConfig(): Record<string, unknown> {
    return this.config.raw;
  }

  layerIndex(name: string): number | null {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    return m ? Number(m[1]) : null;
  }

  isEmbedding(name: string): boolean {
    return name === 'model.embed_tokens.weight';
  }

  /** Llama's only dropout is on the attention probabilities (attention_dropout). */
  setDropout(p: number): void {
    for (const block of this.model.layers) block.self_attn.attnDropout.p = p;
  }

  createCache(maxT = this.config.maxPositions): KvCache {
    const { numLayers, numKvHeads, headDim, maxPositions } = this.config;
    return new KvCache(this.gpu, numLayers, numKvHeads, Math.min(maxT, maxPositions), headDim);
  }

  /** Generation step (call inside noGrad): feed `ids` after the cached tokens, get logits (1, n, V). */
  forwardCached(ids: number[], cache: KvCache): Tensor {
    const n = ids.length;
    if (cache.length + n > cache.maxT)
      throw new ShapeError(
        `llama: generation length, expected ≤ ${cache.maxT} tokens, got ${cache.length + n}`,
      );
    const idT = Tensor.from(this.gpu, Int32Array.from(ids), [1, n], { label: 'ids' });
    let x = this.model.embed_tokens.forward(idT); // (1, n, C)
    this.model.layers.forEach((block, layer) => (x = block.forwardCached(x, cache, layer)));
    cache.length += n;
    return this.logits(this.model.norm.forward(x));
  }

  /** Next-token logits (B, T, V). */
  forward(ids: Tensor): Tensor {
    return this.logits(this.hidden(ids));
  }

  logits(hidden: Tensor): Tensor {
    return F.matmul(hidden, this.headWeight(), { transB: true });
  }

  /** The LM head's weight (V, C): the untied lm_head's, else the token embedding's (tied). */
  headWeight(): Tensor {
    return this.lmHead ? this.lmHead.weight : this.model.embed_tokens.weight;
  }
}
