// GPT-2 (GPT2LMHeadModel) as a tree of Modules whose dotted names are the Hugging Face keys. Conv1D weights are
// stored [in, out] in HF files, which is our Linear 'in-out' layout: no transposes on load or save.
import type { Gpu } from '../../gpu/gpu.ts';
import { ShapeError } from '../../util/errors.ts';
import { Tensor } from '../../autograd/tensor.ts';
import * as F from '../../autograd/functional.ts';
import { Module } from '../../nn/module.ts';
import { Dropout, Embedding, LayerNorm, Linear } from '../../nn/layers.ts';
import { causalAttention } from '../../nn/attention.ts';
import { throughBlocks } from '../../nn/blocks.ts';
import type { Gpt2Config } from './config.ts';
import { KvCache } from '../kv-cache.ts';
import type { LanguageModel } from '../language-model.ts';

export class Attention extends Module {
  readonly c_attn: Linear;
  readonly c_proj: Linear;
  readonly attnDropout: Dropout;
  readonly residDropout: Dropout;

  constructor(
    gpu: Gpu,
    readonly config: Gpt2Config,
  ) {
    super(gpu);
    const C = config.nEmbd;
    this.c_attn = this.addModule('c_attn', new Linear(gpu, C, 3 * C, { layout: 'in-out' }));
    this.c_proj = this.addModule('c_proj', new Linear(gpu, C, C, { layout: 'in-out' }));
    this.attnDropout = this.addModule('attn_dropout', new Dropout(gpu, config.attnPdrop));
    this.residDropout = this.addModule('resid_dropout', new Dropout(gpu, config.residPdrop));
  }

  forward(x: Tensor): Tensor {
    const [B, T, C] = x.shape;
    const NH = this.config.nHead;
    const HS = C / NH;
    const qkv = this.c_attn.forward(x); // (B, T, 3C)
    const heads = (start: number) => F.transpose12(F.reshape(F.slice(qkv, start, C), [B, T, NH, HS])); // (B, NH, T, HS)
    const scale = this.config.scaleAttnWeights ? 1 / Math.sqrt(HS) : 1;
    const y = causalAttention(heads(0), heads(C), heads(2 * C), { scale, dropout: this.attnDropout }); // (B, T, C)
    return this.residDropout.forward(this.c_proj.forward(y));
  }

  /** Generation: x (1, n, C) for the next n positions, attending through the KV cache. */
  forwardCached(x: Tensor, cache: KvCache, layer: number): Tensor {
    const [, n, C] = x.shape;
    const NH = this.config.nHead;
    const HS = C / NH;
    const qkv = this.c_attn.forward(x); // (1, n, 3C)
    const heads = (start: number) => F.transpose12(F.reshape(F.slice(qkv, start, C), [1, n, NH, HS])); // (1, NH, n, HS)
    const scale = this.config.scaleAttnWeights ? 1 / Math.sqrt(HS) : 1;
    const cached = cache.append(layer, heads(C), heads(2 * C)); // (1, NH, maxT, HS) each
    const y = causalAttention(heads(0), cached.k, cached.v, {
      scale,
      dropout: this.attnDropout,
      past: cached.past,
    });
    return this.c_proj.forward(y); // (1, n, C)
  }
}

export class Mlp extends Module {
  readonly c_fc: Linear;
  readonly c_proj: Linear;
  readonly dropout: Dropout;

  constructor(gpu: Gpu, config: Gpt2Config) {
    super(gpu);
    this.c_fc = this.addModule('c_fc', new Linear(gpu, config.nEmbd, config.nInner, { layout: 'in-out' }));
    this.c_proj = this.addModule(
      'c_proj',
      new Linear(gpu, config.nInner, config.nEmbd, { layout: 'in-out' }),
    );
    this.dropout = this.addModule('dropout', new Dropout(gpu, config.residPdrop));
  }

  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.c_proj.forward(F.gelu(this.c_fc.forward(x))));
  }
}

export class Block extends Module {
  readonly ln_1: LayerNorm;
  readonly attn: Attention;
  readonly ln_2: LayerNorm;
  readonly mlp: Mlp;

  constructor(gpu: Gpu, config: Gpt2Config) {
    super(gpu);
    this.ln_1 = this.addModule('ln_1', new LayerNorm(gpu, config.nEmbd, config.layerNormEpsilon));
    this.attn = this.addModule('attn', new Attention(gpu, config));
    this.ln_2 = this.addModule('ln_2', new LayerNorm(gpu, config.nEmbd, config.layerNormEpsilon));
    this.mlp = this.addModule('mlp', new Mlp(gpu, config));
  }

  forward(x: Tensor): Tensor {
    const h = F.add(x, this.attn.forward(this.ln_1.forward(x)));
    return F.add(h, this.mlp.forward(this.ln_2.forward(h)));
  }

  forwardCached(x: Tensor, cache: KvCache, layer: number): Tensor {
    const h = F.add(x, this.attn.forwardCached(this.ln_1.forward(x), cache, layer));
    return F.add(h, this.mlp.forward(this.ln_2.forward(h)));
  }
}

