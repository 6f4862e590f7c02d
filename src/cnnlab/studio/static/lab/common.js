// What every lecture page (#/learn/<topic>) shares: the frame, the picture picker, a self-check question,
// drawing numbers as pictures, a stepper, and timing each interaction (the "within about 100 ms").

import {api, ApiError} from '../api.js';
import {h, errorBox, openDialog, toast, cleanMessage} from '../dom.js';
import {openCamera, stopCamera, grabFrame} from '../webcam.js';

export {api, ApiError, h, errorBox, toast, cleanMessage};

/** The lecture's order (the same list as cnnlab.studio.lab.TOPICS). */
export const TOPICS = [
  {key: 'arrays', title: 'Images are arrays', icon: '▦', text: 'A photo is a grid of numbers. Hover, zoom, split the colours.'},
  {key: 'convolution', title: 'Convolution', icon: '⊞', text: 'Slide a small kernel over the picture, step by step, and edit it.'},
  {key: 'channels', title: 'Many channels', icon: '≣', text: 'One kernel per colour channel, and how the results add up.'},
  {key: 'pooling', title: 'Max pooling', icon: '▣', text: 'Keep the biggest number of each window. What happens when the picture moves?'},
  {key: 'augmentation', title: 'Data augmentation', icon: '⟲', text: 'Mirror, turn, shift, crop, recolour, erase: more photos for free.'},
  {key: 'normalization', title: 'Normalization', icon: '◎', text: 'Why training walks faster downhill when inputs are normalized.'},
  {key: 'batchnorm', title: 'Batch norm and dropout', icon: '▥', text: 'Watch activations settle, and neurons switch off at random.'},
  {key: 'transfer', title: 'Transfer learning', icon: '⇪', text: 'Reuse a network trained on a million photos; train only its end.'},
  {key: 'inside', title: 'Inside your model', icon: '◉', text: 'What your trained model looks for: kernels, feature maps, Grad-CAM.'},
  {key: 'builder', title: 'Network builder', icon: '▤', text: 'Stack layers like the Keras slide, see shapes and sizes, train it.'},
];

const loadedStyles = new Set();
/** Load /static/lab/<name>.css once (each page keeps its own look in its own file). */
export function useStyle(name) {
  if (loadedStyles.has(name)) return;
  loadedStyles.add(name);
  document.head.append(h('link', {rel: 'stylesheet', href: `/static/lab/${name}.css`}));
}

/**
 * The frame of a lecture page: where you are, the title, the text, and links to the previous and next idea.
 * Returns {body}: the element the page fills.
 */
export function labFrame(view, key, ...paragraphs) {
  useStyle('lab');
  useStyle(key);
  const i = TOPICS.findIndex((t) => t.key === key);
  const topic = TOPICS[i];
  const prev = TOPICS[i - 1], next = TOPICS[i + 1];
  const nav = h('nav', {class: 'lab-prevnext', 'aria-label': 'Previous and next idea'},
    prev ? h('a', {href: `#/learn/${prev.key}`, class: 'button ghost small', rel: 'prev'}, `← ${i}. ${prev.title}`) : h('span'),
    next ? h('a', {href: `#/learn/${next.key}`, class: 'button ghost small', rel: 'next'}, `${i + 2}. ${next.title} →`) : h('span'));
  const body = h('div', {class: 'lab-body'});
  view.append(
    h('div', {class: 'lab-head'},
      h('a', {href: '#/learn', class: 'back-link'}, '← All ideas of the lecture'),
      h('h1', {tabindex: '-1'}, h('span', {class: 'lab-number'}, `${i + 1}`), topic.title)),
    paragraphs.length ? h('div', {class: 'lab-intro'}, paragraphs.map((p) => (p instanceof Node ? p : h('p', {}, p)))) : null,
    body, nav);
  return {body, topic};
}

