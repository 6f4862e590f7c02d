// #/learn/channels: one kernel per colour channel, each channel's result, and their sum plus a bias (one output
// channel of a Conv2D layer), with one output pixel taken apart. Numbers from the server (cnnlab.ref.conv2d).

import {labFrame, imagePicker, selfCheck, timed, speedNote, latest, numberGrid, loadPixels, api, h} from './common.js';
import {kernelEditor, parseNumber, weightShade, short} from './kernel.js';

const NAMES = ['red', 'green', 'blue'];
const TINT = {red: [255, 0, 0], green: [0, 200, 0], blue: [40, 90, 255]};
const id = (x) => [[0, 0, 0], [0, x, 0], [0, 0, 0]];
const fill = (x) => [[x, x, x], [x, x, x], [x, x, x]];
const edges = [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]];
/** Presets for the three kernels together. */
const TRIOS = [
  {key: 'edges', name: 'Edges on all three', about: 'the same edge kernel on every colour: outlines of any colour light up',
    kernels: [edges, edges, edges]},
  {key: 'gray', name: 'Colour to gray', about: 'one number in the middle of each kernel: 0.299 red + 0.587 green + 0.114 blue is the gray picture of the last page',
    kernels: [id(0.299), id(0.587), id(0.114)]},
  {key: 'red-green', name: 'Red minus green', about: 'red things come out bright, green things dark',
    kernels: [id(1), id(-1), id(0)]},
  {key: 'blur', name: 'Blur (1/27 each)', about: 'all 27 weights are 1/27: each output pixel is the average of a 3×3×3 block',
    kernels: [fill('1/27'), fill('1/27'), fill('1/27')]},
  {key: 'blue', name: 'Only blue', about: 'red and green kernels all zero: only the blue channel counts',
    kernels: [fill(0), fill(0), id(1)]},
];

