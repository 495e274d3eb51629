// A key/value cache for generation: per layer, K and V of shape (1, NH_kv, maxT, HS), so a new token costs one
// attention row instead of recomputing the whole prefix. The models append each step's k and v here and attend with
// nn/attention.ts's causalAttention over the cache's rows, the first `length` of them already filled.
import type { Gpu } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { Tensor } from '../autograd/tensor.ts';

export class KvCache {
  readonly k: Tensor[]; // (1, NH_kv, maxT, HS) per layer
  readonly v: Tensor[];
  /** Tokens already in the cache. */
  length = 0;

  constructor(
    readonly gpu: Gpu,
    readonly layers: number,
    readonly heads: number,
    readonly maxT: number,
    readonly headSize: number,
  ) {
    const bytes = heads * maxT * headSize * 4;
    const shape = [1, heads, maxT, headSize];
    const make = (l: number, name: string) => {
      const label = `kv_cache.${l}.${name}`;
      return new Tensor(gpu, gpu.alloc(label, bytes, true), shape, 'f32', false, label);
    };
    this.k = Array.from({ length: layers }, (_, l) => make(l, 'k'));
    this.v = Array.from({ length: layers }, (_, l) => make(l, 'v'));
  }

  /**
   * Write n new positions' k and v, (1, NH_kv, n, HS) head-major, after the `length` cached ones of this layer.
   * Returns the layer's whole K and V (1, NH_kv, maxT, HS) and `past`, for causalAttention(q, k, v, { past }).
   */
  append(layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor; past: number } {
    const [, , n, HS] = k.shape;
    const past = this.length;
    if (past + n > this.maxT)
      throw new ShapeError(`kv cache: length, expected ≤ ${this.maxT} tokens, got ${past + n}`);
    for (let h = 0; h < this.heads; h++) {
      const dst = (h * this.maxT + past) * HS * 4;
      this.gpu.copy(k.buf(), this.k[layer].buf(), n * HS * 4, h * n * HS * 4, dst);
      this.gpu.copy(v.buf(), this.v[layer].buf(), n * HS * 4, h * n * HS * 4, dst);
    }
    return { k: this.k[layer], v: this.v[layer], past };
  }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) this.gpu.destroy(t.buf());
  }
}
