// Comparing a GPU result with its float64 reference: relative L2 error, max abs/rel error, and the worst index with
// both values, so a failure says where and by how much (after llm.c's validate_result).
//
// A reduction whose terms cancel (a sum of mixed signs, a derivative at its zero) has a result far smaller than its
// terms, and f32 rounding is proportional to the terms, not to the result: its relative error is unbounded however
// exact the kernel. Such outputs pass `scale`, the same computation over the terms' absolute values (Σ|terms|), and
// the relative L2 error is taken against it: the classic bound |fl(Σ) − Σ| ≤ γₙ·Σ|terms|.

export interface Comparison {
  relL2: number;
  maxAbsError: number;
  maxRelError: number;
  worstIndex: number;
  got: number;
  want: number;
  nonFinite: number;
  length: number;
  /** True when relL2 is relative to a `scale` (Σ|terms|) rather than to the reference itself. */
  scaled: boolean;
}

export function compare(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  scale?: ArrayLike<number>,
): Comparison {
  if (got.length !== want.length) {
    throw new Error(`compare: length, expected ${want.length}, got ${got.length}`);
  }
  if (scale && scale.length !== want.length) {
    throw new Error(`compare: scale length, expected ${want.length}, got ${scale.length}`);
  }
  const norm = scale ?? want;
  let diff2 = 0;
  let ref2 = 0;
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  let nonFinite = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (!Number.isFinite(g) && Number.isFinite(w)) {
      nonFinite++;
      if (worst < 0 || Number.isFinite(got[worst])) worst = i;
      continue;
    }
    const d = Math.abs(g - w);
    diff2 += d * d;
    ref2 += norm[i] * norm[i];
    const rel = d / Math.max(Math.abs(w), 1e-30);
    if (d > maxAbs) {
      maxAbs = d;
      if (nonFinite === 0) worst = i;
    }
    if (rel > maxRel && d > 0) maxRel = rel;
  }
  const relL2 = nonFinite > 0 ? Infinity : ref2 > 0 ? Math.sqrt(diff2 / ref2) : Math.sqrt(diff2);
  return {
    relL2,
    maxAbsError: nonFinite > 0 ? Infinity : maxAbs,
    maxRelError: nonFinite > 0 ? Infinity : maxRel,
    worstIndex: worst,
    got: worst >= 0 ? got[worst] : 0,
    want: worst >= 0 ? want[worst] : 0,
    nonFinite,
    length: want.length,
    scaled: scale !== undefined,
  };
}

export function describeComparison(c: Comparison): string {
  const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));
  return (
    `relL2 ${fmt(c.relL2)}${c.scaled ? ' (vs Σ|terms|)' : ''}, max abs ${fmt(c.maxAbsError)}, max rel ${fmt(c.maxRelError)}, ` +
    `non-finite ${c.nonFinite}/${c.length}, worst [${c.worstIndex}] got ${c.got} want ${c.want}`
  );
}
