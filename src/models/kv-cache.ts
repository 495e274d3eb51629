// A key/value cache for generation: per layer, K and V of shape (NH_kv, maxT, HS), so a new token costs one
// attention row instead of recomputing the whole prefix. Attention reads it with a batch stride of maxT·HS.
import type { Gpu } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { matmulForward } from '../kernels/matmul.ts';
import { softmaxForward } from '../kernels/softmax.ts';
import { transposeForward } from '../kernels/transpose.ts';
import { Tensor } from '../autograd/tensor.ts';

export class KvCache {
  readonly k: GPUBuffer[];
  readonly v: GPUBuffer[];
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
    this.k = Array.from({ length: layers }, (_, l) => gpu.alloc(`kv_cache.${l}.k`, bytes, true));
    this.v = Array.from({ length: layers }, (_, l) => gpu.alloc(`kv_cache.${l}.v`, bytes, true));
  }

  /**
   * Attention of n new query rows against the cache after appending their k and v, all (1, NH, n, HS) head-major.
   * Only the two shapes generation needs: a prefill into an empty cache (causal) or one token at a time.
   * Returns y (1, n, NH·HS). queryHeadsPerKv > 1 is grouped-query attention (K/V shared, never repeated).
   */
  attend(layer: number, q: Tensor, k: Tensor, v: Tensor, scale: number): Tensor {
    const gpu = this.gpu;
    const [, NQ, n, HS] = q.shape;
    const NKV = this.heads;
    const past = this.length;
    if (past + n > this.maxT) throw new ShapeError(`kv cache: length, expected ≤ ${this.maxT} tokens, got ${past + n}`);
    if (past > 0 && n !== 1) throw new ShapeError(`kv cache: new tokens after the prefill, expected 1, got ${n}`);
    for (let h = 0; h < NKV; h++) {
      const dst = (h * this.maxT + past) * HS * 4;
      gpu.copy(k.buf(), this.k[layer], n * HS * 4, h * n * HS * 4, dst);
      gpu.copy(v.buf(), this.v[layer], n * HS * 4, h * n * HS * 4, dst);
    }
    const T = past + n;
    const group = NQ / NKV;
    const scores = Tensor.empty(gpu, [NQ, n, T], 'kv_cache.scores');
    const y = Tensor.empty(gpu, [NQ, n, HS], 'kv_cache.y');
    // Each KV head serves `group` consecutive query heads: treat those as extra rows of one batched matmul.
    const stride = this.maxT * HS;
    matmulForward(gpu, scores.buffer, q.buf(), this.k[layer], null, {
      batch: NKV, M: group * n, N: T, K: HS, transB: true, batchStrideA: group * n * HS, batchStrideB: stride,
    });
    const att = Tensor.empty(gpu, [NQ, n, T], 'kv_cache.att');
    softmaxForward(gpu, att.buffer, scores.buffer, { rows: NQ * n, cols: T, scale, causal: past === 0 && n > 1 });
    matmulForward(gpu, y.buffer, att.buffer, this.v[layer], null, {
      batch: NKV, M: group * n, N: HS, K: T, batchStrideA: group * n * T, batchStrideB: stride,
    });
    const out = Tensor.empty(gpu, [1, n, NQ * HS], 'kv_cache.out');
    transposeForward(gpu, out.buffer, y.buffer, { d0: 1, d1: NQ, d2: n, d3: HS });
    return out;
  }

  dispose(): void {
    for (const b of [...this.k, ...this.v]) this.gpu.destroy(b);
  }
}
