// Causal-LM batches from examples: padded to the longest example of each batch, or packed into rows of exactly
// maxLength. Position t of a row is trained to predict the token at t + 1 when that token is a target.

import { InputError } from '../util/errors.ts';
import { type Example } from './dataset.ts';
import { checkPositiveInt } from '../util/check-args.ts';
import { shuffled } from './splits.ts';

export const IGNORE_INDEX = -100;

export interface LmBatch {
  ids: Int32Array; // (B·T)
  targets: Int32Array; // (B·T), IGNORE_INDEX where not a target
  B: number;
  T: number;
  tokens: number; // targets that are not IGNORE_INDEX
}

export interface LmBatchOptions {
  batchSize: number; // rows per batch (the last batch may have fewer)
  maxLength: number; // T with packing; the longest example allowed without
  packing: boolean;
  shuffle: boolean;
  seed: number;
  padId: number;
}

/** Targets of one example, aligned with its ids: targets[t] = ids[t + 1] where mask[t + 1] = 1. */
function exampleTargets(e: Example): number[] {
  return e.ids.map((_, t) => (t + 1 < e.ids.length && e.mask[t + 1] === 1 ? e.ids[t + 1] : IGNORE_INDEX));
}

function makeBatch(rows: { ids: number[]; targets: number[] }[], T: number, padId: number): LmBatch {
  const B = rows.length;
  const ids = new Int32Array(B * T).fill(padId); // (B·T)
  const targets = new Int32Array(B * T).fill(IGNORE_INDEX); // (B·T)
  let tokens = 0;
  rows.forEach((row, b) => {
    ids.set(row.ids, b * T);
    targets.set(row.targets, b * T);
    for (const t of row.targets) if (t !== IGNORE_INDEX) tokens++;
  });
  return { ids, targets, B, T, tokens };
}

export function checkBatchOptions(
  where: string,
  o: { batchSize: number; padId: number; maxLength?: number },
): void {
  checkPositiveInt(where, 'batchSize', o.batchSize);
  if (o.maxLength !== undefined) checkPositiveInt(where, 'maxLength', o.maxLength);
  if (!Number.isInteger(o.padId) || o.padId < 0) {
    throw new InputError(`${where}: bad padId, expected a non-negative integer token id, got ${o.padId}`);
  }
}

/**
 * Batches for one pass over the examples (seeded shuffle first unless shuffle is false). Without packing each row
 * is one example, T is the longest in the batch, and an example over maxLength is an error (truncate first).
 * With packing the examples (each ending with EOS) are concatenated and cut into rows of exactly maxLength; the
 * last position of a row predicts the first token of the next, so every target survives; the last row is padded.
 */
export function lmBatches(examples: readonly Example[], options: LmBatchOptions): LmBatch[] {
  checkBatchOptions('lmBatches', options);
  const { batchSize, maxLength, padId } = options;
  const order = options.shuffle ? shuffled(examples, options.seed) : examples.slice();
  const batches: LmBatch[] = [];
  if (!options.packing) {
    order.forEach((e, i) => {
      if (e.ids.length > maxLength) {
        throw new InputError(
          `lmBatches: example ${i} is too long, expected at most maxLength ${maxLength} tokens, got ${e.ids.length}`,
          'truncate the examples first (truncateExamples) or turn packing on',
        );
      }
    });
    for (let i = 0; i < order.length; i += batchSize) {
      const chunk = order.slice(i, i + batchSize);
      const T = Math.max(...chunk.map((e) => e.ids.length));
      batches.push(
        makeBatch(
          chunk.map((e) => ({ ids: e.ids, targets: exampleTargets(e) })),
          T,
          padId,
        ),
      );
    }
    return batches;
  }
  const streamIds = order.flatMap((e) => e.ids);
  const streamTargets = order.flatMap(exampleTargets);
  // Targets are the next token's, so the last example's final token is never an input worth a row.
  const positions = Math.max(0, streamIds.length - 1);
  const rows: { ids: number[]; targets: number[] }[] = [];
  for (let start = 0; start < positions; start += maxLength) {
    const end = Math.min(start + maxLength, positions);
    rows.push({ ids: streamIds.slice(start, end), targets: streamTargets.slice(start, end) });
  }
  for (let i = 0; i < rows.length; i += batchSize)
    batches.push(makeBatch(rows.slice(i, i + batchSize), maxLength, padId));
  return batches;
}

/**
 * The trainer's per-epoch source: epoch e gets a batcher's batches with seed + e, so each epoch is shuffled
 * differently and reproducibly. The last epoch asked for is cached.
 */
export function epochBatches<E, O extends { seed: number }, B>(
  batcher: (examples: readonly E[], options: O) => B[],
  examples: readonly E[],
  options: O,
): (epoch: number) => B[] {
  let cached: { epoch: number; batches: B[] } | undefined;
  return (epoch) => {
    if (cached?.epoch !== epoch) {
      cached = { epoch, batches: batcher(examples, { ...options, seed: (options.seed + epoch) >>> 0 }) };
    }
    return cached.batches;
  };
}
