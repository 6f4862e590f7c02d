// #/learn/normalization: gradient descent on the loss map of y = w*x + b, raw input beside normalized input, with
// one learning-rate slider; then the mean and standard deviation of the student's own picture, per channel.
// Paths, step counts and statistics come from the server (cnnlab.learn.lab.normalization, built on cnnlab.ref).

import {labFrame, h, api, imagePicker, selfCheck, timed, speedNote, latest, stepper} from './common.js';

const URL_LANDSCAPE = '/api/learn/normalization/landscape';
const URL_DESCENT = '/api/learn/normalization/descent';
const URL_STATS = '/api/learn/normalization/stats';
const START_EXPONENT = -100;  // lr = 0.1
const PRESETS = [0.00015, 0.01, 0.1, 0.5, 1.1];
const W = 480, H = 464, PAD = {left: 58, right: 14, top: 14, bottom: 42};  // a square plot: round looks round
const BANDS = 16;
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const CHANNEL_COLORS = {red: '#e03131', green: '#2f9e44', blue: '#1c7ed6', gray: '#495057'};

/** 0.00016, 0.1, 1.1: a learning rate in plain decimals, two significant digits. */
export function rate(lr) {
  return String(Number(lr.toPrecision(2)));
}

/** 12.3, 0.85, 1,234: a number for the page, a few significant digits. */
function num(v) {
  if (v === null || !Number.isFinite(v)) return '∞';
  const a = Math.abs(v);
  if (a >= 1e6) return v.toExponential(1).replace('e+', '×10^');
  if (a >= 100) return Math.round(v).toLocaleString('en');
  if (a >= 1) return v.toFixed(1);
  return String(Number(v.toPrecision(2)));
}

/** About five round values (1, 2 or 5 times a power of ten) between lo and hi, for the axes. */
function ticks(lo, hi) {
  const p = 10 ** Math.floor(Math.log10((hi - lo) / 6));
  const step = [1, 2, 5, 10, 20].map((m) => m * p).find((s) => (hi - lo) / s <= 6);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) out.push(Math.abs(t) < 1e-9 * step ? 0 : t);
  return out;
}

const tick = (t) => String(Number(t.toPrecision(6))).replace('-', '−');

/** About 1,080,000: a step count rounded to three significant digits. */
function about(n) {
  const digits = Math.max(0, String(n).length - 3);
  return (Math.round(n / 10 ** digits) * 10 ** digits).toLocaleString('en');
}

function palette(t) {
  const x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - i;
  return VIRIDIS[i].map((c, k) => c + (VIRIDIS[i + 1][k] - c) * f);
}

/** The loss map as an ImageData of the plot area: bands of equal log-loss, darker where a band ends (contours). */
function contourImage(side) {
  const pw = W - PAD.left - PAD.right, ph = H - PAD.top - PAD.bottom;
  const grid = side.log_loss, n = grid.length;
  let lo = Infinity, hi = -Infinity;
  for (const row of grid) for (const v of row) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  lo = Math.log10(side.minimum[2]);
  const band = new Int16Array(pw * ph);
  for (let py = 0; py < ph; py++) {
    const gy = (py / (ph - 1)) * (n - 1), y0 = Math.min(n - 2, Math.floor(gy)), fy = gy - y0;
    for (let px = 0; px < pw; px++) {
      const gx = (px / (pw - 1)) * (n - 1), x0 = Math.min(n - 2, Math.floor(gx)), fx = gx - x0;
      const v = (grid[y0][x0] * (1 - fx) + grid[y0][x0 + 1] * fx) * (1 - fy) +
        (grid[y0 + 1][x0] * (1 - fx) + grid[y0 + 1][x0 + 1] * fx) * fy;
      band[py * pw + px] = Math.min(BANDS - 1, Math.floor(((v - lo) / (hi - lo)) * BANDS));
    }
  }
  const img = new ImageData(pw, ph);
  for (let i = 0; i < pw * ph; i++) {
    const b = band[i];
    const edge = (i % pw < pw - 1 && band[i + 1] !== b) || (i + pw < pw * ph && band[i + pw] !== b);
    const [r, g, bl] = palette(b / (BANDS - 1));
    const mix = edge ? 0.75 : 0.42;  // share of white: light bands, darker contour lines
    const dark = edge ? 0.8 : 1;
    img.data[4 * i] = (r + (255 - r) * mix) * dark;
    img.data[4 * i + 1] = (g + (255 - g) * mix) * dark;
    img.data[4 * i + 2] = (bl + (255 - bl) * mix) * dark;
    img.data[4 * i + 3] = 255;
  }
  return img;
}