class Transformer extends Module {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly h: Block[];
  readonly ln_f: LayerNorm;
  readonly drop: Dropout;

  constructor(gpu: Gpu, config: Gpt2Config) {
    super(gpu);
    this.wte = this.addModule('wte', new Embedding(gpu, config.vocabSize, config.nEmbd));
    this.wpe = this.addModule('wpe', new Embedding(gpu, config.nPositions, config.nEmbd));
    this.drop = this.addModule('drop', new Dropout(gpu, config.embdPdrop));
    this.h = Array.from({ length: config.nLayer }, (_, i) =>
      this.addModule(`h.${i}`, new Block(gpu, config)),
    );
    this.ln_f = this.addModule('ln_f', new LayerNorm(gpu, config.nEmbd, config.layerNormEpsilon));
  }
}

export class Gpt2Model extends Module implements LanguageModel {
  readonly kind = 'gpt2';
  readonly hfClasses = { causalLm: 'GPT2LMHeadModel', classifier: 'GPT2ForSequenceClassification' };
  readonly transformer: Transformer;
  /** Present only when the checkpoint's lm_head is not tied to wte. */
  readonly lmHead: Linear | null;

  /** Recompute each block's activations in backward instead of keeping them (--gradient-checkpointing). */
  gradientCheckpointing = false;

  constructor(
    gpu: Gpu,
    readonly config: Gpt2Config,
  ) {
    super(gpu);
    this.transformer = this.addModule('transformer', new Transformer(gpu, config));
    this.lmHead = config.tieWordEmbeddings
      ? null
      : this.addModule(
          'lm_head',
          new Linear(gpu, config.nEmbd, config.vocabSize, { bias: false, layout: 'out-in' }),
        );
  }

  /** Final hidden states (B, T, C) after ln_f, for ids (B, T) i32. */
  hidden(ids: Tensor): Tensor {
    const T = ids.shape[1];
    if (ids.shape.length !== 2 || ids.dtype !== 'i32') {
      throw new ShapeError(`gpt2: ids, expected i32 (B, T), got ${ids.dtype} [${ids.shape.join(', ')}]`);
    }
    if (T > this.config.nPositions) {
      throw new ShapeError(
        `gpt2: sequence length, expected ≤ n_positions ${this.config.nPositions}, got ${T}`,
      );
    }
    const t = this.transformer;
    const positions = Tensor.from(
      this.gpu,
      Int32Array.from({ length: T }, (_, i) => i),
      [T],
      { label: 'positions' },
    );
    let x = t.drop.forward(F.add(t.wte.forward(ids), t.wpe.forward(positions))); // (B, T, C)
    x = throughBlocks(t.h, x, this.gradientCheckpointing);
    return t.ln_f.forward(x);
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get hiddenSize(): number {
    return this.config.nEmbd;
  }

  get contextLength(): number {
    return this.config.nPositions;
  }

  get numLayers(): number {
    return this.config.nLayer;
  }

  get rawConfig(): Record<string, unknown> {
    return this.config.raw;
  }

  layerIndex(name: string): number | null {
    const m = /^transformer\.h\.(\d+)\./.exec(name);
    return m ? Number(m[1]) : null;
  }

  isEmbedding(name: string): boolean {
    return name === 'transformer.wte.weight' || name === 'transformer.wpe.weight';
  }

  setDropout(p: number): void {
    const t = this.transformer;
    t.drop.p = p;
    for (const block of t.h) {
      block.attn.attnDropout.p = p;
      block.attn.residDropout.p = p;
      block.mlp.dropout.p = p;
    }
  }

  createCache(maxT = this.config.nPositions): KvCache {
    const C = this.config.nEmbd;
    return new KvCache(
      this.gpu,
      this.config.nLayer,
      this.config.nHead,
      Math.min(maxT, this.config.nPositions),
      C / this.config.nHead,
    );
  }

  /** Generation step (call inside noGrad): feed `ids` after the cached tokens, get logits (1, n, V). */
  forwardCached(ids: number[], cache: KvCache): Tensor {
    const past = cache.length;
    const n = ids.length;
    if (past + n > cache.maxT)
      throw new ShapeError(`gpt2: generation length, expected ≤ ${cache.maxT} tokens, got ${past + n}`);
    const t = this.transformer;
    const idT = Tensor.from(this.gpu, Int32Array.from(ids), [1, n], { label: 'ids' });
    const positions = Tensor.from(
      this.gpu,
      Int32Array.from({ length: n }, (_, i) => past + i),
      [n],
      { label: 'positions' },
    );
    let x = F.add(t.wte.forward(idT), t.wpe.forward(positions)); // (1, n, C)
    t.h.forEach((block, layer) => (x = block.forwardCached(x, cache, layer)));
    cache.length += n;
    return this.logits(t.ln_f.forward(x));
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
    return this.lmHead ? this.lmHead.weight : this.transformer.wte.weight;
  }
}
