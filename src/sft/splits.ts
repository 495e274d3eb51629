// Seeded shuffles and deterministic train/val/test splits (splitmix32). Browser-safe.
import { Rng } from '../util/random.ts';
import { InputError } from '../util/errors.ts';

/** A seeded Fisher–Yates shuffle (splitmix32); the input is left alone. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice();
  const rng = new Rng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export interface Splits<T> {
  train: T[];
  val: T[];
  test: T[];
}

/**
 * Deterministic split: a seeded shuffle picks round(n·ratio) rows (at least 1 for a ratio > 0) for test, then
 * val; the rest is train. Each split keeps file order.
 */
export function splitByRatios<T>(
  rows: readonly T[],
  options: { val: number; test: number; seed: number },
): Splits<T> {
  const { val, test, seed } = options;
  for (const [name, ratio] of [
    ['val', val],
    ['test', test],
  ] as const) {
    if (!(ratio >= 0 && ratio < 1))
      throw new InputError(`splitByRatios: bad ${name} ratio, expected 0 ≤ ratio < 1, got ${ratio}`);
  }
  const count = (ratio: number) => (ratio > 0 ? Math.max(1, Math.round(rows.length * ratio)) : 0);
  const nTest = count(test);
  const nVal = count(val);
  if (nTest + nVal >= rows.length) {
    throw new InputError(
      `splitByRatios: no rows left for train, expected val + test < ${rows.length} rows, got ${nVal} + ${nTest}`,
    );
  }
  const order = shuffled(
    rows.map((_, i) => i),
    seed,
  );
  const pick = (from: number, to: number) =>
    order
      .slice(from, to)
      .sort((a, b) => a - b)
      .map((i) => rows[i]);
  return { test: pick(0, nTest), val: pick(nTest, nTest + nVal), train: pick(nTest + nVal, rows.length) };
}