/** One side: its canvas, the loss map drawn once, draw(path, upTo) for the descent on top. */
function sidePanel(side, title, subtitle) {
  const canvas = h('canvas', {width: W, height: H, class: 'norm-canvas', role: 'img', dataset: {side: side.name},
    'aria-label': `Loss map of the ${side.name} input with the gradient descent path`});
  const verdict = h('p', {class: 'norm-verdict', dataset: {verdict: side.name}, 'aria-live': 'polite'});
  const readout = h('p', {class: 'norm-readout small-text', dataset: {readout: side.name}});
  const bestButton = h('button', {type: 'button', class: 'ghost small', dataset: {action: `best-${side.name}`}}, 'Use it');
  const best = h('p', {class: 'small-text muted norm-best'}, 'Its fastest learning rate: ',
    h('strong', {}, rate(side.best_lr)), ` (${side.best_steps === 1 ? '1 step' : `about ${about(side.best_steps)} steps`}) `,
    bestButton);
  const contours = contourImage(side);
  const [wlo, whi, blo, bhi] = side.box;
  const pw = W - PAD.left - PAD.right, ph = H - PAD.top - PAD.bottom;
  const clamp = (v) => Math.max(-1e5, Math.min(1e5, v));
  const X = (w) => clamp(PAD.left + ((w - wlo) / (whi - wlo)) * pw);
  const Y = (b) => clamp(PAD.top + ((bhi - b) / (bhi - blo)) * ph);
  const g = canvas.getContext('2d');

  function axes() {
    g.fillStyle = '#fff';
    g.fillRect(0, 0, W, H);
    g.putImageData(contours, PAD.left, PAD.top);
    g.strokeStyle = '#9aa0b4';
    g.strokeRect(PAD.left + 0.5, PAD.top + 0.5, pw - 1, ph - 1);
    g.fillStyle = '#3b4252';
    g.font = '12px system-ui, sans-serif';
    g.textAlign = 'center';
    g.textBaseline = 'top';
    for (const w of ticks(wlo, whi)) g.fillText(tick(w), X(w), PAD.top + ph + 5);
    g.font = '13px system-ui, sans-serif';
    g.fillText('weight w →', PAD.left + pw / 2, PAD.top + ph + 23);
    g.font = '12px system-ui, sans-serif';
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (const b of ticks(blo, bhi)) g.fillText(tick(b), PAD.left - 6, Y(b));
    g.save();
    g.translate(13, PAD.top + ph / 2);
    g.rotate(-Math.PI / 2);
    g.textAlign = 'center';
    g.font = '13px system-ui, sans-serif';
    g.fillText('bias b →', 0, 0);
    g.restore();
    // the minimum
    const [mw, mb] = side.minimum;
    g.font = '22px system-ui, sans-serif';
    g.textAlign = 'center';
    g.fillStyle = '#111';
    g.fillText('★', X(mw), Y(mb));
  }

  function draw(path, upTo) {
    axes();
    g.save();
    g.beginPath();
    g.rect(PAD.left, PAD.top, pw, ph);
    g.clip();
    const last = Math.min(upTo, path.length - 1);
    g.strokeStyle = '#d6336c';
    g.lineWidth = 2;
    g.beginPath();
    for (let i = 0; i <= last; i++) {
      const [w, b] = path[i];
      if (w === null || b === null) break;
      if (i === 0) g.moveTo(X(w), Y(b)); else g.lineTo(X(w), Y(b));
    }
    g.stroke();
    g.fillStyle = '#d6336c';
    for (let i = 1; i <= last; i++) {
      const [w, b] = path[i];
      if (w === null || b === null) break;
      g.beginPath();
      g.arc(X(w), Y(b), i === last ? 5.5 : 2.6, 0, 2 * Math.PI);
      g.fill();
    }
    const [sw, sb] = path[0];
    g.fillStyle = '#fff';
    g.strokeStyle = '#111';
    g.lineWidth = 2;
    g.beginPath();
    g.arc(X(sw), Y(sb), 6, 0, 2 * Math.PI);
    g.fill();
    g.stroke();
    g.restore();
    const [w, b, loss] = path[last];
    const ended = {arrived: ' (at the minimum)', diverged: ' (flew off)'}[panel.status] || '';
    readout.replaceChildren(h('strong', {}, `Step ${last}: `), `w = ${num(w)}, b = ${num(b)}, loss = ${num(loss)}`,
      upTo > last ? ended : '');
    readout.dataset.step = String(last);
    readout.dataset.loss = String(loss);
  }

  const element = h('section', {class: 'card norm-side', dataset: {side: side.name}},
    h('h2', {}, title), h('p', {class: 'small-text muted norm-sub'}, subtitle), canvas, verdict, readout, best);
  const panel = {element, draw, verdict, bestButton, status: ''};
  return panel;
}

