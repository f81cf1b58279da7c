// A loss chart on a <canvas>: train and validation loss by step. No library; redrawn in full on
// each point (a few hundred points at most).

export class LossChart {
  constructor(canvas, caption) {
    this.canvas = canvas;
    this.caption = caption;
    this.train = [];
    this.valid = [];
  }

  reset() { this.train = []; this.valid = []; this.draw(); }

  add({ step, train_loss: train, valid_loss: valid }) {
    if (typeof step !== "number") return;
    if (typeof train === "number") upsert(this.train, step, train);
    if (typeof valid === "number") upsert(this.valid, step, valid);
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const ctx = c.getContext("2d");
    const css = getComputedStyle(document.documentElement);
    const color = (name) => css.getPropertyValue(name).trim() || "#888";
    const W = c.width, H = c.height, L = 56, R = 16, T = 14, B = 34;
    ctx.clearRect(0, 0, W, H);
    const points = [...this.train, ...this.valid];
    c.dataset.points = String(points.length);
    c.dataset.trainPoints = String(this.train.length);
    c.dataset.validPoints = String(this.valid.length);
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = color("--muted");
    if (!points.length) {
      ctx.fillText("no loss reported yet", L, H / 2);
      this.caption.textContent = "";
      return;
    }
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
    let y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (y1 - y0 < 1e-6) { y0 -= 0.5; y1 += 0.5; }
    const pad = (y1 - y0) * 0.08; y0 -= pad; y1 += pad;
    const X = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const Y = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    ctx.strokeStyle = color("--line");
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i += 1) {
      const y = y0 + ((y1 - y0) * i) / 4;
      ctx.beginPath(); ctx.moveTo(L, Y(y)); ctx.lineTo(W - R, Y(y)); ctx.stroke();
      ctx.fillText(y.toFixed(3), 4, Y(y) + 4);
    }
    ctx.fillText(`step ${x0}`, L, H - 10);
    const last = `step ${x1}`;
    ctx.fillText(last, W - R - ctx.measureText(last).width, H - 10);
    line(ctx, this.train, X, Y, color("--train"));
    line(ctx, this.valid, X, Y, color("--valid"));
    const t = this.train.at(-1), v = this.valid.at(-1);
    this.caption.textContent = [t && `train ${t[1].toFixed(4)} at step ${t[0]}`, v && `validation ${v[1].toFixed(4)} at step ${v[0]}`]
      .filter(Boolean).join(" · ");
  }
}

function upsert(series, step, value) {
  const i = series.findIndex((p) => p[0] === step);
  if (i >= 0) series[i] = [step, value];
  else { series.push([step, value]); series.sort((a, b) => a[0] - b[0]); }
}

function line(ctx, series, X, Y, stroke) {
  if (!series.length) return;
  ctx.strokeStyle = stroke;
  ctx.fillStyle = stroke;
  ctx.lineWidth = 2;
  ctx.beginPath();
  series.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
  ctx.stroke();
  for (const [x, y] of series) { ctx.beginPath(); ctx.arc(X(x), Y(y), 2.5, 0, Math.PI * 2); ctx.fill(); }
}
