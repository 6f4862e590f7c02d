// #/learn/arrays: 1. Images are arrays. Hover and zoom until the numbers show, split the colours into three
// channels, see the gray version, and flatten a small patch into one line (what a dense layer would need).
// Pixels come from loadPixels (the PNG the server computes on); the flattened line and the layer sizes from
// /api/learn/arrays/numbers (cnnlab.learn.lab.arrays, on cnnlab.ref.flatten).

import {labFrame, imagePicker, selfCheck, timed, speedNote, latest, loadPixels, api, h} from './common.js';

const VIEW_W = 760, VIEW_H = 420;  // the zoom view's size on screen (CSS pixels)
const ZOOMS = [2, 3, 4, 6, 8, 12, 16, 24, 32, 40, 48];  // screen pixels per picture pixel (after "fit")
const NUMBERS_AT = {1: 24, 3: 40};  // the zoom from which each pixel's number(s) are written on it
const CHANNELS = [{name: 'red', letter: 'R', tint: [1, 0, 0]}, {name: 'green', letter: 'G', tint: [0, 1, 0]},
  {name: 'blue', letter: 'B', tint: [0, 0, 1]}];
const fmt = (n) => Number(n).toLocaleString('en-US');

/** Pillow's "L" exactly: L = 0.299 R + 0.587 G + 0.114 B rounded, in whole numbers (cnnlab.learn.lab.arrays.grayscale). */
const grayOf = (r, g, b) => (r * 19595 + g * 38470 + b * 7471 + 32768) >> 16;

