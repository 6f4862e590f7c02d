// #/learn/pooling: 4. Max pooling. A stepper slides the window over an 8x8 patch and keeps each window's biggest
// number; then the whole picture is pooled, moved by k pixels and pooled again, and the two pooled maps compared.
// Every number comes from /api/learn/pooling/* (cnnlab.learn.lab.pooling, on cnnlab.ref.max_pool2d / trace_pool).

import {labFrame, imagePicker, selfCheck, timed, speedNote, latest, loadPixels, drawNumbers, numberGrid, grayShade,
  stepper, api, h} from './common.js';

const fmt = (n) => Number(n).toLocaleString('en-US');
/** Pillow's "L" (the gray the server pools): L = 0.299 R + 0.587 G + 0.114 B, rounded, in whole numbers. */
const grayOf = (r, g, b) => (r * 19595 + g * 38470 + b * 7471 + 32768) >> 16;
const SHOW = 240;  // CSS width of the pictures in the shift comparison

export default async function page(view, {ctx}) {
  const {body} = labFrame(view, 'pooling',
    'Max pooling makes a picture (or a feature map inside a network) smaller: it cuts it into small windows, ' +
    'for example 2×2 pixels, and keeps only the biggest number of each window. A 2×2 window keeps 1 number out of 4.',
    'Why the biggest? It says "something bright (a feature) is somewhere in here" and forgets exactly where. So when ' +
    'the picture moves a little, the pooled result changes only a little: this is what "translation invariance" means.');

  const s = {info: null, gray: null, width: 0, height: 0, size: 2, stride: 2, row: 0, col: 0, steps: null, shift: 0};
  const note = speedNote();

  // ------------------------------------------------------------------ step by step
  const picture = h('canvas', {class: 'lab-pixels pool-picture', tabindex: '0', 'aria-label':
    'The gray picture; click to choose the 8 by 8 patch'});
  const frame = h('div', {class: 'pool-frame', 'aria-hidden': 'true'});
  const sizeButtons = [2, 3].map((n) => h('button', {type: 'button', class: 'ghost small', dataset: {size: String(n)},
    'aria-pressed': String(n === 2), onclick: () => setWindow(n, n)}, `${n}×${n}`));
  const strideSelect = h('select', {class: 'small-select', 'aria-label': 'Stride', dataset: {control: 'stride'}},
    [1, 2, 3].map((n) => h('option', {value: String(n), selected: n === 2}, String(n))));
  strideSelect.addEventListener('change', () => setWindow(s.size, Number(strideSelect.value)));
  const patchBox = h('div', {class: 'pool-grid-box', dataset: {role: 'patch'}});
  const outputBox = h('div', {class: 'pool-grid-box', dataset: {role: 'output'}});
  const patchTitle = h('h3', {});
  const outputTitle = h('h3', {});
  const explain = h('p', {class: 'pool-explain', 'aria-live': 'polite', dataset: {role: 'explain'}});
  const shapeText = h('p', {class: 'lab-caption'});
  const step = stepper(1, (i) => timed('pooling: step', () => drawStep(i), note), {label: 'Window'});
  ctx.onCleanup(() => step.stop());
  const stepCard = h('section', {class: 'card'},
    h('h2', {}, 'Step by step: keep the biggest number of each window'),
    h('div', {class: 'pool-step-row'},
      h('div', {class: 'pool-left'},
        h('div', {class: 'pool-picture-box'}, picture, frame),
        h('p', {class: 'lab-caption'}, 'Click the picture to choose the 8×8 patch.'),
        h('div', {class: 'pool-controls'}, h('span', {class: 'pool-label'}, 'Window'), ...sizeButtons,
          h('label', {class: 'pool-label'}, 'Stride ', strideSelect)),
        shapeText),
      h('div', {class: 'pool-grid-col'}, patchTitle, patchBox),
      h('div', {class: 'pool-arrow', 'aria-hidden': 'true'}, 'max →'),
      h('div', {class: 'pool-grid-col'}, outputTitle, outputBox)),
    h('div', {class: 'pool-step-bar'}, step.element, note),
    explain);

  // ------------------------------------------------------------------ the whole picture, moved
  const shiftSlider = h('input', {type: 'range', min: '0', max: '6', step: '1', value: '0', id: 'pool-shift',
    dataset: {control: 'shift'}});
  const shiftValue = h('output', {for: 'pool-shift', class: 'pool-shift-value'}, '0 px');
  const shiftNote = speedNote();
  const canvases = {original: h('canvas', {class: 'lab-pixels'}), pooled: h('canvas', {class: 'lab-pixels'}),
    moved: h('canvas', {class: 'lab-pixels'}), movedPooled: h('canvas', {class: 'lab-pixels'}), change: h('canvas', {class: 'lab-pixels'})};
  const captions = Object.fromEntries(Object.keys(canvases).map((k) => [k, h('figcaption', {})]));
  const fig = (k) => h('figure', {class: 'lab-figure pool-fig', dataset: {fig: k}}, canvases[k], captions[k]);
  const summary = h('div', {class: 'pool-summary', 'aria-live': 'polite', dataset: {role: 'summary'}});
  const legend = h('div', {class: 'pool-legend'},
    h('span', {}, h('i', {class: 'same'}), 'same'), h('span', {}, h('i', {class: 'changed'}), 'changed (darker: more)'),
    h('span', {}, h('i', {class: 'none'}), 'not compared (the black strip)'));
  const shiftCard = h('section', {class: 'card'},
    h('h2', {}, 'The whole picture, pooled, and moved'),
    h('p', {}, 'Now the whole gray picture is pooled with the same window. Then move the picture to the right and pool ' +
      'it again: which numbers of the pooled map stay the same?'),
    h('div', {class: 'lab-slider pool-slider'}, h('label', {for: 'pool-shift'}, 'Move right by'), shiftSlider, shiftValue),
    h('div', {class: 'pool-compare'},
      fig('original'), fig('pooled'), summary,
      fig('moved'), fig('movedPooled'), h('div', {class: 'pool-change-col'}, fig('change'), legend)),
    shiftNote);

  body.append(imagePicker((info) => choosePicture(info)).element, stepCard, shiftCard,
    selfCheck({question: 'You move a picture 4 pixels to the right and pool it with 2×2 windows (stride 2). ' +
      'What happens to the pooled map?',
    choices: ['Every number changes', 'It moves 2 cells to the right; its numbers stay the same',
      'It moves 4 cells to the right', 'Nothing at all changes'], answer: 1,
    why: 'Each window moves 2 pixels, so 4 pixels is exactly 2 windows: the same windows, the same maxima, two cells further right.',
    hint: 'Try it with the slider above: set the window to 2×2 and move by 4 pixels.'}));

  // ------------------------------------------------------------------ picking
  async function choosePicture(info) {
    const px = await loadPixels(info);
    if (!ctx.alive()) return;
    const gray = new Uint8ClampedArray(px.width * px.height);
    for (let i = 0; i < gray.length; i++) gray[i] = grayOf(px.rgba[4 * i], px.rgba[4 * i + 1], px.rgba[4 * i + 2]);
    Object.assign(s, {info, gray, width: px.width, height: px.height});
    s.row = Math.max(0, Math.floor(px.height / 2) - 4); s.col = Math.max(0, Math.floor(px.width / 2) - 4);
    drawNumbers(picture, gray, px.width, px.height);
    drawNumbers(canvases.original, gray, px.width, px.height);
    await timed('pooling: choose a picture', () => Promise.all([askSteps(), askShift()]), note);
  }

  function setWindow(size, stride) {
    s.size = size; s.stride = stride;
    for (const b of sizeButtons) b.setAttribute('aria-pressed', String(Number(b.dataset.size) === size));
    strideSelect.value = String(stride);
    timed('pooling: window', () => Promise.all([askSteps(), askShift()]), note).catch(() => {});
  }

  const choosePatch = latest(async (row, col) => {
    s.row = row; s.col = col;
    await timed('pooling: choose a patch', () => askSteps(), note);
  });
  picture.addEventListener('click', (e) => {
    const rect = picture.getBoundingClientRect();
    const col = Math.floor(((e.clientX - rect.left) / rect.width) * s.width);
    const row = Math.floor(((e.clientY - rect.top) / rect.height) * s.height);
    choosePatch(Math.max(0, Math.min(s.height - 1, row - 4)), Math.max(0, Math.min(s.width - 1, col - 4)));
  });
  picture.addEventListener('keydown', (e) => {
    const moves = {ArrowUp: [-8, 0], ArrowDown: [8, 0], ArrowLeft: [0, -8], ArrowRight: [0, 8]};
    if (!moves[e.key] || !s.steps) return;
    e.preventDefault();
    choosePatch(Math.max(0, Math.min(s.height - 1, s.steps.row + moves[e.key][0])), Math.max(0, Math.min(s.width - 1, s.steps.col + moves[e.key][1])));
  });

  async function askSteps() {
    const out = await api.post('/api/learn/pooling/steps', {image: s.info.id, row: s.row, col: s.col, size: s.size, stride: s.stride});
    if (!ctx.alive()) return;
    s.steps = out;
    const side = out.patch.length;
    frame.style.left = `${(100 * out.col) / out.width}%`;
    frame.style.top = `${(100 * out.row) / out.height}%`;
    frame.style.width = `${(100 * side) / out.width}%`;
    frame.style.height = `${(100 * side) / out.height}%`;
    const ho = out.output.length, wo = out.output[0].length;
    patchTitle.textContent = `Patch (${side}, ${side}) at row ${out.row}, column ${out.col}`;
    outputTitle.textContent = `Pooled (${ho}, ${wo})`;
    shapeText.textContent = `${side}×${side} → ${ho}×${wo}: (${side} − ${out.size}) ÷ ${out.stride} + 1 = ${ho} windows a side` +
      (out.stride < out.size ? ' (a stride smaller than the window: the windows overlap).' : '.');
    step.stop();
    step.setCount(out.steps.length);
    step.go(0);
  }

  function drawStep(i) {
    const out = s.steps;
    const st = out.steps[i];
    const inWindow = (r, c) => r >= st.rows[0] && r <= st.rows[1] && c >= st.cols[0] && c <= st.cols[1];
    patchBox.replaceChildren(numberGrid(out.patch, {format: (v) => String(v), label: 'The patch',
      shade: grayShade, mark: (r, c) => {
        if (!inWindow(r, c)) return '';
        // one frame around the whole window: each cell draws the window's edges it lies on
        const edges = [r === st.rows[0] && 'w-top', r === st.rows[1] && 'w-bottom', c === st.cols[0] && 'w-left', c === st.cols[1] && 'w-right'];
        return ['window', ...edges.filter(Boolean), r === st.where[0] && c === st.where[1] ? 'hit' : ''].join(' ').trim();
      }}));
    const wo = out.output[0].length;
    outputBox.replaceChildren(numberGrid(out.output, {label: 'The pooled output',
      format: (v) => String(v), shade: (v) => grayShade(v),
      mark: (r, c) => (r * wo + c === i ? 'hit' : r * wo + c > i ? 'pool-empty' : '')}));
    const values = st.window.flat();
    explain.replaceChildren(`Window ${i + 1}: rows ${st.rows[0]}–${st.rows[1]}, columns ${st.cols[0]}–${st.cols[1]}. ` +
      `The biggest of ${values.join(', ')} is `, h('strong', {dataset: {value: String(st.value)}}, String(st.value)),
    ` (at row ${st.where[0]}, column ${st.where[1]}): it goes to the pooled cell (${st.row}, ${st.col}).`);
  }

  // ------------------------------------------------------------------ moving the picture
  const askShift = latest(async () => {
    const k = s.shift;
    const out = await api.post('/api/learn/pooling/shift', {image: s.info.id, shift: k, size: s.size, stride: s.stride});
    if (!ctx.alive()) return;
    const ho = out.pooled.length, wo = out.pooled[0].length;
    drawNumbers(canvases.pooled, out.pooled.flat(), wo, ho);
    drawNumbers(canvases.movedPooled, out.shifted_pooled.flat(), wo, ho);
    drawChange(out.change, wo, ho);
    drawMoved(k);
    for (const key of Object.keys(canvases)) canvases[key].style.width = `${SHOW}px`;
    const shape = `(${out.height}, ${out.width})`, pooledShape = `(${ho}, ${wo})`;
    const caption = (key, title, text) => captions[key].replaceChildren(h('strong', {}, title), ' ', h('span', {class: 'pool-nowrap'}, text));
    caption('original', 'Your picture, gray', shape);
    caption('pooled', `Pooled ${out.size}×${out.size}, stride ${out.stride}`, pooledShape);
    caption('moved', `Moved ${k} px right`, shape);
    caption('movedPooled', 'Moved, then pooled', pooledShape);
    caption('change', 'What changed', out.cell_shift ? `(compared with the first pooled map moved ${out.cell_shift} ` +
      `cell${out.cell_shift === 1 ? '' : 's'} right)` : '(compared with the first pooled map, cell by cell)');
    shiftValue.textContent = `${k} px`;
    showSummary(out);
  });
  shiftSlider.addEventListener('input', () => {
    s.shift = Number(shiftSlider.value);
    shiftValue.textContent = `${s.shift} px`;
    timed('pooling: shift', () => askShift(), shiftNote);
  });

  function drawMoved(k) {
    const c = canvases.moved;
    c.width = s.width; c.height = s.height;
    const g = c.getContext('2d');
    g.fillStyle = '#000';
    g.fillRect(0, 0, c.width, c.height);
    g.drawImage(canvases.original, k, 0);
  }

  function drawChange(change, wo, ho) {
    const c = canvases.change;
    c.width = wo; c.height = ho;
    const g = c.getContext('2d');
    const img = g.createImageData(wo, ho);
    const d = img.data;
    change.flat().forEach((v, i) => {
      let rgb;
      if (v < 0) rgb = [206, 210, 224];
      else if (v === 0) rgb = [226, 246, 231];
      else {
        const t = Math.min(1, 0.25 + Math.sqrt(v / 255));
        rgb = [Math.round(255 - t * 55), Math.round(235 - t * 200), Math.round(235 - t * 200)];
      }
      d.set([...rgb, 255], 4 * i);
    });
    g.putImageData(img, 0, 0);
  }

  function showSummary(out) {
    const k = out.shift;
    const rest = k % out.stride;
    const plain = k === 0
      ? 'Not moved yet: both pooled maps are the same. Move the slider.'
      : out.exact
        ? `${k} is a multiple of the stride ${out.stride}: every window sees exactly the pixels it saw before, ${out.cell_shift} ` +
          `cell${out.cell_shift === 1 ? '' : 's'} further right. The pooled map just moves; no number changes.`
        : `${k} is not a multiple of the stride ${out.stride} (${k} = ${out.cell_shift} × ${out.stride} + ${rest}): the windows cut the ` +
          'picture in other places, so many pooled numbers change. But most change only a little: the biggest value of a ' +
          'neighbourhood is usually still close by.';
    summary.dataset.same = String(out.same);
    summary.dataset.changed = String(out.changed);
    summary.replaceChildren(
      h('div', {class: 'pool-counts'},
        h('div', {class: 'pool-count same'}, h('strong', {}, fmt(out.same)), h('span', {}, 'cells stayed the same')),
        h('div', {class: 'pool-count changed'}, h('strong', {}, fmt(out.changed)), h('span', {}, 'cells changed')),
        out.changed ? h('div', {class: 'pool-count little'}, h('strong', {}, fmt(out.changed_a_little)),
          h('span', {}, `of them by ${out.little} or less`)) : null),
      h('p', {class: 'small-text'}, `Out of ${fmt(out.compared)} cells compared` +
        (out.changed ? `. A cell changed by ${out.mean_change.toFixed(1)} on average (of 255); the biggest change was ${fmt(out.biggest_change)}.` : '.')),
      h('p', {}, plain));
  }
}
