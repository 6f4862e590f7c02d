// The kernel editor the Convolution and Many channels pages share: a grid of number boxes (fractions such as
// 1/9 welcome), presets, and a 3x3 / 5x5 switch. Boxes are tinted by sign: warm for positive, blue for negative.

import {h, useStyle} from './common.js';

const id3 = [[0, 0, 0], [0, 1, 0], [0, 0, 0]];
const fill = (n, v) => Array.from({length: n}, () => Array(n).fill(v));
const outer = (a, d) => a.map((x) => a.map((y) => (x * y === d ? '1' : `${x * y}/${d}`)));
const grow = (m) => [[0, 0, 0, 0, 0], ...m.map((r) => [0, ...r, 0]), [0, 0, 0, 0, 0]];  // 3x3 in the middle of 5x5
const centre = (n, v, rest) => fill(n, rest).map((r, i) => r.map((x, j) => (i === (n >> 1) && j === (n >> 1) ? v : x)));
const transpose = (m) => m[0].map((_, j) => m.map((r) => r[j]));
const sobel5 = [[-1, -2, 0, 2, 1], [-4, -8, 0, 8, 4], [-6, -12, 0, 12, 6], [-4, -8, 0, 8, 4], [-1, -2, 0, 2, 1]];

/** The presets, each in 3x3 and 5x5 (numbers, or fractions as text: "1/9"). */
export const PRESETS = [
  {key: 'identity', name: 'Identity', about: 'a 1 in the middle: the picture stays as it is', 3: id3, 5: grow(id3)},
  {key: 'edges', name: 'Edges', about: 'the middle pixel minus its neighbours: outlines light up', 3: centre(3, 8, -1), 5: centre(5, 24, -1)},
  {key: 'blur', name: 'Blur', about: 'the average of the window (a box blur)', 3: fill(3, '1/9'), 5: fill(5, '1/25')},
  {key: 'gaussian', name: 'Gaussian blur', about: 'a softer average: near pixels count more', 3: outer([1, 2, 1], 16), 5: outer([1, 4, 6, 4, 1], 256)},
  {key: 'sharpen', name: 'Sharpen', about: 'the middle pixel, plus how much it differs from its neighbours', 3: [[0, -1, 0], [-1, 5, -1], [0, -1, 0]], 5: grow([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])},
  {key: 'sobel-x', name: 'Sobel x', about: 'right minus left: finds up-and-down edges', 3: [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], 5: sobel5},
  {key: 'sobel-y', name: 'Sobel y', about: 'below minus above: finds left-to-right edges', 3: transpose([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]), 5: transpose(sobel5)},
];

const NUMBER = /^\s*([-+−]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:\/\s*(\d+(?:\.\d*)?|\.\d+))?\s*$/;
const LIMIT = 10000;  // the server's limit on a kernel number

/** "1/9" -> 0.111…, "-2" -> -2, "" or "abc" -> NaN (the value the server computes with). */
export function parseNumber(text) {
  const m = NUMBER.exec(String(text));
  if (!m) return NaN;
  const top = Number(m[1].replace('−', '-'));
  const bottom = m[2] === undefined ? 1 : Number(m[2]);
  const v = top / bottom;
  return Number.isFinite(v) && Math.abs(v) <= LIMIT ? v : NaN;
}

/** A soft background for a weight: warm for positive, blue for negative, stronger for bigger (relative to top). */
export function weightShade(v, top) {
  const t = top ? Math.min(1, Math.abs(v) / top) : 0;
  const a = (0.08 + 0.5 * t).toFixed(2);
  if (!v) return 'background: #fff; color: #8a8fa0';
  return v > 0 ? `background: rgba(232, 89, 12, ${a}); color: #111` : `background: rgba(59, 91, 219, ${a}); color: #111`;
}

/** A short text for a number: whole numbers as they are, others with up to 2 (or 3 for small ones) decimals. */
export function short(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '';
  if (Number.isInteger(v)) return String(v);
  const digits = Math.abs(v) < 1 ? 3 : Math.abs(v) < 100 ? 2 : 1;
  return String(Number(v.toFixed(digits)));
}

/**
 * The kernel editor.
 *   size: 3 or 5; sizes: the sizes offered ([3] hides the switch); preset: the preset to start with.
 *   compact: presets in a drop-down instead of buttons (three editors side by side).
 *   onChange(values, why): after every valid change; why is 'edit', 'preset' or 'size'.
 * Returns {element, values(): number[][], size(), setPreset(key), setValues(matrix)}.
 */
