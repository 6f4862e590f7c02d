// Line charts drawn by hand on a <canvas> (no chart library): learning curves, live and finished.

const COLORS = {train: '#3b5bdb', validation: '#e8590c', batch: '#a5b4fc', accuracy: '#2b8a3e'};
export {COLORS};

/**
 * A chart of one or more series. series: [{name, color, points: [[x, y], ...], thin?}].
 * Options: title, xLabel, yFormat (number -> text), yMin/yMax (fixed range; else from the data).
 * The canvas gets data-points (how many points are drawn) so tests and people can see it grow.
 */
export class LineChart {
  constructor(canvas, {title = '', xLabel = '', yFormat = (v) => v.toFixed(2), yMin = null, yMax = null} = {}) {
    this.canvas = canvas;
    this.options = {title, xLabel, yFormat, yMin, yMax};
    this.series = new Map();
    this.pending = false;
  }

  /** Add a series (or reset one) by name. */
  setSeries(name, {color, thin = false, points = []} = {}) {
    this.series.set(name, {name, color: color || '#333', thin, points: points.slice()});
    this.redraw();
  }

  /** Add one point to a series (created if needed). */
  add(name, x, y, style = {}) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (!this.series.has(name)) this.series.set(name, {name, color: style.color || '#333', thin: !!style.thin, points: []});
    this.series.get(name).points.push([x, y]);
    this.redraw();
  }

  clear() {
    this.series.clear();
    this.redraw();
  }

  /** How many points all series hold. */
  get count() {
    let n = 0;
    for (const s of this.series.values()) n += s.points.length;
    return n;
  }

  /** Draw on the next animation frame (many points may arrive at once). */
  redraw() {
    this.canvas.dataset.points = String(this.count);
    if (this.pending) return;
    this.pending = true;
    const draw = () => { this.pending = false; this.draw(); };
    if (typeof requestAnimationFrame === 'function' && !document.hidden) requestAnimationFrame(draw);
    else setTimeout(draw, 0);
  }

  draw() {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const cssW = c.clientWidth || 480;
    const cssH = c.clientHeight || 240;
    if (c.width !== Math.round(cssW * ratio) || c.height !== Math.round(cssH * ratio)) {
      c.width = Math.round(cssW * ratio);
      c.height = Math.round(cssH * ratio);
    }
    const g = c.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, cssW, cssH);
    const font = getComputedStyle(document.body).fontFamily;
    const all = [...this.series.values()].filter((s) => s.points.length);
    const pad = {left: 52, right: 14, top: this.options.title ? 40 : 14, bottom: 38};
    const w = cssW - pad.left - pad.right;
    const hgt = cssH - pad.top - pad.bottom;
    g.fillStyle = '#1f2430';
    g.font = `600 15px ${font}`;
    if (this.options.title) g.fillText(this.options.title, 12, 20);
    if (!all.length) {
      g.fillStyle = '#6b7280';
      g.font = `14px ${font}`;
      g.fillText('The curve appears here while the model learns.', pad.left, pad.top + hgt / 2);
      return;
    }
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const s of all) for (const [x, y] of s.points) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    if (this.options.yMin !== null) y0 = this.options.yMin;
    if (this.options.yMax !== null) y1 = Math.max(this.options.yMax, y1);
    if (this.options.yMin === null) y0 = Math.min(0, y0);
    if (y1 - y0 < 1e-9) y1 = y0 + 1;
    if (x1 - x0 < 1e-9) { x0 -= 0.5; x1 += 0.5; }
    const px = (x) => pad.left + ((x - x0) / (x1 - x0)) * w;
    const py = (y) => pad.top + hgt - ((y - y0) / (y1 - y0)) * hgt;

    // grid and y labels
    g.strokeStyle = '#e5e7eb';
    g.lineWidth = 1;
    g.fillStyle = '#4b5563';
    g.font = `12px ${font}`;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = y0 + ((y1 - y0) * i) / 4;
      const y = py(v);
      g.beginPath(); g.moveTo(pad.left, y); g.lineTo(pad.left + w, y); g.stroke();
      g.fillText(this.options.yFormat(v), pad.left - 6, y);
    }
    // x labels: whole numbers (epochs)
    g.textAlign = 'center';
    g.textBaseline = 'top';
    const span = x1 - x0;
    const stepX = Math.max(1, Math.ceil(span / 8));
    for (let x = Math.ceil(x0); x <= x1 + 1e-9; x += stepX) g.fillText(String(x), px(x), pad.top + hgt + 5);
    if (this.options.xLabel) g.fillText(this.options.xLabel, pad.left + w / 2, pad.top + hgt + 21);

    // lines
    for (const s of all) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.lineWidth = s.thin ? 1.5 : 2.5;
      g.beginPath();
      s.points.forEach(([x, y], i) => (i ? g.lineTo(px(x), py(y)) : g.moveTo(px(x), py(y))));
      g.stroke();
      if (!s.thin && s.points.length <= 30) for (const [x, y] of s.points) { g.beginPath(); g.arc(px(x), py(y), 3.5, 0, 2 * Math.PI); g.fill(); }
    }
    // legend, top right
    g.textAlign = 'left';
    g.textBaseline = 'middle';
    g.font = `13px ${font}`;
    let lx = pad.left + w;
    for (const s of [...all].reverse()) {
      const width = g.measureText(s.name).width + 26;
      lx -= width;
      g.fillStyle = s.color;
      const ly = this.options.title ? 16 : pad.top + 8;
      g.fillRect(lx, ly - 2, 14, 4);
      g.fillStyle = '#374151';
      g.fillText(s.name, lx + 18, ly);
    }
  }
}

/** Two charts (loss, accuracy) of a finished run's history: [{epoch, train_loss, val_loss, val_accuracy}...]. */
export function drawHistory(lossCanvas, accCanvas, history) {
  const loss = new LineChart(lossCanvas, {title: 'Loss (lower is better)', xLabel: 'epoch'});
  const acc = new LineChart(accCanvas, {title: 'Accuracy on validation photos', xLabel: 'epoch',
    yFormat: (v) => `${Math.round(100 * v)}%`, yMin: 0, yMax: 1});
  history.forEach((row, i) => {
    const x = row.epoch ?? i + 1;
    if (row.train_loss !== undefined) loss.add('training', x, row.train_loss, {color: COLORS.train});
    if (row.val_loss !== undefined) loss.add('validation', x, row.val_loss, {color: COLORS.validation});
    if (row.val_accuracy !== undefined) acc.add('validation', x, row.val_accuracy, {color: COLORS.accuracy});
    if (row.train_accuracy !== undefined) acc.add('training', x, row.train_accuracy, {color: COLORS.train});
  });
  return {loss, acc};
}