/**
 * One self-check question with feedback.
 *   choices: a multiple-choice question; answer is the index of the right choice.
 *   or answer: a number (with tolerance) typed in a box.
 * why: the sentence shown once answered right; hint: shown after a wrong answer.
 */
export function selfCheck({question, choices = null, answer, tolerance = 0, why = '', hint = ''}) {
  const feedback = h('div', {class: 'lab-feedback', 'aria-live': 'polite'});
  const judge = (right) => {
    feedback.className = `lab-feedback ${right ? 'right' : 'wrong'}`;
    feedback.replaceChildren(right ? `✔ Right! ${why}` : `✘ Not quite. ${hint || 'Look again and try once more.'}`);
    box.dataset.answered = right ? 'right' : 'wrong';
  };
  let form;
  if (choices) {
    form = h('div', {class: 'lab-choices', role: 'group', 'aria-label': question},
      choices.map((c, j) => h('button', {type: 'button', class: 'ghost small', dataset: {choice: String(j)},
        onclick: () => judge(j === answer)}, c)));
  } else {
    const input = h('input', {type: 'text', inputmode: 'decimal', class: 'small-input', 'aria-label': 'Your answer',
      autocomplete: 'off'});
    form = h('form', {class: 'inline-form lab-answer', onsubmit: (e) => {
      e.preventDefault();
      const value = Number(String(input.value).replace(/[, _]/g, ''));
      if (!input.value.trim() || Number.isNaN(value)) { feedback.className = 'lab-feedback wrong'; feedback.replaceChildren('Type a number first.'); return; }
      judge(Math.abs(value - answer) <= tolerance);
    }}, input, h('button', {type: 'submit', class: 'secondary small'}, 'Check'));
  }
  const box = h('section', {class: 'card lab-check', 'aria-label': 'Check yourself'},
    h('h2', {}, 'Check yourself'), h('p', {}, question), form, feedback);
  return box;
}

// ------------------------------------------------------------------------------------------- timing

window.cnnlabLab = window.cnnlabLab || {timings: {}};

/**
 * Run one interaction's update and time it: from the input event to the result drawn. The times are kept in
 * window.cnnlabLab.timings[label] (the latency benchmark reads them) and shown in `note` ("updated in 23 ms").
 */
export async function timed(label, fn, note = null) {
  const start = performance.now();
  const result = await fn();
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));  // until it is on the screen
  const ms = performance.now() - start;
  (window.cnnlabLab.timings[label] = window.cnnlabLab.timings[label] || []).push(ms);
  if (note) {
    note.textContent = `updated in ${Math.round(ms)} ms`;
    note.dataset.ms = String(Math.round(ms));
  }
  return result;
}

/** A small muted "updated in N ms" line for a page. */
export function speedNote() {
  return h('span', {class: 'lab-speed muted', 'aria-hidden': 'true'});
}

/**
 * Wrap an async update so that calls arriving while one runs do not pile up: only the latest waits.
 * (A slider fires dozens of events a second; the server only ever works on the newest value.)
 */
export function latest(fn) {
  let running = null, queued = null;
  const run = async (...args) => {
    if (running) { queued = args; return running; }
    running = (async () => {
      try { await fn(...args); } catch (err) { showError(err); }
      finally {
        running = null;
        if (queued) { const next = queued; queued = null; run(...next); }
      }
    })();
    return running;
  };
  return run;
}

function showError(err) {
  toast(cleanMessage(err), 'error');
}

// ------------------------------------------------------------------------------------------- pictures

const IMAGE_KEY = 'cnnlab-lab-image';
let samplesPromise = null;

/** The built-in pictures: [{id, name, about, width, height, channels, url}] (asked once). */
export function samples() {
  if (!samplesPromise) samplesPromise = api.get('/api/learn/samples').catch((e) => { samplesPromise = null; throw e; });
  return samplesPromise;
}

