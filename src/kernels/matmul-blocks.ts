// A matmul whose operands pass the binding limit runs in blocks: rows [m0, m0 + M'), columns [n0, n0 + N') and the
// k slab [k0, k0 + K'), each operand bound as the window of elements the block reads or writes (gpu/ranges.ts).
// Every output still sums the same k in the same order, so a split product is bit-identical to the whole one unless
// the k slab itself must shrink. GPT-2's wte (V, C) is the case: the head's logits go by vocabulary rows of W.
import type { Gpu } from '../gpu/gpu.ts';
import { ShapeError } from '../util/errors.ts';
import { fitsWhole, window, type Binding } from '../gpu/ranges.ts';

/** Strides of one product, as the kernel reads them (see matmul-wgsl.ts). */
export interface BlockLayout {
  batch: number;
  M: number;
  N: number;
  K: number;
  strideA: number;
  strideB: number;
  strideOut: number;
  sAm: number;
  sAk: number;
  sBk: number;
  sBn: number;
  offA: number;
  offB: number;
  offOut: number;
  bytesB: 2 | 4;
}

export interface Block {
  m0: number;
  M: number;
  n0: number;
  N: number;
  k0: number;
  K: number;
  out: Binding;
  A: Binding;
  B: Binding;
  offA: number;
  offB: number;
  offOut: number;
}

type Operand = 'out' | 'A' | 'B';

/** Elements one operand's block spans from its first, for runs of m, n, k. */
function span(p: BlockLayout, which: Operand, m: number, n: number, k: number): number {
  if (which === 'A') return (p.batch - 1) * p.strideA + (m - 1) * p.sAm + (k - 1) * p.sAk + 1;
  if (which === 'B') return (p.batch - 1) * p.strideB + (k - 1) * p.sBk + (n - 1) * p.sBn + 1;
  return (p.batch - 1) * p.strideOut + (m - 1) * p.N + n;
}

/**
 * The blocks of one product over k slabs of at most `slab`, in order (k outermost, as the slabs accumulate). One
 * block per slab binding whole buffers when each fits one binding; else runs of m, n (and k, only if a single row
 * is still too wide) halved until every operand's window fits.
 */
export function matmulBlocks(
  gpu: Gpu,
  p: BlockLayout,
  buffers: Record<Operand, GPUBuffer>,
  slab: number,
): Block[] {
  const whole = {
    out: fitsWhole(gpu, buffers.out),
    A: fitsWhole(gpu, buffers.A),
    B: fitsWhole(gpu, buffers.B),
  };
  let [mRun, nRun, kRun] = [p.M, p.N, Math.min(slab, p.K)];
  const room = gpu.maxBindingBytes - gpu.limits.minStorageBufferOffsetAlignment;
  const bytes = (w: Operand) => span(p, w, mRun, nRun, kRun) * (w === 'B' ? p.bytesB : 4);
  for (;;) {
    const over = (['out', 'A', 'B'] as const).find((w) => !whole[w] && bytes(w) > room);
    if (!over) break;
    // Halve the run whose stride makes the window long.
    const [first, second]: ['m' | 'n' | 'k', 'm' | 'n' | 'k'] =
      over === 'out'
        ? ['m', 'n']
        : over === 'A'
          ? p.sAm >= p.sAk
            ? ['m', 'k']
            : ['k', 'm']
          : p.sBn >= p.sBk
            ? ['n', 'k']
            : ['k', 'n'];
    const runs = { m: mRun, n: nRun, k: kRun };
    const dim = runs[first] > 1 ? first : runs[second] > 1 ? second : null;
    if (!dim || p.batch > 1) {
      throw new ShapeError(
        `matmul: ${over} '${buffers[over].label}' window, expected at most ${room} bytes (binding limit less the alignment), got ${bytes(over)}`,
        p.batch > 1 ? 'batched products bind whole operands; split the batch' : undefined,
      );
    }
    if (dim === 'm') mRun = Math.ceil(mRun / 2);
    else if (dim === 'n') nRun = Math.ceil(nRun / 2);
    else kRun = Math.ceil(kRun / 2);
  }
  const blocks: Block[] = [];
  for (let k0 = 0; k0 < p.K; k0 += kRun) {
    const K = Math.min(kRun, p.K - k0);
    for (let m0 = 0; m0 < p.M; m0 += mRun) {
      const M = Math.min(mRun, p.M - m0);
      for (let n0 = 0; n0 < p.N; n0 += nRun) {
        const N = Math.min(nRun, p.N - n0);
        const firsts = {
          A: p.offA + m0 * p.sAm + k0 * p.sAk,
          B: p.offB + k0 * p.sBk + n0 * p.sBn,
          out: p.offOut + m0 * p.N + n0,
        };
        const bind = (w: Operand) =>
          whole[w]
            ? { binding: buffers[w] as Binding, skip: firsts[w] }
            : window(gpu, buffers[w], firsts[w], span(p, w, M, N, K), w === 'B' ? p.bytesB : 4);
        const [out, A, B] = [bind('out'), bind('A'), bind('B')];
        blocks.push({
          m0,
          M,
          n0,
          N,
          k0,
          K,
          out: out.binding,
          A: A.binding,
          B: B.binding,
          offA: A.skip,
          offB: B.skip,
          offOut: out.skip,
        });
      }
    }
  }
  return blocks;
}
