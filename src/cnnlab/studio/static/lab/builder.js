// #/learn/builder: 10. Network builder. Stack the lecture's layers as its Keras slide does; every change asks the
// server for the table of the very model cnnlab.create_model("stack", ...) builds (cnnlab.models.layer_table, the
// numbers cnnlab.summary prints), the cnnlab code and the Keras code; an impossible stack comes back as one
// sentence naming its layer. Train trains it through the job API; the leaderboard compares the student's networks.

import {labFrame, selfCheck, timed, speedNote, latest, api, h, toast, cleanMessage} from './common.js';

// the lecture's batch-norm slide (Conv2D(64, (3,3)) BN ReLU Flatten Dense(64) BN ReLU Dense), for 10 classes
const SLIDE = [
  {kind: 'conv', size: 64, kernel: 3, padding: 'valid'}, {kind: 'batchnorm'}, {kind: 'relu'}, {kind: 'flatten'},
  {kind: 'dense', size: 64}, {kind: 'batchnorm'}, {kind: 'relu'}, {kind: 'dense', size: null},
];
const PALETTE = [
  {kind: 'conv', name: 'Conv2D', about: 'filters slide over the map', make: () => ({kind: 'conv', size: 32, kernel: 3, padding: 'same'})},
  {kind: 'batchnorm', name: 'BatchNormalization', about: 'mean 0, spread 1 per channel', make: () => ({kind: 'batchnorm'})},
  {kind: 'relu', name: 'ReLU', about: 'negative numbers become 0', make: () => ({kind: 'relu'})},
  {kind: 'maxpool', name: 'MaxPooling2D', about: 'keep the biggest of each window', make: () => ({kind: 'maxpool', size: 2})},
  {kind: 'dropout', name: 'Dropout', about: 'switch off some numbers while training', make: () => ({kind: 'dropout', rate: 0.3})},
  {kind: 'flatten', name: 'Flatten', about: 'the map becomes one long list', make: () => ({kind: 'flatten'})},
  {kind: 'dense', name: 'Dense', about: 'every number connects to every unit', make: () => ({kind: 'dense', size: 64})},
];
const NAMES = Object.fromEntries(PALETTE.map((p) => [p.kind, p.name]));
const STATIC_DATA = [
  {key: 'fashion-mnist', name: 'Fashion-MNIST: clothes, 28×28 gray'},
  {key: 'digits', name: 'digits: handwritten, 8×8 gray (quickest)'},
];

const num = (v) => Number(v).toLocaleString('en-US');
const shape = (a) => `(${a.join(', ')}${a.length === 1 ? ',' : ''})`;  // as cnnlab.summary prints it
const pct = (v) => (v === null || v === undefined ? '–' : `${(100 * v).toFixed(1)}%`);

/** The text spec of the blocks ("conv 64 3, batchnorm, ..."), as the stack model reads it. */
function toSpec(blocks) {
  return blocks.map((b) => {
    if (b.kind === 'conv') return `conv ${b.size} ${b.kernel}${b.padding === 'same' ? ' same' : ''}`;
    if (b.kind === 'maxpool') return `maxpool ${b.size}`;
    if (b.kind === 'dropout') return `dropout ${b.rate}`;
    if (b.kind === 'dense') return b.size === null || b.size === '' ? 'dense' : `dense ${b.size}`;
    return b.kind;
  }).join(', ');
}