export default async function page(view, {ctx}) {
  const {body} = labFrame(view, 'normalization',
    h('p', {}, 'Pixel values go from 0 to 255. ', h('strong', {}, 'Normalization'), ' replaces each value x by ',
      h('span', {class: 'lab-formula'}, 'x′ = (x − mean) / std'),
      ': afterwards the values have mean 0 and standard deviation 1, so most of them lie between −2 and 2.'),
    'Why bother? Training walks downhill on the loss, one small step at a time (gradient descent). Below is the ' +
    'smallest possible model, y = w·x + b, with one weight w and one bias b. It learns from real data: 1,438 ' +
    'handwritten digits of 8×8 pixels. x is a picture\'s average brightness, y the share of its pixels that are ' +
    'dark background (%).',
    'Each map shows the loss for every w (across) and b (up): dark is low, and the star ★ is the lowest point. The ' +
    'red path is gradient descent starting from w = 0, b = 0 (the white dot). Move the learning rate and watch both.');

  const loading = h('p', {class: 'muted', 'aria-live': 'polite'}, 'Loading the digits and drawing the loss maps…');
  body.append(loading);
  const land = await api.get(URL_LANDSCAPE);
  if (!ctx.alive()) return;
  loading.remove();
  const [raw, normed] = land.sides;
  const d = land.data;
  const panels = [
    sidePanel(raw, 'Raw input x', `x = average brightness, from 0 to 255 (here ${num(d.x_mean)} ± ${num(d.x_std)})`),
    sidePanel(normed, 'Normalized input x′', `x′ = (x − ${num(d.x_mean)}) / ${num(d.x_std)}: mean 0, std 1. ` +
      'Same scale on both axes.'),
  ];
  let paths = [[raw.start], [normed.start]];

  // ---------------------------------------------------------------- the learning rate
  const [kMin, kMax] = land.lr_exponents;
  const slider = h('input', {type: 'range', min: kMin, max: kMax, step: 1, value: START_EXPONENT,
    'aria-label': 'Learning rate (log scale)', dataset: {control: 'lr'}});
  const shown = h('output', {class: 'norm-lr', dataset: {lr: ''}});
  const note = speedNote();
  const lrOf = (k) => Math.max(1e-6, Number((10 ** (k / 100)).toPrecision(12)));
  const setRate = (lr) => { slider.value = String(Math.round(100 * Math.log10(lr))); update(); };
  const presets = h('div', {class: 'norm-presets'}, h('span', {class: 'small-text muted'}, 'Try:'),
    PRESETS.map((p) => h('button', {type: 'button', class: 'ghost small', dataset: {preset: String(p)}, onclick: () => setRate(p)}, rate(p))));
  panels[0].bestButton.addEventListener('click', () => setRate(raw.best_lr));
  panels[1].bestButton.addEventListener('click', () => setRate(normed.best_lr));

  const steps = stepper(1, (i) => panels.forEach((p, s) => p.draw(paths[s], i)), {label: 'Frame', delays: {slow: 400, normal: 120, fast: 40}});
  ctx.onCleanup(() => steps.stop());

  function verdicts(result) {
    result.sides.forEach((s, i) => {
      const v = panels[i].verdict;
      panels[i].status = s.steps === null ? 'diverged' : s.steps <= land.show_steps ? 'arrived' : '';
      v.dataset.steps = s.steps === null ? 'diverges' : String(s.steps);
      if (s.steps === null) {
        v.className = 'norm-verdict bad';
        v.replaceChildren('✘ Diverges: every step jumps past the valley further than the last, and the loss explodes.');
      } else if (s.never) {
        v.className = 'norm-verdict bad';
        v.replaceChildren('✘ Never gets there: the steps are too small to move at all.');
      } else if (s.steps <= land.show_steps) {
        v.className = 'norm-verdict good';
        v.replaceChildren(`✔ Reaches the minimum in ${s.steps === 1 ? '1 step' : `${s.steps} steps`}.`);
      } else {
        v.className = 'norm-verdict slow';
        v.replaceChildren(`… After ${land.show_steps} steps it is still far away: it would need about ${about(s.steps)} steps.`);
      }
    });
  }

  const update = latest(async () => {
    const lr = lrOf(Number(slider.value));
    shown.textContent = rate(lr);
    await timed('normalization-lr', async () => {
      const result = await api.post(URL_DESCENT, {lr});
      if (!ctx.alive()) return;
      paths = result.sides.map((s) => s.path);
      verdicts(result);
      shown.dataset.lr = String(result.lr);
      steps.stop();
      steps.setCount(Math.max(...paths.map((p) => p.length)));
      steps.go(Math.max(...paths.map((p) => p.length)) - 1);
    }, note);
  });
  slider.addEventListener('input', update);

  const controls = h('section', {class: 'card norm-controls'},
    h('label', {class: 'norm-lr-row'}, h('strong', {}, 'Learning rate'), slider, shown),
    presets,
    h('div', {class: 'norm-step-row'}, h('span', {class: 'small-text muted'}, 'Replay the walk:'), steps.element, note));

  // ---------------------------------------------------------------- the student's picture
  const statsBox = h('div', {class: 'norm-stats', 'aria-live': 'polite'});
  const statsNote = speedNote();
  const picker = imagePicker(latest((info) => timed('normalization-image', async () => {
    const s = await api.post(URL_STATS, {image: info.id});
    if (ctx.alive()) showStats(statsBox, s);
  }, statsNote)));

  body.append(controls,
    h('div', {class: 'norm-sides'}, panels.map((p) => p.element)),
    h('section', {class: 'card norm-why'},
      h('h2', {}, 'Why the raw side struggles'),
      h('p', {}, `On the left, w is multiplied by numbers near ${Math.round(d.x_mean)}, b only by 1. A tiny change of w ` +
        'moves every prediction a lot; b has to move far to matter. So the valley of low loss is long and thin. A step ' +
        'big enough to move b quickly makes w jump from one wall of the valley to the other and fly off (diverges). ' +
        'A step small enough for w hardly moves b: the walk zig-zags across the valley and then crawls along it.'),
      h('p', {}, 'On the right, after normalization, w and b matter equally: the bowl is round, the downhill ' +
        'direction points straight at the minimum, and a wide range of learning rates works. Neural networks are ' +
        'the same story with millions of weights: normalized inputs make training faster and more stable.')),
    h('section', {class: 'card norm-picture'},
      h('h2', {}, 'Your picture\'s mean and standard deviation'),
      h('p', {}, 'Every cnnlab model starts with a Normalize layer. For each colour channel it computes ',
        h('span', {class: 'lab-formula'}, 'x′ = (x − mean) / std'), ' with x in pixel units (0 to 255), using the ' +
        'mean and std of all the training photos (saved with the model). Here are the numbers for your picture ' +
        'alone, and its values before and after.'),
      picker.element, statsBox, statsNote),
    selfCheck({
      question: 'With the raw brightness (about 78) as input, why can no single learning rate make both w and b ' +
        'learn quickly?',
      choices: [
        'Because there are too few pictures in the data set.',
        'Because w is multiplied by big numbers and b by 1: a step that is safe for w is far too small for b.',
        'Because b must stay 0.',
        'Because gradient descent does not work for straight lines.',
      ],
      answer: 1,
      why: 'The loss changes much faster along w than along b, so the safe step is set by w. Normalizing x to ' +
        'mean 0 and std 1 makes both directions alike.',
      hint: 'Compare how much one small step of w and one small step of b change the prediction w·x + b.',
    }));

  update();
  // play the first walk once, from the start
  setTimeout(() => { if (ctx.alive()) { steps.go(0); steps.element.querySelector('[data-action=play]').click(); } }, 400);
}

