// The merge loop of GPT-2's published BPE encoder (merge every occurrence of the lowest-rank adjacent pair, left
// to right, then look again) in O(n log n) instead of O(n²): a binary heap of adjacent pairs keyed by (rank,
// position), a doubly linked list of symbols, and stale heap entries skipped when popped. Pairs that a rank's
// merges create are queued only once every occurrence of that rank is merged, since the published loop finds
// them on its next pass; so the ids are the published loop's for any merge table, not only a trained one.

/** rankOf(left, right): the merge rank of two adjacent symbols, -1 when they do not merge. */
export function bpeMerge(
  symbols: readonly number[],
  rankOf: (left: number, right: number) => number,
  resultOf: (rank: number) => number,
): number[] {
  const n = symbols.length;
  if (n < 2) return symbols.slice();
  const sym = Int32Array.from(symbols);
  const next = Int32Array.from(sym, (_, i) => (i + 1 < n ? i + 1 : -1)); // -1: last, or merged away
  const prev = Int32Array.from(sym, (_, i) => i - 1);
  // A pair is keyed by its left symbol's index, which orders pairs as the text does; rank * n + left is exact
  // below 2^53 and sorts by rank, then position.
  const key = (left: number): number => {
    const right = next[left];
    const rank = right < 0 ? -1 : rankOf(sym[left], sym[right]);
    return rank < 0 ? -1 : rank * n + left;
  };
  const heap = new KeyHeap();
  for (let i = 0; i + 1 < n; i++) heap.push(key(i));
  const touched: number[] = []; // left indices of pairs this pass changed, queued after it
  while (heap.size > 0) {
    const top = heap.peek();
    const rank = (top - (top % n)) / n;
    while (heap.size > 0 && heap.peek() < (rank + 1) * n) {
      const entry = heap.pop();
      const left = entry % n;
      // Stale unless the same pair is still there: one rank is one (left, right) pair, and a merged-away
      // symbol has next = -1.
      if (key(left) !== entry) continue;
      const right = next[left];
      const after = next[right];
      sym[left] = resultOf(rank);
      next[left] = after;
      if (after >= 0) prev[after] = left;
      next[right] = -1;
      if (prev[left] >= 0) touched.push(prev[left]);
      touched.push(left);
    }
    for (const left of touched) heap.push(key(left));
    touched.length = 0;
  }
  const out: number[] = [];
  for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
  return out;
}

// A min-heap of non-negative integer keys; pushing -1 is a no-op, so callers can push key() unchecked.
class KeyHeap {
  private readonly keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  peek(): number {
    return this.keys[0];
  }

  push(k: number): void {
    if (k < 0) return;
    const h = this.keys;
    let i = h.length;
    h.push(k);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent] <= k) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = k;
  }

  pop(): number {
    const h = this.keys;
    const top = h[0];
    const last = h.pop()!;
    if (h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const c = l + 1 < h.length && h[l + 1] < h[l] ? l + 1 : l;
      if (h[c] >= last) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
    return top;
  }
}
