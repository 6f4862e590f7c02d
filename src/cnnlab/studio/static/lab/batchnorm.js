// #/learn/batchnorm: 7. Batch norm and dropout. A small conv layer's activations on a batch of patches of the
// picture, before and after batch norm (cnnlab.ref.batch_norm, on the server); then 32 neurons dropped out at
// random, a new mask every training step (cnnlab.ref.dropout with seed = step), none in evaluation mode.

import {labFrame, imagePicker, selfCheck, timed, speedNote, latest, api, h, numberGrid} from './common.js';

const fmt = (v, d = 2) => (Math.abs(v) < 0.5 * 10 ** -d ? 0 : v).toFixed(d);
const STEP_MS = 333;  // ~3 training steps a second
const CHUNK = 30;  // dropout masks asked for at once

export default async function page(view, {ctx}) {
  const {body} = labFrame(view, 'batchnorm',
    'Inside a network, each layer hands its numbers to the next. Some channels give huge numbers, others tiny ones, ' +
    'and they shift whenever the layer before them learns something. Batch normalization fixes that: for every ' +
    'channel it takes the numbers of the whole mini-batch, subtracts their mean and divides by their spread, so ' +
    'they come out with mean 0 and standard deviation 1. It is applied before the activation (ReLU).',
    'Dropout is another trick used while training: it switches off neurons at random, a different set at every ' +
    'step, so the network cannot lean on any single neuron. When the model is used (evaluation), nothing is ' +
    'switched off.');

  let image = null;
  const picker = imagePicker((info) => { image = info; updateNorm(); restartDropout(); });
  body.append(picker.element);

  // ------------------------------------------------------------------------------ batch norm
  const picture = h('canvas', {class: 'bn-picture', 'aria-label': 'The picture with the patches of the batch'});
  const pictureImg = new Image();
  const normNote = speedNote();
  const slider = (label, name, min, max, step, value, show) => {
    const input = h('input', {type: 'range', min, max, step, value, name, 'aria-label': label});
    const out = h('output', {class: 'bn-value'}, show(Number(value)));
    input.addEventListener('input', () => { out.textContent = show(Number(input.value)); updateNorm(); });
    return {input, row: h('label', {class: 'lab-slider'}, h('span', {}, label), input, out)};
  };
  const batch = slider('Batch size (patches)', 'batch', 2, 64, 1, 16, (v) => `${v}`);
  const scale = slider('Brightness × a', 'scale', 0.1, 4, 0.1, 1, (v) => `× ${v.toFixed(1)}`);
  const shift = slider('Brightness + b', 'shift', -200, 200, 5, 0, (v) => `${v >= 0 ? '+' : '−'} ${Math.abs(v)}`);
  const channelsBox = h('div', {class: 'bn-channels'});
  const summary = h('p', {class: 'bn-summary', 'aria-live': 'polite'});
  body.append(h('section', {class: 'card bn-card', 'aria-label': 'Batch normalization'},
    h('h2', {}, 'Batch normalization: before and after'),
    h('p', {class: 'muted'}, 'A small convolution layer with 4 kernels looks at a mini-batch of patches (the squares on ' +
      'your picture). Each histogram counts its numbers: orange before batch norm, blue after. Change the brightness ' +
      'of the input: the orange numbers move a lot, the blue ones do not move at all.'),
    h('div', {class: 'bn-layout'},
      h('div', {class: 'bn-controls'}, picture, batch.row, scale.row, shift.row,
        h('div', {class: 'lab-formula'}, 'x′ = (x − mean of the batch) ÷ standard deviation'), summary, normNote),
      channelsBox)));

  const updateNorm = latest(async () => {
    if (!image || !ctx.alive()) return;
    await timed('batchnorm: histograms', async () => {
      const out = await api.post('/api/learn/batchnorm/norm', {image: image.id, batch: Number(batch.input.value),
        scale: Number(scale.input.value), shift: Number(shift.input.value)});
      if (!ctx.alive()) return;
      drawPicture(out);
      drawChannels(out);
    }, normNote);
  });

  function drawPicture(out) {
    const draw = () => {
      const zoom = Math.min(280 / out.width, 200 / out.height, 4);
      picture.width = Math.round(out.width * zoom); picture.height = Math.round(out.height * zoom);
      const g = picture.getContext('2d');
      g.imageSmoothingEnabled = zoom < 1;
      g.drawImage(pictureImg, 0, 0, picture.width, picture.height);
      g.lineWidth = 2; g.strokeStyle = '#f08c00';
      for (const [r, c] of out.positions) g.strokeRect(c * zoom + 1, r * zoom + 1, out.size * zoom - 2, out.size * zoom - 2);
    };
    if (pictureImg.dataset.src !== image.url) {
      pictureImg.dataset.src = image.url;
      pictureImg.onload = draw;
      pictureImg.src = image.url;
    } else if (pictureImg.complete) draw();
  }

  function drawChannels(out) {
    channelsBox.replaceChildren(...out.channels.map((c, i) => h('figure', {class: 'bn-channel', dataset: {channel: String(i)}},
      h('figcaption', {}, h('strong', {}, c.name), h('span', {class: 'muted'}, ` — ${c.about}`)),
      h('div', {class: 'bn-channel-row'},
        numberGrid(c.kernel, {label: `${c.name} kernel`, format: (v) => String(v)}),
        h('div', {class: 'bn-hists'},
          histogram(c.before, 'before', 'before batch norm'),
          histogram(c.after, 'after', 'after batch norm'))))));
    const spreads = out.channels.map((c) => c.before.std);
    summary.replaceChildren(
      `Before: the 4 channels' standard deviations run from ${fmt(Math.min(...spreads), 1)} to ${fmt(Math.max(...spreads), 1)}. `,
      h('strong', {}, 'After: every channel has mean 0 and standard deviation 1.'),
      ` (${out.batch} patches × ${out.size - 2}×${out.size - 2} numbers per channel.)`);
  }

  // ------------------------------------------------------------------------------ dropout
  const pSlider = h('input', {type: 'range', min: 0, max: 0.9, step: 0.05, value: 0.5, name: 'p', 'aria-label': 'Drop probability p'});
  const pOut = h('output', {class: 'bn-value'}, 'p = 0.50');
  const modeTrain = h('button', {type: 'button', class: 'small', 'aria-pressed': 'true', dataset: {mode: 'train'}}, 'Training mode');
  const modeEval = h('button', {type: 'button', class: 'small', 'aria-pressed': 'false', dataset: {mode: 'eval'}}, 'Evaluation mode');
  const play = h('button', {type: 'button', class: 'secondary small', dataset: {action: 'play'}}, '❚❚ Pause');
  const stepBtn = h('button', {type: 'button', class: 'ghost small', dataset: {action: 'step'}}, 'Next step ▶|');
  const layer = h('div', {class: 'bn-neurons', role: 'list', 'aria-label': 'The 32 neurons'});
  const dropInfo = h('p', {class: 'bn-drop-info', 'aria-live': 'off'});
  const dropNote = speedNote();
  body.append(h('section', {class: 'card bn-card', 'aria-label': 'Dropout'},
    h('h2', {}, 'Dropout: a different team every step'),
    h('p', {class: 'muted'}, 'These 32 neurons hold the brightness (0 to 1) of 32 parts of your picture. In training ' +
      'mode each neuron is switched off with probability p, a new random choice every step; the survivors are ' +
      'multiplied by 1 ÷ (1 − p) so that the total stays about the same. In evaluation mode nothing is dropped.'),
    h('div', {class: 'bn-drop-controls'},
      h('div', {class: 'bn-modes', role: 'group', 'aria-label': 'Mode'}, modeTrain, modeEval),
      h('label', {class: 'lab-slider bn-p'}, h('span', {}, 'Drop probability p'), pSlider, pOut),
      play, stepBtn),
    layer, dropInfo, dropNote));

  let training = true, playing = true, step = 0, steps = [], values = [], timer = null;
  const setMode = (t, restart = true) => {
    training = t;
    modeTrain.setAttribute('aria-pressed', String(t)); modeEval.setAttribute('aria-pressed', String(!t));
    modeTrain.className = t ? 'primary small' : 'ghost small'; modeEval.className = t ? 'ghost small' : 'primary small';
    play.disabled = stepBtn.disabled = !t;
    if (restart) restartDropout();
  };
  modeTrain.addEventListener('click', () => setMode(true));
  modeEval.addEventListener('click', () => setMode(false));
  setMode(true, false);
  pSlider.addEventListener('input', () => { pOut.textContent = `p = ${Number(pSlider.value).toFixed(2)}`; restartDropout(); });
  play.addEventListener('click', () => { playing = !playing; play.textContent = playing ? '❚❚ Pause' : '▶ Play'; });
  stepBtn.addEventListener('click', () => { playing = false; play.textContent = '▶ Play'; nextStep(); });

  // masks for steps [first, first + CHUNK) come in one request; the animation then only draws
  const fetchSteps = latest(async (first) => {
    if (!image || !ctx.alive()) return;
    await timed('batchnorm: dropout masks', async () => {
      const out = await api.post('/api/learn/batchnorm/dropout', {image: image.id, p: Number(pSlider.value), training,
        first, count: CHUNK});
      if (!ctx.alive()) return;
      values = out.values; steps = out.steps; step = first;
      drawLayer();
    }, dropNote);
  });
  function restartDropout() { fetchSteps(step); }
  function nextStep() {
    if (!steps.length) return;
    const i = step + 1 - steps[0].step;
    if (i >= steps.length) { fetchSteps(step + 1); return; }
    step += 1;
    drawLayer();
  }
  function drawLayer() {
    const s = steps[step - steps[0].step];
    if (!s) return;
    const p = Number(pSlider.value);
    layer.replaceChildren(...values.map((v, i) => {
      const kept = s.kept[i];
      const o = s.out[i];
      return h('div', {class: `bn-neuron${kept ? '' : ' off'}`, role: 'listitem', dataset: {index: String(i), value: String(o), kept: String(kept)},
        title: kept ? `in ${fmt(v)} → out ${fmt(o)}` : `in ${fmt(v)} → dropped (0)`},
      h('span', {class: 'bn-dot', style: `--v: ${Math.min(1, v)}`}), h('span', {class: 'bn-out'}, kept ? fmt(o) : '0'));
    }));
    const kept = s.kept.filter(Boolean).length;
    dropInfo.dataset.step = String(s.step);
    dropInfo.replaceChildren(training
      ? h('span', {}, h('strong', {}, `Training step ${s.step + 1}: `),
        `${kept} of 32 neurons kept, each × 1 ÷ (1 − ${p.toFixed(2)}) = × ${fmt(1 / (1 - p))}. `,
        `Sum in ${fmt(s.sum_in)}, sum out ${fmt(s.sum_out)}.`)
      : h('span', {}, h('strong', {}, 'Evaluation: '), `no neuron is dropped and nothing is scaled: sum in ${fmt(s.sum_in)}, sum out ${fmt(s.sum_out)}.`));
  }
  timer = setInterval(() => { if (playing && training && ctx.alive()) nextStep(); }, STEP_MS);
  ctx.onCleanup(() => clearInterval(timer));

  body.append(selfCheck({
    question: 'You make every pixel of the input twice as bright (brightness × 2). What happens to the numbers AFTER batch norm?',
    choices: ['They double too', 'They stay the same', 'They all become 0', 'They are halved'],
    answer: 1,
    why: 'The mean and the standard deviation of the batch double too, so (x − mean) ÷ std gives the same numbers. ' +
      'Try it with the "Brightness × a" slider: the blue histograms do not move.',
    hint: 'Move the "Brightness × a" slider and watch the blue histograms.',
  }));
}