/** The statistics table and the two histograms (before: pixel units; after: normalized units). */
function showStats(box, s) {
  const table = h('table', {class: 'norm-table', dataset: {stats: ''}},
    h('thead', {}, h('tr', {}, h('th', {}, 'Channel'), h('th', {}, 'mean'), h('th', {}, 'std'),
      h('th', {}, 'after: mean'), h('th', {}, 'after: std'))),
    h('tbody', {}, s.channels.map((c) => h('tr', {dataset: {channel: c.name}},
      h('th', {}, h('span', {class: 'norm-dot', style: `background: ${CHANNEL_COLORS[c.name]}`}), c.name),
      h('td', {dataset: {mean: String(c.mean)}}, c.mean.toFixed(1)),
      h('td', {dataset: {std: String(c.std)}}, c.std.toFixed(1)),
      h('td', {}, (Math.abs(c.after_mean) < 5e-4 ? 0 : c.after_mean).toFixed(3)),
      h('td', {}, c.after_std.toFixed(3))))));
  const before = histogram(s.channels.map((c) => [c.name, c.before]), [0, 256], [0, 64, 128, 192, 255],
    'Before: pixel values 0 to 255');
  const after = histogram(s.channels.map((c) => [c.name, c.after]), [-s.spread, s.spread], [-4, -2, 0, 2, 4],
    'After: (x − mean) / std');
  box.replaceChildren(table,
    h('div', {class: 'norm-hists'}, before, h('span', {class: 'norm-arrow', 'aria-hidden': 'true'}, '→'), after),
    h('p', {class: 'small-text muted norm-shape'}, 'The shape does not change: normalizing only slides the values to 0 and squeezes ' +
      'them to a spread of 1. Values outside −4 … 4 are counted in the end bars.'));
}