export default async function page(view, {ctx}) {
  const {body} = labFrame(view, 'channels',
    'A colour picture is three pictures stacked together: how much red, how much green and how much blue each pixel ' +
    'has. A convolution layer that reads it has one kernel for each colour. Each kernel slides over its own colour, ' +
    'exactly as on the last page, and the three results are added up, plus one more number, the bias. Together they ' +
    'make one output picture.',
    h('p', {}, 'So a "3×3 kernel" on a colour picture is really ', h('strong', {}, '3×3×3 = 27 weights, plus 1 bias'),
      ': 28 numbers the network learns. A layer that makes 16 output pictures (16 output channels) has 16 such stacks ' +
      'of three kernels, each with its own bias: 16 × 28 = 448 numbers.'));
  const state = {info: null, row: 0, col: 0, data: null, stale: true};

  // ------------------------------------------------------------------ the three kernels, the bias
  const editors = NAMES.map((name) => kernelEditor({size: 3, sizes: [3], preset: 'edges', compact: true, name,
    label: `${name[0].toUpperCase()}${name.slice(1)} kernel`, onChange: () => { if (quiet) return; markTrio(null); refresh('kernel'); }}));
  let quiet = false;  // while a preset sets all three kernels: one update, not three
  const bias = h('input', {type: 'text', inputmode: 'decimal', class: 'kernel-box chan-bias', value: '0', autocomplete: 'off',
    'aria-label': 'Bias', oninput: () => {
      const ok = Number.isFinite(parseNumber(bias.value)) && Math.abs(parseNumber(bias.value)) <= 1000;
      bias.setAttribute('aria-invalid', String(!ok));
      if (ok) refresh('bias');
    }});
  const trioAbout = h('p', {class: 'muted small-text chan-trio-about'});
  const trioRow = h('div', {class: 'kernel-presets chan-trios', role: 'group', 'aria-label': 'Presets for all three kernels'},
    TRIOS.map((t) => h('button', {type: 'button', class: 'ghost small', dataset: {trio: t.key}, title: t.about,
      onclick: () => setTrio(t)}, t.name)));
  function markTrio(key) {
    for (const b of trioRow.children) b.setAttribute('aria-pressed', String(b.dataset.trio === key));
    const t = TRIOS.find((x) => x.key === key);
    trioAbout.textContent = t ? `${t.name}: ${t.about}.` : '';
  }
  function setTrio(t) {
    quiet = true;
    try { editors.forEach((e, c) => e.setValues(t.kernels[c])); } finally { quiet = false; }
    markTrio(t.key);
    refresh('kernel');
  }

  // ------------------------------------------------------------------ the pictures: channels, results, sum
  const marker = () => h('div', {class: 'chan-marker', 'aria-hidden': 'true'});
  const frame = (el, label) => h('div', {class: 'chan-pic', tabindex: '0', role: 'button', 'aria-label': `${label}: click to take this place apart`}, el, marker());
  const inputs = NAMES.map((name) => h('canvas', {class: 'lab-pixels chan-img', 'aria-label': `The ${name} channel`}));
  const colour = h('img', {class: 'lab-pixels chan-img', alt: 'Your picture'});
  const outs = NAMES.map((name) => h('img', {class: 'lab-pixels chan-img', alt: `The ${name} channel after its kernel`}));
  const sum = h('img', {class: 'lab-pixels chan-img chan-sum', alt: 'The sum: the output picture'});
  const outCaps = NAMES.map(() => h('div', {class: 'chan-cap'}));
  const sumCap = h('div', {class: 'chan-cap'});
  const note = speedNote();
  const head = (name, text) => h('h3', {class: `chan-head ${name}`}, h('span', {class: 'chan-chip', 'aria-hidden': 'true'}), text);
  const op = (text) => h('div', {class: 'chan-op', 'aria-hidden': 'true'}, text);
  const cols = NAMES.map((name, c) => h('div', {class: 'chan-col', dataset: {channel: name}},
    head(name, `${name[0].toUpperCase()}${name.slice(1)} channel`), frame(inputs[c], `The ${name} channel`),
    h('div', {class: 'chan-down', 'aria-hidden': 'true'}, '↓ its own kernel'), editors[c].element,
    h('div', {class: 'chan-down', 'aria-hidden': 'true'}, '↓'), frame(outs[c], `The ${name} result`), outCaps[c]));
  const sumCol = h('div', {class: 'chan-col chan-total'},
    head('all', 'Your picture'), frame(colour, 'Your picture'),
    h('div', {class: 'chan-down', 'aria-hidden': 'true'}, '↓ all three, added'),
    h('label', {class: 'chan-bias-label'}, h('span', {}, 'plus the bias'), bias),
    h('p', {class: 'muted small-text chan-count'}, '3 × 9 = 27 weights + 1 bias = 28 numbers for this one output picture.'),
    h('div', {class: 'chan-down', 'aria-hidden': 'true'}, '↓'), frame(sum, 'The sum'), sumCap, note);
  const grid = h('div', {class: 'chan-grid'}, cols[0], op('+'), cols[1], op('+'), cols[2], op('='), sumCol);

  const grayNote = h('section', {class: 'card chan-gray', hidden: true, 'aria-live': 'polite'},
    h('h2', {}, 'This picture is gray'),
    h('p', {}, 'A gray picture has only one channel, so there is nothing to add up here. Pick a colour picture to see ' +
      'three kernels at work, one per colour.'),
    h('button', {type: 'button', class: 'primary', dataset: {action: 'use-cat'}, onclick: () => {
      const cat = view.querySelector('[data-image="sample-cat"]');
      if (cat) cat.click();
    }}, 'Use the cat'));
  const main = h('section', {class: 'card chan-main', 'aria-label': 'Three kernels, one per colour'},
    h('h2', {}, 'One kernel per colour, then add them up'),
    h('div', {class: 'chan-trio-bar'}, h('span', {class: 'muted small-text'}, 'Set all three kernels:'), trioRow), trioAbout,
    grid);
  const example = h('div', {class: 'chan-example', 'aria-live': 'polite'});
  const exampleCard = h('section', {class: 'card chan-example-card', 'aria-label': 'One output pixel, taken apart'},
    h('h2', {}, 'One output pixel, taken apart'),
    h('p', {class: 'muted'}, 'Click any picture above to choose the place. Each colour has its own 3×3 window and its ' +
      'own kernel; each window × kernel, added up, gives one number per colour. The three numbers and the bias, added, ' +
      'are the output pixel.'),
    example);
  body.append(imagePicker((info) => pick(info)).element, grayNote, main, exampleCard,
    selfCheck({
      question: 'A Conv2D layer with 3×3 kernels reads a colour picture and makes 4 output channels. How many numbers does it learn, weights and biases together?',
      answer: 112,
      why: 'Each output channel has 3×3×3 = 27 weights and 1 bias, so 28 numbers; 4 output channels make 4 × 28 = 112.',
      hint: 'One output channel needs a 3×3 kernel for each of the 3 colours, plus 1 bias. Then count that 4 times.'}));

  // ------------------------------------------------------------------ talking to the server
  // only a new place leaves the pictures as they are; anything else marks them stale (latest() may merge calls)
  const refresh = (label) => { if (label !== 'position') state.stale = true; return update(label); };
  const update = latest((label) => {
    if (!state.info || state.info.channels !== 3 || !ctx.alive()) return null;
    if (!editors.every((e) => e.valid()) || !Number.isFinite(parseNumber(bias.value))) return null;
    const pictures = state.stale || !state.data;
    state.stale = false;
    return timed(label, async () => {
      const kernels = editors.map((e) => e.values());
      let data;
      try {
        data = await api.post('/api/learn/channels', {image: state.info.id, kernels, bias: parseNumber(bias.value),
          row: state.row, col: state.col, pictures});
      } catch (err) { state.stale = state.stale || pictures; throw err; }
      if (!ctx.alive()) return;
      if (pictures) {
        state.data = data;
        await Promise.all([...outs.map((img, c) => { img.src = data.channels[c].png; return img.decode().catch(() => {}); }),
          (sum.src = data.sum.png, sum.decode().catch(() => {}))]);
        data.channels.forEach((r, c) => caption(outCaps[c], r));
        caption(sumCap, data.sum);
      }
      drawExample(data.example, kernels);
      placeMarkers();
    }, note);
  });

  async function pick(info) {
    state.info = info;
    const gray = info.channels !== 3;
    grayNote.hidden = !gray; main.hidden = gray; exampleCard.hidden = gray;
    if (gray) return;
    state.row = info.height >> 1; state.col = info.width >> 1;
    const zoom = Math.max(1, Math.floor(256 / Math.max(info.height, info.width)));
    for (const el of grid.querySelectorAll('.chan-pic')) el.style.maxWidth = `${info.width * zoom + 2}px`;  // + the border
    colour.src = info.url;
    const pixels = await loadPixels(info);
    if (!ctx.alive() || state.info !== info) return;
    NAMES.forEach((name, c) => drawChannel(inputs[c], pixels, c, TINT[name]));
    await refresh('picture');
  }

  function drawChannel(canvas, {width, height, rgba}, c, tint) {
    canvas.width = width; canvas.height = height;
    const g = canvas.getContext('2d');
    const img = g.createImageData(width, height);
    for (let i = 0; i < width * height; i++) {
      const v = rgba[4 * i + c] / 255;
      img.data[4 * i] = tint[0] * v; img.data[4 * i + 1] = tint[1] * v; img.data[4 * i + 2] = tint[2] * v; img.data[4 * i + 3] = 255;
    }
    g.putImageData(img, 0, 0);
  }

  function caption(el, r) {
    const num = (v, key) => h('strong', {dataset: {[key]: String(v)}}, short(v));
    el.replaceChildren(
      h('span', {}, r.signed ? ['black = ', num(r.black, 'black'), ', gray = 0, white = +', num(r.white, 'white')]
        : ['black = 0, white = ', num(r.white, 'white')]),
      h('span', {class: 'muted'}, 'from ', num(r.min, 'min'), ' to ', num(r.max, 'max')));
  }

  // clicking a picture chooses the place to take apart (the result has the picture's size: padding 1)
  grid.addEventListener('click', (e) => {
    const pic = e.target.closest('.chan-pic');
    if (!pic || !state.info) return;
    const el = pic.firstChild, r = el.getBoundingClientRect();  // inside the border
    const y = (e.clientY - r.top - el.clientTop) / el.clientHeight, x = (e.clientX - r.left - el.clientLeft) / el.clientWidth;
    state.row = Math.max(0, Math.min(state.info.height - 1, Math.floor(y * state.info.height)));
    state.col = Math.max(0, Math.min(state.info.width - 1, Math.floor(x * state.info.width)));
    placeMarkers();
    refresh('position');
  });
  grid.addEventListener('keydown', (e) => {
    const moves = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
    if (!e.target.classList.contains('chan-pic') || !moves[e.key] || !state.info) return;
    e.preventDefault();
    const d = e.shiftKey ? 8 : 1;
    state.row = Math.max(0, Math.min(state.info.height - 1, state.row + d * moves[e.key][0]));
    state.col = Math.max(0, Math.min(state.info.width - 1, state.col + d * moves[e.key][1]));
    placeMarkers();
    refresh('position');
  });

  function placeMarkers() {
    const {height: H, width: W} = state.info;
    for (const m of grid.querySelectorAll('.chan-marker')) {
      const at = (f) => `calc(1px + ${f} * (100% - 2px))`;  // inside the picture's 1px border
      Object.assign(m.style, {left: at((state.col - 1) / W), top: at((state.row - 1) / H), width: `calc(${3 / W} * (100% - 2px))`, height: `calc(${3 / H} * (100% - 2px))`});
    }
  }

  function drawExample(ex, kernels) {
    const parts = ex.channels.map((p, c) => {
      const [r, g, b] = TINT[p.name];
      const shade = (v) => { const t = v / 255; const x = (k) => Math.round(k * t); return `rgb(${x(r)}, ${x(g)}, ${x(b)}); color: ${t > 0.6 && p.name !== 'blue' ? '#111' : '#fff'}`; };
      const top = Math.max(...kernels[c].flat().map(Math.abs));
      return h('div', {class: 'chan-part', dataset: {channel: p.name}},
        h('h3', {class: `chan-head ${p.name}`}, h('span', {class: 'chan-chip', 'aria-hidden': 'true'}), `${p.name[0].toUpperCase()}${p.name.slice(1)}`),
        h('div', {class: 'chan-part-eq'},
          numberGrid(p.window, {format: short, shade, label: `The ${p.name} window`}),
          h('span', {class: 'chan-eqop'}, '·'),
          numberGrid(p.kernel, {format: short, shade: (v) => weightShade(v, top), label: `The ${p.name} kernel`}),
          h('span', {class: 'chan-eqop'}, '='),
          h('strong', {class: 'chan-value', dataset: {value: String(p.value)}}, short(p.value))));
    });
    const signed = (v) => (v < 0 ? ` − ${short(-v)}` : ` + ${short(v)}`);
    const same = Math.abs(ex.total - ex.output) <= 1e-9 * Math.max(1, Math.abs(ex.output));
    Object.assign(example.dataset, {row: String(ex.row), col: String(ex.col)});
    example.replaceChildren(
      h('p', {class: 'chan-where'}, `At row ${ex.row}, column ${ex.col} (the orange squares above):`),
      h('div', {class: 'chan-parts'}, parts),
      h('div', {class: 'lab-formula chan-total-line'},
        `${short(ex.channels[0].value)}${signed(ex.channels[1].value)}${signed(ex.channels[2].value)}${signed(ex.bias)} (bias) = `,
        h('strong', {dataset: {total: String(ex.total)}}, short(ex.total))),
      h('p', {class: `small-text ${same ? 'conv-agree' : 'error-text'}`},
        'The sum picture, computed by conv2d with weights of shape (1, 3, 3, 3), has ',
        h('strong', {dataset: {output: String(ex.output)}}, short(ex.output)), ' at this place', same ? ': the same number. ✔' : '.'));
  }
}