export default async function page(view, {ctx}) {
  const {body} = labFrame(view, 'arrays',
    'To a computer a photo is a grid of numbers, one number per pixel: 0 is black, 255 is white. A colour photo has ' +
    'three numbers per pixel, how much red, green and blue light it sends out: three grids stacked on each other.',
    'Pick a picture, move the mouse over it and zoom in until you can read the numbers. Click a spot to choose it.');

  const s = {info: null, px: null, full: null, zoom: 1, fit: 1, center: [0, 0], chosen: [0, 0], hover: null,
    neurons: 100, flat: null};
  const note = speedNote();

  // ------------------------------------------------------------------ the zoom view
  const viewer = h('canvas', {class: 'arr-viewer', tabindex: '0', 'aria-label':
    'The picture, zoomed. Move the mouse to read pixel values, click to choose a pixel, arrow keys move the chosen pixel.'});
  const zoomSlider = h('input', {type: 'range', min: '0', max: String(ZOOMS.length), step: '1', value: '0',
    'aria-label': 'Zoom', dataset: {control: 'zoom'}});
  const zoomText = h('span', {class: 'arr-zoom-text'});
  const readTitle = h('div', {class: 'arr-read-title'});
  const readWhere = h('div', {class: 'arr-read-where'});
  const swatch = h('div', {class: 'arr-swatch'});
  const readValues = h('div', {class: 'arr-read-values'});
  const readout = h('div', {class: 'arr-readout', 'aria-live': 'polite', dataset: {role: 'readout'}},
    readTitle, h('div', {class: 'arr-read-main'}, swatch, h('div', {}, readWhere, readValues)));
  const zoomHint = h('p', {class: 'lab-caption arr-zoom-hint'});
  const zoomBy = (d) => setZoomIndex(Number(zoomSlider.value) + d);
  const zoomCard = h('section', {class: 'card arr-zoom-card'},
    h('h2', {}, 'Zoom in until you see the numbers'),
    h('div', {class: 'arr-zoom-row'},
      h('div', {class: 'arr-viewer-box'}, viewer),
      h('div', {class: 'arr-side'},
        readout,
        h('div', {class: 'arr-zoom-controls'},
          h('button', {type: 'button', class: 'ghost small', 'aria-label': 'Zoom out', onclick: () => zoomBy(-1)}, '−'),
          zoomSlider,
          h('button', {type: 'button', class: 'ghost small', 'aria-label': 'Zoom in', onclick: () => zoomBy(1)}, '+')),
        h('div', {class: 'arr-zoom-line'}, zoomText,
          h('button', {type: 'button', class: 'ghost small', onclick: () => setZoomIndex(0)}, 'Whole picture'),
          h('button', {type: 'button', class: 'ghost small', dataset: {action: 'numbers'},
            onclick: () => setZoomIndex(ZOOMS.indexOf(NUMBERS_AT[s.px.channels === 3 ? 3 : 1]) + 1)}, 'Show the numbers')),
        zoomHint, note)));

  // ------------------------------------------------------------------ channels and gray
  const channelRow = h('div', {class: 'arr-channels'});
  const shapeLine = h('p', {class: 'arr-shape'});
  const grayRow = h('div', {class: 'arr-gray-row'});
  const channelCard = h('section', {class: 'card'},
    h('h2', {}, 'Colour = three grids of numbers'), shapeLine, channelRow, grayRow);

  // ------------------------------------------------------------------ flattening
  const stage = h('div', {class: 'arr-stage', 'aria-label': 'The patch of numbers and the flattened line'});
  const flattenButton = h('button', {type: 'button', class: 'primary', dataset: {action: 'flatten'}}, 'Flatten ▶');
  const patchText = h('p', {class: 'lab-caption'});
  const codeLine = h('pre', {class: 'lab-code arr-code'});
  const neuronsSelect = h('select', {class: 'small-select', 'aria-label': 'Neurons in the dense layer', dataset: {control: 'neurons'}},
    [10, 100, 1000].map((n) => h('option', {value: String(n), selected: n === 100}, fmt(n))));
  const counts = h('div', {class: 'arr-counts', dataset: {role: 'counts'}});
  const flattenNote = speedNote();
  const flattenCard = h('section', {class: 'card'},
    h('h2', {}, 'Flatten: the grid becomes one long line'),
    h('p', {}, 'A fully connected (dense) layer takes one long line of numbers, not a grid. So the picture is ' +
      'flattened: the first row, then the second row behind it, and so on. Here is a small patch of your picture, ' +
      'starting at the pixel you chose.'),
    h('div', {class: 'arr-flatten-controls'}, flattenButton, patchText, flattenNote),
    stage, codeLine,
    h('div', {class: 'arr-neurons'}, h('label', {}, 'Neurons in the dense layer: '), neuronsSelect),
    counts);

  body.append(imagePicker((info) => choosePicture(info)).element, zoomCard, channelCard, flattenCard,
    selfCheck({question: 'How many numbers are in a 10×10 colour picture?', answer: 300,
      why: '10 × 10 pixels × 3 colours (red, green, blue) = 300 numbers, so 300 input neurons after flattening.',
      hint: 'Count the pixels (height × width), then remember each colour pixel has 3 numbers.'}));

  // ------------------------------------------------------------------ picking a picture
  async function choosePicture(info) {
    const px = await loadPixels(info);
    if (!ctx.alive()) return;
    s.info = info; s.px = px; s.hover = null; s.flat = null;
    s.full = imageCanvas(px, (r, g, b) => [r, g, b]);
    s.fit = Math.min(VIEW_W / px.width, VIEW_H / px.height);
    s.zoom = s.fit;
    s.chosen = [Math.floor(px.height / 2), Math.floor(px.width / 2)];
    s.center = [px.height / 2, px.width / 2];
    zoomSlider.value = '0';
    drawChannels();
    await timed('arrays: choose', () => Promise.all([drawView(), askNumbers()]), note);
  }

  function setZoomIndex(i) {
    i = Math.max(0, Math.min(ZOOMS.length, i));
    zoomSlider.value = String(i);
    s.zoom = i === 0 ? s.fit : Math.max(s.fit, ZOOMS[i - 1]);
    if (i === 0) s.center = [s.px.height / 2, s.px.width / 2];
    else s.center = [s.chosen[0] + 0.5, s.chosen[1] + 0.5];
    timed('arrays: zoom', () => drawView(), note);
  }
  zoomSlider.addEventListener('input', () => setZoomIndex(Number(zoomSlider.value)));

  // the visible part: picture pixel (x, y) is drawn at screen ((x - x0) * zoom, (y - y0) * zoom)
  function origin() {
    const {width, height} = s.px;
    const vw = VIEW_W / s.zoom, vh = VIEW_H / s.zoom;
    const clamp = (c, v, n) => (v >= n ? (n - v) / 2 : Math.max(0, Math.min(n - v, c - v / 2)));
    return [clamp(s.center[1], vw, width), clamp(s.center[0], vh, height)];
  }

  function pixelAt(event) {
    const rect = viewer.getBoundingClientRect();
    const [x0, y0] = origin();
    const col = Math.floor(x0 + (event.clientX - rect.left - viewer.clientLeft) / s.zoom);
    const row = Math.floor(y0 + (event.clientY - rect.top - viewer.clientTop) / s.zoom);
    return row >= 0 && col >= 0 && row < s.px.height && col < s.px.width ? [row, col] : null;
  }

  function valuesAt(row, col) {
    const i = 4 * (row * s.px.width + col), d = s.px.rgba;
    return s.px.channels === 3 ? [d[i], d[i + 1], d[i + 2]] : [d[i]];
  }

  function drawView() {
    if (!s.px) return;
    const dpr = window.devicePixelRatio || 1;
    if (viewer.width !== VIEW_W * dpr) { viewer.width = VIEW_W * dpr; viewer.height = VIEW_H * dpr; }
    const g = viewer.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.imageSmoothingEnabled = false;
    g.fillStyle = '#eef0f6';
    g.fillRect(0, 0, VIEW_W, VIEW_H);
    const [x0, y0] = origin(), z = s.zoom;
    const c0 = Math.max(0, Math.floor(x0)), r0 = Math.max(0, Math.floor(y0));
    const c1 = Math.min(s.px.width, Math.ceil(x0 + VIEW_W / z)), r1 = Math.min(s.px.height, Math.ceil(y0 + VIEW_H / z));
    g.drawImage(s.full, c0, r0, c1 - c0, r1 - r0, (c0 - x0) * z, (r0 - y0) * z, (c1 - c0) * z, (r1 - r0) * z);
    if (z >= 10) {  // thin lines between the pixels
      g.strokeStyle = z >= 24 ? 'rgba(255, 255, 255, .55)' : 'rgba(128, 128, 128, .35)';
      g.lineWidth = 1;
      g.beginPath();
      for (let c = c0; c <= c1; c++) { const x = Math.round((c - x0) * z) + 0.5; g.moveTo(x, (r0 - y0) * z); g.lineTo(x, (r1 - y0) * z); }
      for (let r = r0; r <= r1; r++) { const y = Math.round((r - y0) * z) + 0.5; g.moveTo((c0 - x0) * z, y); g.lineTo((c1 - x0) * z, y); }
      g.stroke();
    }
    const colour = s.px.channels === 3;
    const showNumbers = z >= NUMBERS_AT[colour ? 3 : 1];
    if (showNumbers) {
      const size = Math.min(colour ? z / 3.6 : z / 2.6, 15);
      g.font = `600 ${size}px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace`;
      g.textAlign = 'center'; g.textBaseline = 'middle';
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) {
          const v = valuesAt(r, c);
          const light = (colour ? grayOf(...v) : v[0]) > 140;
          g.fillStyle = light ? '#111' : '#fff';
          const cx = (c - x0 + 0.5) * z, cy = (r - y0 + 0.5) * z;
          if (colour) v.forEach((n, k) => g.fillText(String(n), cx, cy + (k - 1) * size * 1.15));
          else g.fillText(String(v[0]), cx, cy);
        }
      }
    }
    const box = ([r, c], color, width) => {
      g.strokeStyle = color; g.lineWidth = width;
      const pad = Math.max(0, z < 4 ? -3 : 0);
      g.strokeRect((c - x0) * z - pad, (r - y0) * z - pad, z + 2 * pad, z + 2 * pad);
    };
    box(s.chosen, '#e8590c', z >= 6 ? 3 : 2);
    if (z < 6) {  // too small to see: a ring around the chosen pixel
      g.beginPath();
      g.arc((s.chosen[1] - x0 + 0.5) * z, (s.chosen[0] - y0 + 0.5) * z, 9, 0, 2 * Math.PI);
      g.lineWidth = 4; g.strokeStyle = '#fff'; g.stroke();
      g.lineWidth = 2; g.strokeStyle = '#e8590c'; g.stroke();
    }
    if (s.hover && (s.hover[0] !== s.chosen[0] || s.hover[1] !== s.chosen[1])) box(s.hover, '#4c4fd8', 2);
    viewer.dataset.zoom = String(z);
    viewer.dataset.numbers = String(showNumbers);
    zoomText.textContent = zoomSlider.value === '0' ? `whole picture (${z.toFixed(1)}×)` : `${Math.round(z)}× bigger`;
    zoomHint.textContent = showNumbers
      ? (colour ? 'Each pixel shows its three numbers: red (top), green, blue (bottom).' : 'Each pixel shows its brightness: 0 black … 255 white.')
      : `Zoom to ${NUMBERS_AT[colour ? 3 : 1]}× or more to see every pixel's number${colour ? 's' : ''}.`;
    showReadout();
  }

  function showReadout() {
    const [r, c] = s.hover || s.chosen;
    const v = valuesAt(r, c);
    readTitle.textContent = s.hover ? 'Under the mouse' : 'The chosen pixel';
    readWhere.textContent = `row ${r}, column ${c}`;
    swatch.style.background = s.px.channels === 3 ? `rgb(${v.join(',')})` : `rgb(${v[0]},${v[0]},${v[0]})`;
    readValues.replaceChildren(...(s.px.channels === 3
      ? CHANNELS.map((ch, k) => h('span', {class: `arr-chip arr-${ch.name}`}, `${ch.letter}=${v[k]}`))
      : [h('span', {class: 'arr-chip arr-gray'}, `brightness=${v[0]}`)]));
    readout.dataset.row = String(r); readout.dataset.col = String(c); readout.dataset.values = v.join(',');
  }

  viewer.addEventListener('mousemove', (e) => {
    if (!s.px) return;
    const p = pixelAt(e);
    if (p && s.hover && p[0] === s.hover[0] && p[1] === s.hover[1]) return;
    s.hover = p;
    timed('arrays: hover', () => drawView(), note);
  });
  viewer.addEventListener('mouseleave', () => { s.hover = null; if (s.px) drawView(); });
  viewer.addEventListener('click', (e) => { const p = pixelAt(e); if (p) choosePixel(p); });
  viewer.addEventListener('wheel', (e) => {
    if (!s.px) return;
    e.preventDefault();
    const p = pixelAt(e);
    if (p) s.chosen = p;
    zoomBy(e.deltaY < 0 ? 1 : -1);
  }, {passive: false});
  viewer.addEventListener('keydown', (e) => {
    const moves = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
    if (!s.px || !moves[e.key]) return;
    e.preventDefault();
    const [dr, dc] = moves[e.key];
    choosePixel([Math.max(0, Math.min(s.px.height - 1, s.chosen[0] + dr)), Math.max(0, Math.min(s.px.width - 1, s.chosen[1] + dc))]);
  });

  const choosePixel = latest(async (p) => {
    s.chosen = p;
    if (zoomSlider.value !== '0') s.center = [p[0] + 0.5, p[1] + 0.5];
    await timed('arrays: choose a pixel', async () => { drawView(); drawMarkers(); await askNumbers(); }, note);
  });

  // ------------------------------------------------------------------ channels and gray pictures
  function imageCanvas(px, fn) {
    const c = document.createElement('canvas');
    c.width = px.width; c.height = px.height;
    const g = c.getContext('2d');
    const img = g.createImageData(px.width, px.height);
    const d = px.rgba, out = img.data;
    for (let i = 0; i < d.length; i += 4) {
      const [r, gg, b] = fn(d[i], d[i + 1], d[i + 2]);
      out[i] = r; out[i + 1] = gg; out[i + 2] = b; out[i + 3] = 255;
    }
    g.putImageData(img, 0, 0);
    return c;
  }

  function figure(canvas, caption, value, key) {
    canvas.classList.add('lab-pixels', 'arr-thumb');
    const marker = h('div', {class: 'arr-marker', 'aria-hidden': 'true'});
    return h('figure', {class: 'lab-figure arr-figure', dataset: {channel: key}},
      h('div', {class: 'arr-thumb-box'}, canvas, marker),
      h('figcaption', {}, h('strong', {}, caption[0]), ' ', caption[1]),
      h('div', {class: 'arr-value', dataset: {role: 'value'}}, value));
  }

  function drawChannels() {
    const {width: W, height: H, channels} = s.px;
    const colour = channels === 3;
    shapeLine.replaceChildren(...(colour
      ? ['Your picture is ', h('span', {class: 'lab-formula', dataset: {role: 'shape'}}, `(${H}, ${W}, 3)`),
        `: ${H} rows, ${W} columns, 3 numbers per pixel. Split it and you get three gray-looking grids of shape (${H}, ${W}), ` +
        'one per colour (drawn here in their colour).']
      : ['Your picture is gray: ', h('span', {class: 'lab-formula', dataset: {role: 'shape'}}, `(${H}, ${W})`),
        `, ${H} rows and ${W} columns, one number per pixel. Pick a colour picture above to split it into red, green and blue.`]));
    const figures = [figure(imageCanvas(s.px, (r, g, b) => [r, g, b]), [colour ? 'Your picture' : 'Your gray picture', `(${H}, ${W}${colour ? ', 3' : ''})`], '', 'all')];
    if (colour) {
      CHANNELS.forEach((ch, k) => figures.push(figure(imageCanvas(s.px, (...v) => ch.tint.map((t) => t * v[k])),
        [`${ch.name[0].toUpperCase()}${ch.name.slice(1)}`, `(${H}, ${W})`], '', ch.name)));
    }
    channelRow.replaceChildren(...figures);
    if (colour) {
      const grayFigure = figure(imageCanvas(s.px, (r, g, b) => { const l = grayOf(r, g, b); return [l, l, l]; }),
        ['Gray', `(${H}, ${W})`], '', 'gray');
      grayRow.replaceChildren(grayFigure, h('div', {class: 'arr-gray-text'},
        h('h3', {}, 'From colour to gray'),
        h('p', {}, 'A gray picture keeps one number per pixel: its brightness. Green looks brightest to our eyes and blue darkest, ' +
          'so they count differently:'),
        h('p', {}, h('span', {class: 'lab-formula'}, 'gray = 0.299 × R + 0.587 × G + 0.114 × B'), ' rounded to a whole number.'),
        h('p', {class: 'arr-worked', dataset: {role: 'worked'}}),
        h('p', {class: 'lab-caption'}, 'This is what Pillow\'s convert("L") does, so it is the same gray the other pages use. ' +
          'The shape loses its last number: (H, W, 3) becomes (H, W).')));
    } else grayRow.replaceChildren();
    drawMarkers();
  }

  function drawMarkers() {
    const [r, c] = s.chosen;
    const v = valuesAt(r, c);
    for (const fig of channelRow.querySelectorAll('.arr-figure')) mark(fig, r, c, fig.dataset.channel === 'all'
      ? `row ${r}, column ${c}: ${v.length === 3 ? `(${v.join(', ')})` : v[0]}`
      : `${fig.dataset.channel[0].toUpperCase()} = ${v[CHANNELS.findIndex((ch) => ch.name === fig.dataset.channel)]}`);
    const grayFig = grayRow.querySelector('.arr-figure');
    if (grayFig) {
      const l = grayOf(...v);
      mark(grayFig, r, c, `gray = ${l}`);
      grayRow.querySelector('[data-role=worked]').replaceChildren(`Your chosen pixel (row ${r}, column ${c}): 0.299 × ${v[0]} + ` +
        `0.587 × ${v[1]} + 0.114 × ${v[2]} = ${(0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2]).toFixed(2)} → `, h('strong', {}, String(l)));
    }
  }

  function mark(fig, r, c, text) {
    const marker = fig.querySelector('.arr-marker');
    marker.style.left = `${(100 * (c + 0.5)) / s.px.width}%`;
    marker.style.top = `${(100 * (r + 0.5)) / s.px.height}%`;
    fig.querySelector('[data-role=value]').textContent = text;
  }

  // ------------------------------------------------------------------ flattening and counting
  async function askNumbers() {
    const colour = s.px.channels === 3;
    const out = await api.post('/api/learn/arrays/numbers', {image: s.info.id, row: s.chosen[0], col: s.chosen[1],
      size: colour ? 3 : 4, neurons: s.neurons});
    if (!ctx.alive()) return;
    s.flat = out;
    buildStage(out.patch);
    showCounts(out);
  }

  neuronsSelect.addEventListener('change', () => {
    s.neurons = Number(neuronsSelect.value);
    timed('arrays: neurons', () => askNumbers(), flattenNote).catch(() => {});
  });

  let flattened = false;
  function buildStage(p) {
    const colour = p.channels === 3;
    const cellW = colour ? 38 : 44, numH = colour ? 24 : 44, gap = 6;
    const pixelW = cellW + 8, pixelH = numH * p.channels + 8;
    const gridH = p.size * (pixelH + gap);
    const lineTop = gridH + 26;
    stage.style.height = `${lineTop + numH + 30}px`;
    stage.style.width = `${Math.max(p.flat.length * cellW, p.size * (pixelW + gap))}px`;
    const parts = [h('div', {class: 'arr-line-slot', style: `top:${lineTop - 4}px; width:${p.flat.length * cellW + 8}px; height:${numH + 8}px`},
      h('span', {}, `one line of ${p.flat.length} numbers: ${p.flat.length} input neurons`))];
    for (let r = 0; r < p.size; r++) {
      for (let c = 0; c < p.size; c++) {
        const v = p.patch[r][c];
        const rgb = colour ? v : [v, v, v];
        parts.push(h('div', {class: 'arr-pixel', style: `left:${c * (pixelW + gap)}px; top:${r * (pixelH + gap)}px; ` +
          `width:${pixelW}px; height:${pixelH}px; background: rgb(${rgb.join(',')})`}));
      }
    }
    p.flat.forEach((v, k) => {
      const [r, c, ch] = p.where[k];
      const tint = colour ? CHANNELS[ch].tint.map((t) => Math.round(t * v)) : [v, v, v];
      const light = colour ? v > 200 && ch === 1 : v > 140;
      const grid = {x: c * (pixelW + gap) + 4, y: r * (pixelH + gap) + 4 + ch * numH};
      const line = {x: k * cellW, y: lineTop};
      parts.push(h('div', {class: `arr-num${light ? ' light' : ''}`, dataset: {index: String(k), value: String(v),
        gx: String(grid.x), gy: String(grid.y), lx: String(line.x), ly: String(line.y), row: String(r)},
      style: `width:${cellW}px; height:${numH}px; background: rgb(${tint.join(',')}); ` +
        `transform: translate(${flattened ? line.x : grid.x}px, ${flattened ? line.y : grid.y}px)`}, String(v)));
      parts.push(h('div', {class: 'arr-index', style: `left:${line.x}px; top:${lineTop + numH + 2}px; width:${cellW}px`}, String(k)));
    });
    stage.replaceChildren(...parts);
    stage.classList.toggle('flat', flattened);
    stage.dataset.flattened = String(flattened);
    const shape = colour ? `(${p.size}, ${p.size}, 3)` : `(${p.size}, ${p.size})`;
    patchText.textContent = `A ${p.size}×${p.size} patch at row ${p.row}, column ${p.col}: shape ${shape}, ${p.flat.length} numbers.`;
    codeLine.textContent = `patch.shape          # ${shape}\nflatten(patch).shape # (${p.flat.length},)   ` +
      (colour ? 'row by row; in each pixel R, G, B' : 'row by row');
  }

  function animate(on) {
    flattened = on;
    flattenButton.textContent = on ? '◀ Back to a grid' : 'Flatten ▶';
    stage.classList.toggle('flat', on);
    stage.dataset.flattened = String(on);
    for (const n of stage.querySelectorAll('.arr-num')) {
      const row = Number(n.dataset.row);
      n.style.transitionDelay = `${(on ? row : (s.flat.patch.size - 1 - row)) * 0.35}s`;
      n.style.transform = `translate(${on ? n.dataset.lx : n.dataset.gx}px, ${on ? n.dataset.ly : n.dataset.gy}px)`;
    }
  }
  flattenButton.addEventListener('click', () => animate(!flattened));

  function showCounts(out) {
    const {height: H, width: W, channels: C, dense, big} = out;
    const mb = (x) => (x >= 1000 ? `${fmt(Math.round(x / 100) / 10)} GB` : x >= 1 ? `${fmt(Math.round(x))} MB` : `${fmt(Math.round(x * 1000))} kB`);
    counts.replaceChildren(
      h('div', {class: 'arr-count', dataset: {role: 'mine'}},
        h('div', {class: 'arr-count-title'}, 'Your picture'),
        h('div', {class: 'arr-count-big'}, `${H} × ${W} × ${C} = `, h('strong', {dataset: {value: String(dense.inputs)}}, fmt(dense.inputs))),
        h('p', {}, `numbers, so a dense layer needs ${fmt(dense.inputs)} input neurons. With ${fmt(dense.neurons)} neurons it has `,
          h('strong', {}, fmt(dense.weights)), ` weights (${fmt(dense.inputs)} × ${fmt(dense.neurons)}) and ${fmt(dense.biases)} biases: ${mb(dense.megabytes)} of memory.`)),
      h('div', {class: 'arr-count', dataset: {role: 'big'}},
        h('div', {class: 'arr-count-title'}, 'A 1024×1024 colour photo'),
        h('div', {class: 'arr-count-big'}, '1024 × 1024 × 3 = ', h('strong', {dataset: {value: String(big.inputs)}}, fmt(big.inputs))),
        h('p', {}, `input neurons. With ${fmt(big.neurons)} neurons: `, h('strong', {}, fmt(big.weights)),
          ` weights, ${mb(big.megabytes)} for one layer, and the layer no longer knows which pixels were neighbours. ` +
          'Convolution (the next idea) fixes both.')));
  }
}