/** The picture the student picked last (on any page), or the cat. Returns its info. */
export async function currentImage(fallback = 'sample-cat') {
  const id = sessionStorage.getItem(IMAGE_KEY);
  if (id) {
    try { return await api.get(`/api/learn/images/${encodeURIComponent(id)}`); } catch { sessionStorage.removeItem(IMAGE_KEY); }
  }
  return api.get(`/api/learn/images/${encodeURIComponent(fallback)}`);
}

function remember(info) {
  sessionStorage.setItem(IMAGE_KEY, info.id);
  return info;
}

/**
 * The picture's pixels in the browser: {width, height, channels, rgba: Uint8ClampedArray (w*h*4), gray(): Float64Array}
 * (the PNG the server computes on, so browser-side numbers equal the server's).
 */
export async function loadPixels(info) {
  const response = await fetch(info.url, {credentials: 'same-origin'});
  if (!response.ok) throw new Error('The picture could not be loaded. Pick it again.');
  const bitmap = await createImageBitmap(await response.blob(), {colorSpaceConversion: 'none', premultiplyAlpha: 'none'});
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const g = canvas.getContext('2d', {willReadFrequently: true});
  g.drawImage(bitmap, 0, 0);
  const rgba = g.getImageData(0, 0, bitmap.width, bitmap.height, {colorSpace: 'srgb'}).data;
  return {width: bitmap.width, height: bitmap.height, channels: info.channels, rgba, info};
}

/**
 * The picture picker: the built-in samples, "Upload a photo", "Webcam snapshot", "From a project".
 * onPick(info) runs with the new picture's info (and once at the start with the current picture).
 * Returns {element, current(): info}.
 */
export function imagePicker(onPick, {label = 'Pick a picture'} = {}) {
  let current = null;
  const row = h('div', {class: 'lab-picker-row'});
  const status = h('span', {class: 'muted small-text', 'aria-live': 'polite'});
  const choose = async (promise) => {
    try {
      status.textContent = 'Loading…';
      const info = remember(await promise);
      current = info;
      for (const b of row.querySelectorAll('[data-image]')) b.setAttribute('aria-pressed', String(b.dataset.image === info.id));
      status.textContent = `${info.name}: ${info.width}×${info.height}${info.channels === 3 ? ', colour' : ', gray'}`;
      await onPick(info);
    } catch (err) { status.textContent = ''; showError(err); }
  };
  const file = h('input', {type: 'file', accept: 'image/*', class: 'visually-hidden', tabindex: '-1', id: `lab-file-${Math.random().toString(36).slice(2)}`});
  file.addEventListener('change', () => {
    if (!file.files.length) return;
    const form = new FormData();
    form.append('file', file.files[0]);
    choose(api.post('/api/learn/images', form));
    file.value = '';
  });
  const element = h('div', {class: 'card lab-picker'},
    h('div', {class: 'lab-picker-head'}, h('h2', {}, label), status), row);
  samples().then((list) => {
    row.append(...list.map((s) => h('button', {type: 'button', class: 'lab-sample', dataset: {image: s.id}, title: s.about,
      'aria-label': `Use ${s.about}`, 'aria-pressed': String(current && current.id === s.id), onclick: () => choose(api.post('/api/learn/images', {sample: s.name}))},
    h('img', {src: s.url, alt: '', loading: 'lazy'}))),
    h('label', {class: 'button ghost small', for: file.id, tabindex: '0', role: 'button',
      onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); file.click(); } }}, 'Upload a photo'),
    file,
    h('button', {type: 'button', class: 'ghost small', dataset: {action: 'webcam-snapshot'}, onclick: () => snapshot(choose)}, 'Webcam snapshot'),
    h('button', {type: 'button', class: 'ghost small', dataset: {action: 'project-photo'}, onclick: () => projectPhoto(choose)}, 'From a project'));
  }).catch(showError);
  currentImage().then((info) => choose(Promise.resolve(info))).catch(showError);
  return {element, current: () => current};
}