export default async function page(view, {ctx}) {
  const {body} = labFrame(view, 'builder',
    'In Keras you build a network by stacking layers one after another: model.add(layers.Conv2D(64, (3,3))), then ' +
    'BatchNormalization, then Activation("relu"), and so on. Do the same here with blocks. Each block changes the ' +
    'shape of the numbers flowing through: a convolution makes many channels, pooling makes the map smaller, Flatten ' +
    'turns the map into one long list, and Dense layers end with one score per class.',
    'Next to every block you see the shape that comes out, how many numbers the layer learns (its parameters) and ' +
    'how much arithmetic one image costs (FLOPs). Then train your network and see how it does on the leaderboard.');

  let blocks = SLIDE.map((b) => ({...b}));
  let data = 'fashion-mnist';
  let lastGood = null;  // the last answer of a stack that works
  let refused = null;  // {error, layer} of the stack shown, or null
  const note = speedNote();

  // ------------------------------------------------------------------------------ the stack
  const dataSelect = h('select', {'aria-label': 'Data to train on', class: 'bd-data', name: 'data'},
    STATIC_DATA.map((d) => h('option', {value: d.key}, d.name)));
  dataSelect.addEventListener('change', () => { data = dataSelect.value; update(); });
  const palette = h('div', {class: 'bd-palette', role: 'group', 'aria-label': 'Add a layer'},
    PALETTE.map((p) => h('button', {type: 'button', class: `bd-add bd-kind-${p.kind}`, dataset: {add: p.kind},
      title: `Add ${p.name}: ${p.about}`, onclick: () => add(p)}, `+ ${p.name}`)));
  const tbody = h('tbody');
  const totals = h('tfoot');
  const message = h('div', {class: 'bd-message', 'aria-live': 'polite'});
  const stackCard = h('section', {class: 'card bd-stack', 'aria-label': 'Your network'},
    h('div', {class: 'bd-head'}, h('h2', {}, 'Your network'),
      h('label', {class: 'bd-data-label'}, h('span', {}, 'Images:'), dataSelect)),
    palette,
    h('p', {class: 'lab-caption bd-hint'}, 'A new block goes in just before the last Dense (the layer that gives the ' +
      'scores). Move blocks with ↑ ↓, change their numbers, or remove them with ✕.'),
    h('table', {class: 'bd-table', 'aria-label': 'The layers, their output shapes, parameters and FLOPs'},
      h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Layer'), h('th', {class: 'num'}, 'Output shape'),
        h('th', {class: 'num'}, 'Params'), h('th', {class: 'num'}, 'FLOPs'), h('th', {}, h('span', {class: 'visually-hidden'}, 'Move or remove')))),
      tbody, totals),
    message,
    h('div', {class: 'bd-foot'},
      h('button', {type: 'button', class: 'ghost small', dataset: {action: 'reset'}, onclick: () => { blocks = SLIDE.map((b) => ({...b})); changed(true); }},
        '↺ Start again from the slide'),
      note),
    h('p', {class: 'lab-caption'}, 'Shapes are (channels, height, width) as PyTorch and cnnlab.summary write them; ' +
      'Keras writes (height, width, channels). FLOPs: 2 per multiply-add, one image, forward.'));

  // ------------------------------------------------------------------------------ the code
  const codeBox = h('pre', {class: 'lab-code bd-code', tabindex: '0', 'aria-label': 'The network as code'});
  const codeNote = h('p', {class: 'lab-caption bd-code-note'});
  let codeTab = 'cnnlab';
  const tabButton = (key, label) => h('button', {type: 'button', role: 'tab', class: 'bd-tab', dataset: {tab: key},
    'aria-selected': String(key === codeTab), onclick: () => { codeTab = key; showCode(); }}, label);
  const tabs = h('div', {class: 'bd-tabs', role: 'tablist', 'aria-label': 'Code'},
    tabButton('cnnlab', 'cnnlab (Python)'), tabButton('keras', 'Keras'));
  const copy = h('button', {type: 'button', class: 'ghost small bd-copy', onclick: async () => {
    try { await navigator.clipboard.writeText(codeBox.textContent); toast('Copied.'); } catch { toast('Select the code and copy it.'); }
  }}, 'Copy');
  const codeCard = h('section', {class: 'card bd-codecard', 'aria-label': 'The same network as code'},
    h('div', {class: 'bd-head'}, h('h2', {}, 'The same network as code'), copy), tabs, codeBox, codeNote);

  body.append(h('div', {class: 'bd-layout'}, stackCard, codeCard));

  function showCode() {
    for (const b of tabs.children) b.setAttribute('aria-selected', String(b.dataset.tab === codeTab));
    if (!lastGood) return;
    codeBox.textContent = lastGood.code[codeTab];
    const t = lastGood.totals;
    const keras = t.keras_params === t.params ? `For these layers Keras's model.summary() counts the same ${num(t.params)} parameters.`
      : `For these layers Keras's model.summary() counts ${num(t.keras_params)} parameters, cnnlab ${num(t.params)}: ` +
        'Keras also counts batch norm\'s running mean and variance (2 per channel, "non-trainable"), which PyTorch keeps aside.';
    const bias = blocks.some((b, i) => b.kind === 'conv' && blocks[i + 1] && blocks[i + 1].kind === 'batchnorm')
      ? ' A Conv2D right before BatchNormalization keeps its bias here, as in Keras, although batch norm cancels it ' +
        '(Conv2D(..., use_bias=False) saves those numbers).' : '';
    codeNote.textContent = (codeTab === 'keras'
      ? `${keras} Its Normalization layer adds a mean and a variance on top.${bias} `
      : 'Paste it into a Python file and run it: it prints the table of this page and trains the network as the ' +
        'Train button does. ') + (refused ? 'This is the last network that worked; fix the red block to update it.' : '');
    codeBox.classList.toggle('bd-stale', Boolean(refused));
  }

  // ------------------------------------------------------------------------------ blocks
  // The rows are built again only when blocks are added, moved or removed; typing a number only refreshes the
  // numbers (so the box keeps its focus).
  function add(p) {
    const lastDense = blocks.length && blocks[blocks.length - 1].kind === 'dense' ? blocks.length - 1 : blocks.length;
    blocks.splice(lastDense, 0, p.make());
    changed(true);
  }
  function move(i, d) {
    const j = i + d;
    if (j < 0 || j >= blocks.length) return;
    [blocks[i], blocks[j]] = [blocks[j], blocks[i]];
    changed(true);
  }
  function remove(i) { blocks.splice(i, 1); changed(true); }
  function changed(structure) { if (structure) render(); update(); }

  function numberInput(b, key, label, {min, max, step = 1, width = 4, placeholder = '', echo = null}) {
    const input = h('input', {type: 'number', min, max, step, value: b[key] === null ? '' : String(b[key]),
      placeholder, class: 'bd-num', style: `width: ${width + 5}ch`, 'aria-label': label, dataset: {field: key}});
    input.addEventListener('input', () => {
      b[key] = input.value === '' ? null : input.value;
      if (echo) echo.textContent = `× ${input.value}`;
      changed(false);
    });
    return input;
  }
  function settings(b, i) {
    const unit = (...text) => h('span', {class: 'bd-unit'}, ...text);
    if (b.kind === 'conv') {
      const pad = h('select', {class: 'bd-pad', 'aria-label': `Padding of layer ${i + 1}`, dataset: {field: 'padding'}},
        h('option', {value: 'valid', selected: b.padding !== 'same'}, 'valid'), h('option', {value: 'same', selected: b.padding === 'same'}, 'same'));
      pad.addEventListener('change', () => { b.padding = pad.value; changed(false); });
      const echo = unit(`× ${b.kernel ?? ''}`);
      return [numberInput(b, 'size', `Filters of layer ${i + 1}`, {min: 1, max: 512, width: 3}), unit('filters'),
        numberInput(b, 'kernel', `Kernel size of layer ${i + 1}`, {min: 1, max: 11, width: 2, echo}), echo, unit('padding'), pad];
    }
    if (b.kind === 'maxpool') {
      const echo = unit(`× ${b.size ?? ''}`);
      return [numberInput(b, 'size', `Pool size of layer ${i + 1}`, {min: 2, max: 8, width: 2, echo}), echo];
    }
    if (b.kind === 'dropout') return [numberInput(b, 'rate', `Dropout rate of layer ${i + 1}`, {min: 0, max: 0.95, step: 0.05, width: 4}), unit('switched off')];
    if (b.kind === 'dense') {
      const last = i === blocks.length - 1;
      return [numberInput(b, 'size', `Units of layer ${i + 1}`, {min: 1, max: 4096, width: 4, placeholder: last ? String(lastGood ? lastGood.data.classes : 10) : ''}),
        unit(last ? 'units (empty: one per class)' : 'units')];
    }
    return [];
  }

  const inputRow = {out: h('td', {class: 'num bd-out'}), name: h('span', {class: 'bd-unit'})};
  let cells = [];  // per block: {tr, out, params, flops}
  function render() {
    cells = blocks.map((b, i) => {
      const c = {out: h('td', {class: 'num bd-out'}, '–'), params: h('td', {class: 'num bd-params'}, '–'),
        flops: h('td', {class: 'num bd-flops'}, '–')};
      c.tr = h('tr', {class: 'bd-block', dataset: {index: String(i), kind: b.kind}},
        h('td', {class: 'bd-n'}, String(i + 1)),
        h('td', {}, h('div', {class: 'bd-layer'}, h('span', {class: `bd-chip bd-kind-${b.kind}`}, NAMES[b.kind]), ...settings(b, i))),
        c.out, c.params, c.flops,
        h('td', {class: 'bd-actions'},
          h('button', {type: 'button', class: 'ghost small', 'aria-label': `Move layer ${i + 1} up`, disabled: i === 0, onclick: () => move(i, -1)}, '↑'),
          h('button', {type: 'button', class: 'ghost small', 'aria-label': `Move layer ${i + 1} down`, disabled: i === blocks.length - 1, onclick: () => move(i, 1)}, '↓'),
          h('button', {type: 'button', class: 'ghost small bd-remove', 'aria-label': `Remove layer ${i + 1}`, onclick: () => remove(i)}, '✕')));
      return c;
    });
    tbody.replaceChildren(
      h('tr', {class: 'bd-input'}, h('td'), h('td', {}, h('div', {class: 'bd-layer'}, h('span', {class: 'bd-chip bd-kind-input'}, 'Input'), inputRow.name)),
        inputRow.out, h('td', {class: 'num'}, '0'), h('td', {class: 'num'}, '0'), h('td')),
      ...cells.map((c) => c.tr));
  }

  function fill(answer) {
    const rows = answer ? answer.rows : null;
    if (lastGood) {
      inputRow.out.textContent = shape(lastGood.input);
      inputRow.out.dataset.output = JSON.stringify(lastGood.input);
      inputRow.name.textContent = lastGood.data.name;
    }
    for (const el of tbody.querySelectorAll('.bd-why')) el.remove();
    cells.forEach((c, i) => {
      const row = rows && rows.length === cells.length ? rows[i] : null;
      c.out.textContent = row ? shape(row.output) : '–';
      c.params.textContent = row ? num(row.params) : '–';
      c.flops.textContent = row ? num(row.flops) : '–';
      c.out.dataset.output = row ? JSON.stringify(row.output) : '';
      c.params.dataset.params = row ? String(row.params) : '';
      c.flops.dataset.flops = row ? String(row.flops) : '';
      const bad = Boolean(refused && refused.layer === i + 1);
      c.tr.classList.toggle('bd-bad', bad);
      if (bad) c.tr.after(h('tr', {class: 'bd-why'}, h('td'), h('td', {colspan: '5', role: 'alert'}, `⚠ ${refused.error}`)));
    });
    const t = rows ? answer.totals : null;
    totals.replaceChildren(h('tr', {}, h('td'), h('td', {}, 'Total'), h('td'),
      h('td', {class: 'num', dataset: {total: 'params'}}, t ? num(t.params) : '–'),
      h('td', {class: 'num', dataset: {total: 'flops'}}, t ? num(t.flops) : '–'), h('td')));
    message.replaceChildren();
    message.className = 'bd-message';
    if (refused && !(refused.layer >= 1 && refused.layer <= blocks.length)) {
      message.className = 'bd-message bd-error';
      message.append(h('span', {role: 'alert'}, `⚠ ${refused.error}`));
    } else if (t) {
      message.append(`Your network learns ${num(t.params)} numbers and costs ${num(t.flops)} FLOPs per image.`);
    }
    trainButton.disabled = Boolean(refused) || training;
  }

  const update = latest(async () => {
    if (!ctx.alive()) return;
    await timed('builder: table', async () => {
      const answer = await api.post('/api/learn/builder/summary',
        {layers: toSpec(blocks), data, epochs: Number(epochsSelect.value), explain: true});
      if (!ctx.alive()) return;
      refused = answer.refused || null;
      if (!refused) lastGood = answer;
      fill(refused ? null : answer);
      showCode();
    }, note);
  });

  // ------------------------------------------------------------------------------ training and the leaderboard
  let training = false;
  const epochsSelect = h('select', {'aria-label': 'Epochs', class: 'small-select', name: 'epochs'},
    [1, 2, 3, 4, 5].map((e) => h('option', {value: String(e), selected: e === 2}, `${e} epoch${e > 1 ? 's' : ''}`)));
  epochsSelect.addEventListener('change', () => update());
  const trainButton = h('button', {type: 'button', class: 'primary', dataset: {action: 'train'}, onclick: () => train()}, '▶ Train this network');
  const bar = h('div', {class: 'progress bd-progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-label': 'Training'},
    h('div', {class: 'progress-fill'}));
  const status = h('p', {class: 'bd-status', 'aria-live': 'polite'}, 'Pick the images, then train. Digits take a few seconds, Fashion-MNIST under a minute.');
  const board = h('tbody');
  const boardTable = h('table', {class: 'bd-board', 'aria-label': 'Leaderboard of your networks'},
    h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Network'), h('th', {}, 'Images'), h('th', {class: 'num'}, 'Test accuracy'),
      h('th', {class: 'num'}, 'Training time'), h('th', {class: 'num'}, 'Parameters'))), board);
  const boardEmpty = h('p', {class: 'muted'}, 'No networks trained yet.');
  body.append(h('section', {class: 'card bd-train', 'aria-label': 'Train and compare'},
    h('h2', {}, 'Train it, and compare your networks'),
    h('p', {class: 'muted'}, 'Training runs on this computer with a small budget (a few epochs, no augmentation) so ' +
      'that it takes seconds. Accuracy is measured on test images the network never saw while learning.'),
    h('div', {class: 'bd-trainrow'}, epochsSelect, trainButton, h('div', {class: 'bd-progresswrap'}, bar, status)),
    h('h3', {}, 'Leaderboard'), boardTable, boardEmpty));

  let timer = null;
  ctx.onCleanup(() => { if (timer) clearTimeout(timer); });

  async function train() {
    if (training || refused) return;
    training = true;
    trainButton.disabled = true;
    setBar(0);
    status.textContent = 'Starting Python and PyTorch…';
    try {
      const {run} = await api.post('/api/learn/builder/train', {layers: toSpec(blocks), data, epochs: Number(epochsSelect.value)});
      follow(run);
    } catch (err) {
      training = false;
      trainButton.disabled = Boolean(refused);
      status.textContent = cleanMessage(err);
    }
  }

  function setBar(fraction) {
    const p = Math.round(100 * fraction);
    bar.firstChild.style.width = `${p}%`;
    bar.setAttribute('aria-valuenow', String(p));
  }

  async function follow(run) {
    if (!ctx.alive()) return;
    let r;
    try { r = await api.get(`/api/learn/builder/runs/${encodeURIComponent(run)}`); } catch (err) { status.textContent = cleanMessage(err); }
    if (!ctx.alive()) return;
    if (r && r.status === 'running') {
      const p = r.progress || {};
      setBar(p.fraction || 0);
      const last = (p.history || []).filter((x) => x.val_accuracy !== null && x.val_accuracy !== undefined).pop();
      const acc = last ? ` · accuracy on held-out images: ${pct(last.val_accuracy)}` : '';
      status.textContent = p.stage === 'training' ? `Training: epoch ${p.epoch} of ${p.epochs}${acc}`
        : p.stage === 'testing' ? `Testing on images it never saw${acc}…`
          : p.stage === 'starting' ? 'Starting Python and PyTorch…' : `Preparing: ${p.stage}…`;
      timer = setTimeout(() => follow(run), 400);
      return;
    }
    training = false;
    trainButton.disabled = Boolean(refused);
    if (r && r.status === 'finished') {
      setBar(1);
      status.textContent = `Done: ${pct(r.test_accuracy)} of the test images right, after ${r.train_seconds.toFixed(1)} s of training.`;
    } else if (r) {
      status.textContent = `Training stopped: ${r.error || r.status}`;
    }
    await loadBoard(run);
  }

  async function loadBoard(highlight = null) {
    const rows = await api.get('/api/learn/builder/runs');
    if (!ctx.alive()) return;
    boardEmpty.hidden = rows.length > 0;
    boardTable.hidden = rows.length === 0;
    let rank = 0;
    board.replaceChildren(...rows.map((r) => {
      const done = r.status === 'finished';
      if (done) rank += 1;
      return h('tr', {class: r.id === highlight ? 'bd-new' : null, dataset: {run: r.id, status: r.status}},
        h('td', {}, done ? String(rank) : ''),
        h('td', {class: 'bd-spec', title: r.layers}, r.layers),
        h('td', {}, r.data_name),
        h('td', {class: 'num', dataset: {accuracy: done ? String(r.test_accuracy) : ''}},
          done ? pct(r.test_accuracy) : r.status === 'running' ? 'training…' : h('span', {class: 'bd-failed', title: r.error || ''}, r.status)),
        h('td', {class: 'num'}, done ? `${r.train_seconds.toFixed(1)} s` : '–'),
        h('td', {class: 'num'}, num(r.params)));
    }));
  }

  body.append(selfCheck({
    question: 'The slide\'s first layer is Conv2D(64, (3,3)) on a 28×28 gray picture (1 channel). How many parameters does it learn?',
    answer: 640,
    why: 'Each of the 64 filters has 3×3×1 = 9 weights plus 1 bias: 64 × 10 = 640, the number in the table.',
    hint: 'Count the numbers in one filter (3×3 weights for the one channel, plus one bias), then multiply by the 64 filters.',
  }));

  // projects as data (only those whose classes all have photos can train)
  api.get('/api/projects').then((projects) => {
    if (!ctx.alive()) return;
    for (const p of projects) {
      const ok = p.classes.length >= 2 && p.classes.every((c) => c.count > 0);
      dataSelect.append(h('option', {value: `project:${p.id}`, disabled: !ok},
        `project ${p.name}: ${p.classes.length} classes, 32×32 colour${ok ? '' : ' (needs 2 classes with photos)'}`));
    }
  }).catch(() => {});
  render();
  await update();
  loadBoard().catch((err) => toast(cleanMessage(err), 'error'));
}