export function kernelEditor({size = 3, sizes = [3, 5], preset = 'edges', label = 'Kernel', compact = false, name = 'kernel', onChange = () => {}} = {}) {
  useStyle('kernel');
  let n = size, current = preset, boxes = [];
  const grid = h('div', {class: 'kernel-grid', role: 'group', 'aria-label': `${label}: its numbers`});
  const problem = h('p', {class: 'kernel-problem error-text', 'aria-live': 'polite'});
  const about = h('p', {class: 'kernel-about muted'});

  const values = () => boxes.map((row) => row.map((b) => parseNumber(b.value)));
  const tint = () => {
    const v = values();
    const top = Math.max(...v.flat().filter(Number.isFinite).map(Math.abs), 0);
    boxes.forEach((row, i) => row.forEach((b, j) => {
      const x = v[i][j];
      b.style.cssText = Number.isFinite(x) ? weightShade(x, top) : '';
      b.setAttribute('aria-invalid', String(!Number.isFinite(x)));
    }));
    const bad = v.flat().some((x) => !Number.isFinite(x));
    problem.textContent = bad ? `Each box needs a number, like 2, -0.5 or 1/9 (at most ${LIMIT} either way).` : '';
    return !bad;
  };
  const build = (matrix) => {
    n = matrix.length;
    boxes = matrix.map((row, i) => row.map((v, j) => h('input', {type: 'text', inputmode: 'decimal', autocomplete: 'off',
      spellcheck: 'false', class: 'kernel-box', value: String(v), 'aria-label': `${label}, row ${i + 1}, column ${j + 1}`,
      dataset: {row: String(i), col: String(j)}})));
    grid.style.gridTemplateColumns = `repeat(${n}, auto)`;
    grid.classList.toggle('wide', matrix.flat().some((v) => String(v).length > 4));  // e.g. 36/256
    grid.replaceChildren(...boxes.flat());
    tint();
  };
  const mark = () => {
    for (const b of element.querySelectorAll('[data-preset]')) b.setAttribute('aria-pressed', String(b.dataset.preset === current));
    if (select) select.value = current || '';
    const p = PRESETS.find((x) => x.key === current);
    about.textContent = p ? `${p.name}: ${p.about}.` : 'Your own kernel.';
  };
  const changed = (why) => { if (tint()) onChange(values(), why); };
  const setPreset = (key, why = 'preset') => {
    const p = PRESETS.find((x) => x.key === key);
    if (!p) return;
    current = key;
    build(p[n]);
    mark();
    changed(why);
  };
  const setSize = (m) => {
    if (m === n) return;
    if (current) { n = m; setPreset(current, 'size'); } else {
      const old = boxes.map((row) => row.map((b) => b.value));
      const d = (m - n) / 2;  // keep the middle: grow with zeros, or cut the border
      build(Array.from({length: m}, (_, i) => Array.from({length: m}, (_, j) => (old[i - d] && old[i - d][j - d] !== undefined ? old[i - d][j - d] : '0'))));
      changed('size');
    }
    sizeButtons();
  };

  const matching = () => {  // the preset these numbers are, if any
    const v = values().flat();
    const p = PRESETS.find((x) => x[n].flat().every((w, i) => parseNumber(w) === v[i]));
    return p ? p.key : null;
  };
  grid.addEventListener('input', () => { current = matching(); mark(); changed('edit'); });
  grid.addEventListener('keydown', (e) => {  // arrow keys move between the boxes
    const b = e.target.closest('.kernel-box');
    if (!b || !['ArrowUp', 'ArrowDown'].includes(e.key) && !(['ArrowLeft', 'ArrowRight'].includes(e.key) && (e.altKey || e.ctrlKey))) return;
    const i = Number(b.dataset.row) + (e.key === 'ArrowDown') - (e.key === 'ArrowUp');
    const j = Number(b.dataset.col) + (e.key === 'ArrowRight') - (e.key === 'ArrowLeft');
    if (boxes[i] && boxes[i][j]) { e.preventDefault(); boxes[i][j].focus(); boxes[i][j].select(); }
  });

  const sizeRow = h('div', {class: 'kernel-sizes', role: 'group', 'aria-label': 'Kernel size'});
  const sizeButtons = () => sizeRow.replaceChildren(...sizes.map((m) => h('button', {type: 'button', class: 'ghost small',
    dataset: {size: String(m)}, 'aria-pressed': String(m === n), onclick: () => setSize(m)}, `${m}×${m}`)));
  let select = null;
  let presetRow;
  if (compact) {
    select = h('select', {class: 'small-select kernel-select', 'aria-label': `${label}: preset`, dataset: {name},
      onchange: () => select.value && setPreset(select.value)},
    h('option', {value: ''}, 'Your own'), PRESETS.map((p) => h('option', {value: p.key}, p.name)));
    presetRow = select;
  } else {
    presetRow = h('div', {class: 'kernel-presets', role: 'group', 'aria-label': 'Presets'},
      PRESETS.map((p) => h('button', {type: 'button', class: 'ghost small', dataset: {preset: p.key}, title: p.about,
        onclick: () => setPreset(p.key)}, p.name)));
  }
  const element = h('div', {class: `kernel-editor${compact ? ' compact' : ''}`, dataset: {name}},
    sizes.length > 1 ? sizeRow : null, presetRow, grid, problem, compact ? null : about);
  sizeButtons();
  build((PRESETS.find((x) => x.key === preset) || PRESETS[0])[n]);
  mark();
  return {
    element, values, size: () => n, setPreset,
    setValues: (matrix) => { build(matrix); current = matching(); mark(); changed('edit'); },
    valid: () => values().flat().every(Number.isFinite),
  };
}