function snapshot(choose) {
  const video = h('video', {class: 'camera', autoplay: true, muted: true, playsinline: true, 'aria-label': 'Webcam picture'});
  const canvas = h('canvas', {hidden: true});
  const message = h('p', {class: 'muted', 'aria-live': 'polite'}, 'Starting the camera…');
  let stream = null;
  const take = h('button', {type: 'button', class: 'primary', disabled: true, dataset: {action: 'take-snapshot'}, onclick: () => {
    grabFrame(video, canvas);
    canvas.toBlob((blob) => {
      const form = new FormData();
      form.append('file', new File([blob], 'webcam.png', {type: 'image/png'}));
      close();
      choose(api.post('/api/learn/images', form));
    }, 'image/png');
  }}, 'Take the picture');
  const {body, close} = openDialog('Webcam snapshot', {onClose: () => stopCamera(stream, video)});
  body.append(h('div', {class: 'camera-box'}, video), canvas, message, h('div', {class: 'button-row'}, take));
  openCamera(video).then((s) => { stream = s; message.textContent = 'Smile! Then take the picture.'; take.disabled = false; })
    .catch((err) => { message.textContent = err.message; });
}

async function projectPhoto(choose) {
  const {body, close} = openDialog('A photo from one of your projects', {wide: true});
  const grid = h('div', {class: 'lab-project-photos'});
  body.append(grid);
  try {
    const projects = await api.get('/api/projects');
    if (!projects.length) { grid.append(h('p', {class: 'muted'}, 'You have no projects yet. Make one on the Projects page first.')); return; }
    for (const p of projects) {
      const project = await api.get(`/api/projects/${encodeURIComponent(p.id)}`);
      for (const c of project.classes || []) {
        const images = await api.get(`/api/projects/${encodeURIComponent(p.id)}/classes/${encodeURIComponent(c.id)}/images`);
        if (!images.length) continue;
        grid.append(h('h3', {}, `${project.name} · ${c.name}`), h('div', {class: 'lab-photo-row'},
          images.slice(0, 12).map((im) => h('button', {type: 'button', class: 'lab-sample', 'aria-label': `Use ${im.name || im.id}`,
            onclick: () => { close(); choose(api.post('/api/learn/images', {project: p.id, class: c.id, image: im.id})); }},
          h('img', {src: im.url, alt: '', loading: 'lazy'})))));
      }
    }
    if (!grid.childNodes.length) grid.append(h('p', {class: 'muted'}, 'Your projects have no photos yet.'));
  } catch (err) { grid.append(errorBox(err)); }
}

// ------------------------------------------------------------------------------------------- drawing numbers

/**
 * Draw numbers (row-major, w*h, or w*h*3 interleaved for colour) into a canvas, one canvas pixel per number.
 *   range: [lo, hi] mapped to black..white (default 0..255); signed: true maps ±max to blue..red around white.
 * Scale the canvas with CSS (image-rendering: pixelated) to zoom.
 */
export function drawNumbers(canvas, values, w, hgt, {channels = 1, range = [0, 255], signed = false} = {}) {
  canvas.width = w; canvas.height = hgt;
  const g = canvas.getContext('2d');
  const img = g.createImageData(w, hgt);
  const out = img.data;
  let top = 1;
  if (signed) { top = 0; for (const v of values) top = Math.max(top, Math.abs(v)); top = top || 1; }
  const [lo, hi] = range;
  const scale = 255 / ((hi - lo) || 1);
  for (let i = 0; i < w * hgt; i++) {
    if (signed) {
      const t = Math.max(-1, Math.min(1, values[i] / top));
      // white at 0, red for positive, blue for negative
      out[4 * i] = t < 0 ? Math.round(255 * (1 + t)) : 255;
      out[4 * i + 1] = Math.round(255 * (1 - Math.abs(t)));
      out[4 * i + 2] = t > 0 ? Math.round(255 * (1 - t)) : 255;
    } else if (channels === 3) {
      for (let c = 0; c < 3; c++) out[4 * i + c] = (values[3 * i + c] - lo) * scale;
    } else {
      const v = (values[i] - lo) * scale;
      out[4 * i] = v; out[4 * i + 1] = v; out[4 * i + 2] = v;
    }
    out[4 * i + 3] = 255;
  }
  g.putImageData(img, 0, 0);
  return canvas;
}