function histogram(series, [lo, hi], ticks, title) {
  const w = 420, ht = 190, pad = {left: 8, right: 8, top: 26, bottom: 24};
  const canvas = h('canvas', {width: w, height: ht, class: 'norm-hist', role: 'img', 'aria-label': title});
  const g = canvas.getContext('2d');
  const pw = w - pad.left - pad.right, ph = ht - pad.top - pad.bottom;
  const top = Math.max(1, ...series.flatMap(([, counts]) => counts));
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, ht);
  g.globalAlpha = series.length > 1 ? 0.45 : 0.8;
  for (const [name, counts] of series) {
    g.fillStyle = CHANNEL_COLORS[name];
    const bw = pw / counts.length;
    counts.forEach((c, i) => {
      const bh = (c / top) * ph;
      g.fillRect(pad.left + i * bw + 0.5, pad.top + ph - bh, bw - 1, bh);
    });
  }
  g.globalAlpha = 1;
  g.strokeStyle = '#9aa0b4';
  g.beginPath();
  g.moveTo(pad.left, pad.top + ph + 0.5);
  g.lineTo(pad.left + pw, pad.top + ph + 0.5);
  g.stroke();
  g.fillStyle = '#3b4252';
  g.font = '12px system-ui, sans-serif';
  g.textAlign = 'center';
  g.textBaseline = 'top';
  for (const t of ticks) g.fillText(String(t), pad.left + ((t - lo) / (hi - lo)) * pw, pad.top + ph + 5);
  g.font = '600 13px system-ui, sans-serif';
  g.textAlign = 'left';
  g.fillText(title, pad.left, 6);
  return canvas;
}