/** A histogram as a small bar chart with its mean and standard deviation (data-* hold the exact numbers). */
function histogram(s, kind, title) {
  const w = 320, hgt = 74;
  const canvas = h('canvas', {width: w, height: hgt, class: 'bn-hist-canvas', 'aria-hidden': 'true'});
  const g = canvas.getContext('2d');
  const top = Math.max(...s.counts) || 1;
  const bw = w / s.counts.length;
  g.fillStyle = kind === 'before' ? '#f08c00' : '#4c4fd8';
  s.counts.forEach((c, i) => { const bh = (c / top) * (hgt - 2); g.fillRect(i * bw + 0.5, hgt - bh, bw - 1, bh); });
  // where zero is, when it is in range
  const lo = s.edges[0], hi = s.edges[s.edges.length - 1];
  if (lo < 0 && hi > 0) { const x = ((0 - lo) / (hi - lo)) * w; g.fillStyle = '#1f2430'; g.fillRect(x, 0, 1, hgt); }
  return h('div', {class: `bn-hist ${kind}`, dataset: {kind, mean: String(s.mean), std: String(s.std)}},
    h('div', {class: 'bn-hist-title'}, title),
    canvas,
    h('div', {class: 'bn-axis'}, h('span', {}, fmt(s.min, 1)), h('span', {}, fmt(s.max, 1))),
    h('div', {class: 'bn-stats'}, `mean ${fmt(s.mean)} · std ${fmt(s.std)}`));
}
