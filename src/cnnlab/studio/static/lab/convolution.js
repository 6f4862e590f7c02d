// #/learn/convolution: a kernel slid over a patch of the picture step by step (window, products, sum), the same
// kernel over the whole picture, and stride and padding with the output-size formula filled in.
// Every number comes from the server (cnnlab.ref.trace and conv2d): one answer holds all the patch's steps.

import {labFrame, imagePicker, selfCheck, timed, speedNote, latest, numberGrid, grayShade, stepper, api, h} from './common.js';
import {kernelEditor, weightShade, short} from './kernel.js';

const PATCH = 8;
const SHOW = 288;  // small pictures are zoomed by a whole factor up to about this many CSS pixels

export default async function page(view, {ctx}) {
  const {body} = labFrame(view, 'convolution',
    'A convolution slides a small grid of numbers, the kernel, over the picture. At each place, every pixel under ' +
    'the kernel is multiplied by the kernel number on top of it, and the products are added up. That sum is one ' +
    'pixel of the result. Then the kernel moves on and does it again.',
    'Different kernels find different things: edges, blur, sharp details. Pick a preset or type your own numbers ' +
    'and watch the whole picture change. In a CNN nobody types the kernel: the network learns its numbers itself.');
  const state = {info: null, top: 0, left: 0, stride: 1, padding: 0, data: null, zoom: 1, stale: true};

  // ------------------------------------------------------------------ the kernel, stride, padding
  const editor = kernelEditor({size: 3, sizes: [3, 5], preset: 'edges', label: 'Kernel', onChange: () => refresh('kernel')});
  const knob = (name, values, about) => {
    const group = h('div', {class: 'conv-seg', role: 'radiogroup', 'aria-label': name},
      values.map((v) => h('button', {type: 'button', role: 'radio', class: 'ghost small', dataset: {[name]: String(v)},
        'aria-checked': String(state[name] === v), onclick: () => {
          state[name] = v;
          for (const b of group.children) b.setAttribute('aria-checked', String(b.dataset[name] === String(v)));
          refresh(name);
        }}, String(v))));
    return h('div', {class: 'conv-knob'}, h('span', {class: 'conv-knob-name'}, name[0].toUpperCase() + name.slice(1)), group,
      h('span', {class: 'muted small-text'}, about));
  };
  const controls = h('div', {class: 'conv-controls'},
    h('h3', {}, 'Kernel'), editor.element,
    knob('stride', [1, 2, 3, 4], 'how far the window jumps each step'),
    knob('padding', [0, 1, 2, 3], 'rings of zeros put around the picture'));

  // ------------------------------------------------------------------ the whole picture, before and after
  const gray = h('img', {class: 'lab-pixels conv-img', alt: 'Your picture in gray', draggable: 'false'});
  const box = h('div', {class: 'conv-box', 'aria-hidden': 'true'});
  const grayWrap = h('div', {class: 'conv-pick', tabindex: '0', role: 'button',
    'aria-label': 'Your picture in gray: click, or use the arrow keys, to move the 8 by 8 patch'}, gray, box);
  const grayCaption = h('figcaption', {});
  const result = h('img', {class: 'lab-pixels conv-img conv-result', alt: 'The picture after the kernel'});
  const resultCaption = h('figcaption', {});
  const legend = h('div', {class: 'conv-legend'});
  const note = speedNote();
  const formula = h('div', {class: 'conv-formula'});
  const pictures = h('div', {class: 'conv-pictures'},
    h('div', {class: 'lab-row'},
      h('figure', {class: 'lab-figure conv-figure'}, grayWrap, grayCaption),
      h('figure', {class: 'lab-figure conv-figure'}, result, resultCaption, legend, note)),
    formula);
  body.append(
    imagePicker((info) => pick(info)).element,
    h('section', {class: 'card conv-main', 'aria-label': 'The kernel on your picture'},
      h('h2', {}, 'The kernel on your whole picture'),
      h('div', {class: 'conv-top'}, controls, pictures)));

  // ------------------------------------------------------------------ step by step on the patch
  const patchWrap = h('div', {class: 'conv-patch'});
  const windowBox = h('div', {class: 'conv-window', 'aria-hidden': 'true'});
  const calc = h('div', {class: 'conv-calc', 'aria-live': 'polite'});
  const outWrap = h('div', {class: 'conv-out'});
  const patchCaption = h('p', {class: 'lab-caption'});
  const outCaption = h('p', {class: 'lab-caption'});
  const steps = stepper(1, (i) => { timed('step', () => drawStep(i)); }, {label: 'Step'});
  ctx.onCleanup(() => steps.stop());
  const fillAll = h('button', {type: 'button', class: 'ghost small', dataset: {action: 'fill-all'},
    onclick: () => { steps.stop(); steps.go(state.data ? state.data.patch.steps.length - 1 : 0); }}, 'Show all steps');
  body.append(
    h('section', {class: 'card conv-steps', 'aria-label': 'Step by step on the patch'},
      h('h2', {}, `Step by step, on an ${PATCH}×${PATCH} patch of your picture`),
      h('p', {class: 'muted'}, 'The patch is the small square marked on your picture (click the picture to move it). ' +
        'Here it is as numbers, and it is treated as a little picture of its own: padding puts zeros around it. ' +
        'The orange square is the window the kernel is on.'),
      h('div', {class: 'conv-stepbar'}, steps.element, fillAll),
      h('div', {class: 'conv-stage'},
        h('div', {class: 'conv-stage-left'}, h('h3', {}, 'The patch'), h('div', {class: 'conv-patch-wrap'}, patchWrap, windowBox), patchCaption),
        h('div', {class: 'conv-stage-right'},
          h('h3', {}, 'This step: window × kernel, added up'), calc,
          h('h3', {}, 'The result, filling in'), outWrap, outCaption))),
    selfCheck({
      question: 'A picture is 32 pixels wide. A 3×3 kernel slides over it with stride 2 and padding 1. How many pixels wide is the result?',
      answer: 16,
      why: '(32 + 2×1 − 3) ÷ 2 = 15.5, rounded down is 15, and 15 + 1 = 16. Stride 2 halves the size (try it above: 256 becomes 128).',
      hint: 'Use the formula above: add twice the padding, take away the kernel size, divide by the stride and round down, then add 1.'}));

  // ------------------------------------------------------------------ talking to the server
  // only a moved patch leaves the whole picture as it is; anything else marks it stale (latest() may merge calls)
  const refresh = (label) => { if (label !== 'patch') state.stale = true; return update(label); };
  const update = latest((label) => {
    if (!state.info || !editor.valid() || !ctx.alive()) return null;
    return timed(label, async () => {
      const kernel = editor.values();
      const where = state.top === null ? {} : {top: state.top, left: state.left};  // none: the server picks a busy patch
      const whole = state.stale || !state.data;
      state.stale = false;
      let data;
      try {
        data = await api.post('/api/learn/convolution', {image: state.info.id, kernel,
          stride: state.stride, padding: state.padding, whole, ...where});
      } catch (err) { state.stale = state.stale || whole; throw err; }
      if (!ctx.alive()) return;
      state.data = {...data, kernel, result: whole ? data.result : state.data.result};
      state.top = data.patch.top; state.left = data.patch.left;
      if (whole) {
        result.src = data.result.png;
        await result.decode().catch(() => {});
      }
      drawWhole();
      drawStage(label === 'patch' || label === 'picture');
    }, note);
  });

  async function pick(info) {
    state.info = info;
    const {height: H, width: W} = info;
    state.zoom = Math.max(1, Math.floor(SHOW / Math.max(H, W)));
    state.top = null; state.left = null;
    gray.src = `/api/learn/convolution/gray/${encodeURIComponent(info.id)}.png`;
    gray.style.width = `${W * state.zoom}px`; gray.style.height = `${H * state.zoom}px`;
    await gray.decode().catch(() => {});
    await refresh('picture');
  }

  const movePatch = (top, left) => {
    if (!state.data) return;
    const side = Math.min(PATCH, state.info.height, state.info.width);
    state.top = Math.max(0, Math.min(top, state.info.height - side));
    state.left = Math.max(0, Math.min(left, state.info.width - side));
    placeBox();
    refresh('patch');
  };
  grayWrap.addEventListener('click', (e) => {
    if (!state.info) return;
    const r = gray.getBoundingClientRect();  // inside the border: clientLeft/Top and clientWidth/Height
    const x = Math.floor((e.clientX - r.left - gray.clientLeft) / gray.clientWidth * state.info.width);
    const y = Math.floor((e.clientY - r.top - gray.clientTop) / gray.clientHeight * state.info.height);
    movePatch(y - (PATCH >> 1), x - (PATCH >> 1));
  });
  grayWrap.addEventListener('keydown', (e) => {
    const d = e.shiftKey ? PATCH : 1;
    const moves = {ArrowUp: [-d, 0], ArrowDown: [d, 0], ArrowLeft: [0, -d], ArrowRight: [0, d]};
    if (!moves[e.key] || !state.data) return;
    e.preventDefault();
    movePatch(state.top + moves[e.key][0], state.left + moves[e.key][1]);
  });

  // ------------------------------------------------------------------ drawing
  function placeBox() {
    const side = Math.min(PATCH, state.info.height, state.info.width);
    const z = state.zoom;
    Object.assign(box.style, {top: `${gray.clientTop + state.top * z}px`, left: `${gray.clientLeft + state.left * z}px`,
      width: `${side * z}px`, height: `${side * z}px`});
  }

  function drawWhole() {
    const {info, data, zoom} = state;
    const res = data.result;
    const k = data.kernel.length, s = data.stride, p = data.padding;
    placeBox();
    grayCaption.replaceChildren(`Your picture in gray, ${info.height} × ${info.width} pixels. Click on it to move the patch.`);
    result.style.width = `${res.width * zoom}px`; result.style.height = `${res.height * zoom}px`;
    resultCaption.replaceChildren('After the kernel: ',
      h('strong', {dataset: {resultHeight: String(res.height)}}, String(res.height)), ' × ',
      h('strong', {dataset: {resultWidth: String(res.width)}}, String(res.width)), ' pixels');
    const num = (v, key) => h('span', {class: 'conv-num', dataset: {[key]: String(v)}}, short(v));
    legend.replaceChildren(
      h('span', {class: `conv-ramp${res.signed ? ' signed' : ''}`, 'aria-hidden': 'true'}),
      h('span', {}, res.signed ? ['black = ', num(res.black, 'black'), ', gray = 0, white = +', num(res.white, 'white')]
        : ['black = 0, white = ', num(res.white, 'white')]),
      h('span', {class: 'muted'}, 'smallest ', num(res.min, 'min'), ', largest ', num(res.max, 'max')));
    const line = (what, n, out) => {
      const top = n + 2 * p - k;
      return h('div', {class: 'lab-formula conv-line'},
        `output ${what} = ⌊(${n} + 2×${p} − ${k}) ÷ ${s}⌋ + 1 = ⌊${top} ÷ ${s}⌋ + 1 = ${Math.floor(top / s)} + 1 = `,
        h('strong', {dataset: {[`formula${what[0].toUpperCase()}${what.slice(1)}`]: String(out)}}, String(out)));
    };
    const oh = Math.floor((info.height + 2 * p - k) / s) + 1, ow = Math.floor((info.width + 2 * p - k) / s) + 1;
    const agree = oh === res.height && ow === res.width;
    formula.replaceChildren(
      h('h3', {}, 'How big is the result?'),
      h('p', {class: 'small-text'}, 'output size = ⌊(input size + 2 × padding − kernel size) ÷ stride⌋ + 1, ',
        h('span', {class: 'muted'}, 'where ⌊ ⌋ means round down.')),
      line('height', info.height, oh), line('width', info.width, ow),
      h('p', {class: `small-text ${agree ? 'conv-agree' : 'error-text'}`},
        agree ? `✔ The kernel really made a ${res.height} × ${res.width} picture.` : `The result is ${res.height} × ${res.width}.`));
  }

  let cells = null;  // the output grid's cells, row by row
  function drawStage(restart) {
    const {patch} = state.data;
    const p = state.data.padding;
    const n = patch.padded.length;
    const grid = numberGrid(patch.padded, {format: short, label: 'The patch, with its padding', shade: grayShade,
      mark: (r, c) => (r < p || c < p || r >= n - p || c >= n - p ? 'pad' : '')});
    for (const td of grid.querySelectorAll('td.pad')) td.removeAttribute('style');
    grid.classList.add(n > 10 ? 'tiny' : 'smallish');
    patchWrap.replaceChildren(grid);
    Object.assign(patchWrap.dataset, {top: String(patch.top), left: String(patch.left), stride: String(state.data.stride), padding: String(p)});
    patchCaption.textContent = `Picture rows ${patch.top}–${patch.top + patch.values.length - 1}, columns ${patch.left}–` +
      `${patch.left + patch.values[0].length - 1}${p ? `, with ${p} ring${p > 1 ? 's' : ''} of padding zeros (dashed)` : ''}.`;
    const out = numberGrid(Array.from({length: patch.rows}, () => Array(patch.cols).fill(0)), {format: () => '', label: 'The result on the patch'});
    out.classList.add(patch.cols > 12 ? 'tiny' : 'smallish');
    for (const td of out.querySelectorAll('td')) delete td.dataset.value;
    cells = [...out.querySelectorAll('tr')].map((tr) => [...tr.children]);
    outWrap.replaceChildren(out);
    const k = state.data.kernel.length;
    outCaption.textContent = `${patch.rows} × ${patch.cols} cells: ⌊(${patch.values.length} + 2×${p} − ${k}) ÷ ${state.data.stride}⌋ + 1 = ${patch.rows} steps down, ` +
      `and ⌊(${patch.values[0].length} + 2×${p} − ${k}) ÷ ${state.data.stride}⌋ + 1 = ${patch.cols} across.`;
    steps.setCount(patch.steps.length);
    if (restart) steps.go(0);
  }

  function shadeOut(v) {
    const r = state.data.result;
    const x = r.signed ? 128 + 127.5 * v / (r.white || 1) : v * 255 / (r.white || 1);
    return grayShade(x);
  }

  function drawStep(i) {
    if (!state.data || !cells) return;
    const {patch} = state.data;
    const step = patch.steps[i];
    if (!step) return;
    const k = step.window.length, p = state.data.padding;
    patch.steps.forEach((s, j) => {
      const td = cells[s.row][s.col];
      td.className = j === i ? 'hit' : '';
      if (j <= i) {
        td.textContent = short(s.value); td.dataset.value = String(s.value); td.setAttribute('style', `background: ${shadeOut(s.value)}`);
      } else {
        td.textContent = ''; delete td.dataset.value; td.removeAttribute('style');
      }
    });
    // the orange window over the patch's cells
    const table = patchWrap.querySelector('table');
    const rows = table.querySelectorAll('tr');
    const first = rows[step.top].children[step.left], last = rows[step.top + k - 1].children[step.left + k - 1];
    const base = patchWrap.getBoundingClientRect(), a = first.getBoundingClientRect(), b = last.getBoundingClientRect();
    Object.assign(windowBox.style, {left: `${a.left - base.left}px`, top: `${a.top - base.top}px`,
      width: `${b.right - a.left}px`, height: `${b.bottom - a.top}px`});
    const {kernel} = state.data;
    const top = Math.max(...kernel.flat().map(Math.abs));
    const ptop = Math.max(...step.products.flat().map(Math.abs));
    const from = (x) => `${x - p}`.replace('-', '−');
    const [ph, pw] = [patch.values.length, patch.values[0].length];
    const isPad = (r, c) => r < p || c < p || r >= ph + p || c >= pw + p;  // in the padded patch
    const where = `Output row ${step.row}, column ${step.col}: the window covers patch rows ${from(step.top)} to ${from(step.top + k - 1)}, ` +
      `columns ${from(step.left)} to ${from(step.left + k - 1)}${isPad(step.top, step.left) || isPad(step.top + k - 1, step.left + k - 1) ? ' (some of it is padding)' : ''}.`;
    const terms = step.products.flat();
    const windowGrid = numberGrid(step.window, {format: short, shade: grayShade, label: 'The window',
      mark: (u, v) => (isPad(step.top + u, step.left + v) ? 'pad' : '')});
    for (const td of windowGrid.querySelectorAll('td.pad')) td.removeAttribute('style');
    calc.classList.toggle('k5', k > 3);
    calc.replaceChildren(...[
      h('p', {class: 'small-text conv-where'}, where),
      h('div', {class: 'conv-eq'},
        h('div', {class: 'conv-term'}, windowGrid, h('span', {class: 'lab-caption'}, 'window')),
        h('span', {class: 'conv-op'}, '×'),
        h('div', {class: 'conv-term'}, numberGrid(kernel, {format: short, shade: (v) => weightShade(v, top), label: 'The kernel'}), h('span', {class: 'lab-caption'}, 'kernel')),
        h('span', {class: 'conv-op'}, '='),
        h('div', {class: 'conv-term conv-products'}, numberGrid(step.products, {format: short, shade: (v) => weightShade(v, ptop), label: 'The products'}), h('span', {class: 'lab-caption'}, 'products')),
        h('div', {class: 'conv-sum-row'}, h('span', {class: 'conv-op'}, '→'),
          h('div', {class: 'conv-sum'}, h('span', {class: 'lab-caption'}, `sum of the ${terms.length} products`),
            h('strong', {class: 'conv-sum-value', dataset: {value: String(step.value)}}, `sum = ${short(step.value)}`)))),
      k === 3 ? h('p', {class: 'conv-terms small-text muted'}, terms.map((t, j) => `${t < 0 ? (j ? ' − ' : '−') : (j ? ' + ' : '')}${short(Math.abs(t))}`).join('') + ` = ${short(step.value).replace('-', '−')}`) : null,
    ].filter(Boolean));
  }
}