/** A canvas shown zoomed with sharp pixels (CSS size = w*zoom). */
export function pixelCanvas(attrs = {}) {
  return h('canvas', {class: 'lab-pixels', ...attrs});
}

/**
 * A table of numbers (a small matrix): rows of cells, each with data-value (the exact number) for tests.
 *   format(v): the text of a cell; mark(r, c): a class name for a cell (e.g. 'hit') or ''.
 */
export function numberGrid(matrix, {format = (v) => String(Math.round(v * 100) / 100), mark = () => '', label = 'numbers', shade = null} = {}) {
  return h('table', {class: 'lab-grid', 'aria-label': label},
    h('tbody', {}, matrix.map((row, r) => h('tr', {}, row.map((v, c) => {
      const cls = mark(r, c);
      const style = shade ? `background: ${shade(v)}` : null;
      return h('td', {class: cls || null, dataset: {value: String(v), row: String(r), col: String(c)}, style}, format(v));
    })))));
}

/** Background colour of a 0..255 pixel value (text colour must contrast: use with gridText). */
export function grayShade(v) {
  const x = Math.max(0, Math.min(255, Math.round(v)));
  return `rgb(${x}, ${x}, ${x}); color: ${x > 140 ? '#111' : '#fff'}`;
}

// ------------------------------------------------------------------------------------------- stepper

/**
 * Play / pause / step back / step / speed for a sequence of `count` positions.
 * onStep(i) draws position i. Returns {element, go(i), stop(), index()}.
 */
export function stepper(count, onStep, {label = 'Step', delays = {slow: 900, normal: 450, fast: 120}} = {}) {
  let i = 0, timer = null, total = count;
  const position = h('span', {class: 'lab-step-pos', 'aria-live': 'polite'});
  const play = h('button', {type: 'button', class: 'primary small', dataset: {action: 'play'}}, '▶ Play');
  const speed = h('select', {'aria-label': 'Speed', class: 'small-select'},
    Object.keys(delays).map((k) => h('option', {value: k, selected: k === 'normal'}, k)));
  const show = () => { position.textContent = `${label} ${i + 1} of ${total}`; onStep(i); };
  const go = (j) => { i = Math.max(0, Math.min(total - 1, j)); show(); };
  const stop = () => { if (timer) clearInterval(timer); timer = null; play.textContent = '▶ Play'; };
  const start = () => {
    stop();
    play.textContent = '❚❚ Pause';
    timer = setInterval(() => { if (i >= total - 1) { stop(); return; } go(i + 1); }, delays[speed.value]);
  };
  play.addEventListener('click', () => (timer ? stop() : (i >= total - 1 && go(0), start())));
  speed.addEventListener('change', () => { if (timer) start(); });
  const element = h('div', {class: 'lab-stepper', role: 'group', 'aria-label': 'Stepper'},
    h('button', {type: 'button', class: 'ghost small', dataset: {action: 'back'}, 'aria-label': 'One step back', onclick: () => { stop(); go(i - 1); }}, '◀'),
    play,
    h('button', {type: 'button', class: 'ghost small', dataset: {action: 'step'}, 'aria-label': 'One step forward', onclick: () => { stop(); go(i + 1); }}, '▶|'),
    speed, position);
  return {element, go, stop, index: () => i, setCount: (n) => { total = n; go(Math.min(i, n - 1)); }};
}
