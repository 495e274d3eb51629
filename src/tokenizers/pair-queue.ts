// A binary heap of merge candidates for SentencePiece BPE: highest priority first, then leftmost.

export class PairQueue {
  private readonly heap: { priority: number; left: number; merged: string }[] = [];

  push(priority: number, left: number, merged: string): void {
    const h = this.heap;
    h.push({ priority, left, merged });
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  pop(): { priority: number; left: number; merged: string } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    h[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.before(l, m)) m = l;
      if (r < h.length && this.before(r, m)) m = r;
      if (m === i) return top;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }

  private before(a: number, b: number): boolean {
    const x = this.heap[a];
    const y = this.heap[b];
    return x.priority > y.priority || (x.priority === y.priority && x.left < y.left);
  }
}
