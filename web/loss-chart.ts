// A live loss chart on a <canvas>, drawn by hand: train loss per step and validation loss per evaluation, with
// axes, ticks and a legend. Redrawn whole on every new point (a few hundred points at most).

export interface Point {
  step: number;
  loss: number;
}

const SERIES = {
  train: { color: '#2563eb', label: 'train loss' },
  val: { color: '#ea580c', label: 'val loss' },
} as const;
export type SeriesName = keyof typeof SERIES;

const PAD = { left: 56, right: 16, top: 28, bottom: 36 }; // CSS pixels around the plot area

/** Ticks at multiples of 1, 2 or 5 × 10^k within [lo, hi], the spacing nearest to (hi - lo) / count. */
function ticks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const nearest = (a: number, b: number) =>
    Math.abs(Math.log(a / raw)) <= Math.abs(Math.log(b / raw)) ? a : b;
  const step = [1, 2, 5, 10].map((m) => m * mag).reduce(nearest);
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push(Number(t.toPrecision(12)));
  return out;
}

export class LossChart {
  readonly points: Record<SeriesName, Point[]> = { train: [], val: [] };
  /** The x axis reaches at least this step (the planned step count), so the chart does not rescale every step. */
  maxStep = 1;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.draw();
  }

  clear(maxStep: number): void {
    this.points.train = [];
    this.points.val = [];
    this.maxStep = Math.max(1, maxStep);
    this.draw();
  }

  add(series: SeriesName, step: number, loss: number): void {
    if (!Number.isFinite(loss)) return;
    this.points[series].push({ step, loss });
    this.draw();
  }

  draw(): void {
    const { canvas } = this;
    const dpr = globalThis.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '12px system-ui, sans-serif';

    const all = [...this.points.train, ...this.points.val];
    const plotW = width - PAD.left - PAD.right;
    const plotH = height - PAD.top - PAD.bottom;
    const xMax = Math.max(this.maxStep, ...all.map((p) => p.step));
    let yLo = Math.min(...all.map((p) => p.loss));
    let yHi = Math.max(...all.map((p) => p.loss));
    if (!all.length) [yLo, yHi] = [0, 1];
    const margin = Math.max((yHi - yLo) * 0.08, 0.05);
    yLo -= margin;
    yHi += margin;
    const x = (step: number) => PAD.left + (step / xMax) * plotW;
    const y = (loss: number) => PAD.top + (1 - (loss - yLo) / (yHi - yLo)) * plotH;

    // Grid and tick labels.
    ctx.strokeStyle = '#e5e7eb';
    ctx.fillStyle = '#4b5563';
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const t of ticks(yLo, yHi, 5)) {
      ctx.beginPath();
      ctx.moveTo(PAD.left, y(t));
      ctx.lineTo(PAD.left + plotW, y(t));
      ctx.stroke();
      ctx.fillText(t.toFixed(t !== 0 && Math.abs(t) < 0.1 ? 3 : 2), PAD.left - 6, y(t));
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of ticks(0, xMax, 8).filter(Number.isInteger)) {
      ctx.beginPath();
      ctx.moveTo(x(t), PAD.top);
      ctx.lineTo(x(t), PAD.top + plotH);
      ctx.stroke();
      ctx.fillText(String(t), x(t), PAD.top + plotH + 6);
    }
    ctx.strokeStyle = '#9ca3af';
    ctx.strokeRect(PAD.left, PAD.top, plotW, plotH);
    ctx.fillText('step', PAD.left + plotW / 2, height - 14);

    // Series: a line through the points, a dot on each.
    for (const [name, style] of Object.entries(SERIES) as [SeriesName, (typeof SERIES)[SeriesName]][]) {
      const pts = this.points[name];
      ctx.strokeStyle = ctx.fillStyle = style.color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      pts.forEach((p, i) => (i ? ctx.lineTo(x(p.step), y(p.loss)) : ctx.moveTo(x(p.step), y(p.loss))));
      ctx.stroke();
      for (const p of pts) {
        ctx.beginPath();
        ctx.arc(x(p.step), y(p.loss), name === 'val' ? 4 : 2.5, 0, 2 * Math.PI);
        ctx.fill();
      }
    }

    // Legend, top left, with the latest value of each series.
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    let lx = PAD.left;
    for (const [name, style] of Object.entries(SERIES) as [SeriesName, (typeof SERIES)[SeriesName]][]) {
      const last = this.points[name].at(-1);
      const text = `${style.label}${last ? ` ${last.loss.toFixed(3)}` : ''}`;
      ctx.fillStyle = style.color;
      ctx.fillRect(lx, PAD.top / 2 - 4, 12, 8);
      ctx.fillStyle = '#111827';
      ctx.fillText(text, lx + 16, PAD.top / 2);
      lx += 16 + ctx.measureText(text).width + 20;
    }
  }
}
