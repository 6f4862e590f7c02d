// #/learn/augmentation: one control per augmentation technique, each with examples of it alone, all of them
// together on the student's picture, and the --augment spec that trains with exactly these settings.
// The server's variants come from the engine's own Pipeline (POST /api/learn/augmentation/variants).

import {labFrame, h, api, imagePicker, selfCheck, timed, speedNote, latest, toast} from './common.js';

const URL_CONTROLS = '/api/learn/augmentation/controls';
const URL_VARIANTS = '/api/learn/augmentation/variants';
const EXAMPLES = 4;  // draws of each technique alone
const TOGETHER = 8;  // draws of all techniques together
const SIZE_NOTES = {64: ' (lecture CNN)'};  // who trains at that size in the studio
const START = {flip: true, rotate: 15, translate: 0.1, crop: 4, color: 0.2, erase: 0};  // the registry's example

/** A slider value as the spec writes it: 15, 0.1, 0.25 (no trailing zeros). */
function number(v, integer) {
  return integer ? String(Math.round(v)) : String(Number(Number(v).toFixed(2)));
}

/** The spec item of one control ('' when it is off). */
function item(c, value) {
  if (c.default === null) return value ? c.name : '';
  return value > 0 ? `${c.name}=${number(value, c.integer)}` : '';
}

export default async function page(view, {ctx}) {
  const {body} = labFrame(view, 'augmentation',
    'A network learns from examples, and more examples help. But photos take time to collect and to label. ' +
    'Data augmentation makes new training photos out of the ones you have: a mirrored cat is still a cat.',
    'Each time training shows a photo to the network, it first changes it a little, at random: mirrored or not, ' +
    'turned a few degrees, shifted, cropped, recoloured, or with a patch rubbed out. The new photo must be similar ' +
    'enough to keep its label, and different enough to teach the network something new.',
    'Move a slider. The small pictures beside it show that change alone; the panel on the right shows all of them ' +
    'together. cnnlab\'s own augmentation code makes every picture here: it is exactly what training does.');

  const {controls, sizes} = await api.get(URL_CONTROLS);
  if (!ctx.alive()) return;
  const values = Object.fromEntries(controls.map((c) => [c.name, START[c.name] ?? c.default ?? 0]));
  let seed = 1, size = sizes[0], info = null, original = null;

  // ---------------------------------------------------------------- one card per technique
  const rows = {};
  const cards = controls.map((c) => {
    const tiles = h('div', {class: 'aug-examples', dataset: {examples: c.name}, 'aria-live': 'off'});
    const shown = h('output', {class: 'aug-value', dataset: {value: c.name}});
    let input;
    if (c.default === null) {
      input = h('input', {type: 'checkbox', role: 'switch', class: 'aug-switch', checked: Boolean(values[c.name]),
        'aria-label': `${c.label} on or off`, dataset: {control: c.name}});
      input.addEventListener('change', () => { values[c.name] = input.checked; changed(c.name); });
    } else {
      input = h('input', {type: 'range', min: 0, max: c.high, step: c.step, value: values[c.name],
        'aria-label': c.label, dataset: {control: c.name}});
      input.addEventListener('input', () => {
        let v = Number(input.value);
        if (v > 0 && v < c.low) v = c.low;  // the registry's smallest allowed value (erase=0.02)
        values[c.name] = v;
        changed(c.name);
      });
    }
    rows[c.name] = {c, tiles, shown, input};
    showValue(c.name);
    return h('section', {class: 'card aug-card', dataset: {technique: c.name}},
      h('div', {class: 'aug-card-text'},
        h('h3', {}, c.label, ' ', h('code', {class: 'aug-form'}, c.form)),
        h('p', {class: 'muted small-text'}, c.about),
        h('label', {class: 'aug-control'}, input, shown)),
      tiles);
  });

  function showValue(name) {
    const {c, shown} = rows[name];
    const v = values[name];
    if (c.default === null) { shown.textContent = v ? 'on' : 'off'; return; }
    const unit = {rotate: '°', crop: ' px', translate: ` (${Math.round(v * 100)}%)`}[name] || '';
    shown.textContent = v > 0 ? `${number(v, c.integer)}${unit}` : 'off';
  }

  // ---------------------------------------------------------------- all together
  const grid = h('div', {class: 'aug-together-grid', dataset: {together: ''}});
  const drawn = h('p', {class: 'aug-drawn small-text', 'aria-live': 'polite'});
  const specText = h('code', {class: 'aug-spec', dataset: {spec: ''}});
  const command = h('pre', {class: 'lab-code aug-command'}, 'cnnlab train --data folder:PHOTOS \\\n  --augment "', specText, '"');
  const copy = h('button', {type: 'button', class: 'ghost small', dataset: {action: 'copy-spec'}, onclick: async () => {
    try { await navigator.clipboard.writeText(command.textContent); toast('Copied the command.'); } catch {
      getSelection().selectAllChildren(command);
      toast('Press Ctrl+C to copy the selected command.');
    }
  }}, 'Copy');
  const note = speedNote();
  const sizeSelect = h('select', {class: 'small-select', 'aria-label': 'Training picture size', dataset: {control: 'size'}},
    sizes.map((s) => h('option', {value: s, selected: s === size}, `${s} × ${s}${SIZE_NOTES[s] || ''}`)));
  sizeSelect.addEventListener('change', () => { size = Number(sizeSelect.value); refreshAll('augment-size'); });
  const reroll = h('button', {type: 'button', class: 'secondary small', dataset: {action: 'new-draws'}, onclick: () => {
    seed = 1 + Math.floor(Math.random() * 1e9);
    refreshAll('augment-seed');
  }}, '⟳ New random draws');
  const together = h('aside', {class: 'card aug-together', 'aria-label': 'All techniques together'},
    h('h2', {}, 'All together: what training sees'),
    grid, drawn,
    h('div', {class: 'aug-buttons'}, reroll,
      h('label', {class: 'small-text muted aug-size'}, 'Picture size ', sizeSelect), note),
    h('p', {class: 'small-text aug-spec-label'}, 'Train with exactly these settings:'),
    h('div', {class: 'aug-command-row'}, command, copy),
    h('p', {class: 'muted small-text'}, 'PHOTOS is your folder of photos (one folder per class). In the studio, the ' +
      'same spec goes into Train → Custom → Augmentation.'));

  // ---------------------------------------------------------------- talking to the server
  const spec = () => controls.map((c) => item(c, values[c.name])).filter(Boolean).join(',') || 'none';
  const ask = (s, count) => api.post(URL_VARIANTS, {image: info.id, spec: s, count, seed, size});

  function tile(src, about, label) {
    return h('figure', {class: 'aug-tile'}, h('img', {src, alt: label, title: about.join(', ') || 'unchanged'}),
      h('figcaption', {}, about.length ? about.join(', ') : 'unchanged'));
  }

  async function showRow(name) {
    const {c, tiles} = rows[name];
    const s = item(c, values[name]);
    if (!s) {
      if (original) tiles.replaceChildren(h('figure', {class: 'aug-tile aug-off'}, h('img', {src: original, alt: 'Unchanged'}),
        h('figcaption', {}, c.default === null ? 'Off: switch it on' : 'Off: move the slider')));
      tiles.dataset.rowSpec = 'none';
      return;
    }
    const r = await ask(s, EXAMPLES);
    if (!ctx.alive()) return;
    original = r.original;
    tiles.replaceChildren(...r.tiles.map((t, i) => tile(t.png, t.about, `${c.label}, draw ${i + 1}`)));
    tiles.dataset.rowSpec = r.spec;
  }

  async function showTogether() {
    const r = await ask(spec(), TOGETHER);
    if (!ctx.alive()) return;
    original = r.original;
    const explain = (i) => {
      const t = r.tiles[i];
      drawn.replaceChildren(h('strong', {}, `Variant ${i + 1}: `), t.about.length ? t.about.join(' · ') : 'unchanged');
    };
    grid.replaceChildren(
      h('figure', {class: 'aug-big aug-original'}, h('img', {src: r.original, alt: 'The original picture'}),
        h('figcaption', {}, 'original')),
      ...r.tiles.map((t, i) => h('figure', {class: 'aug-big', tabindex: '0', dataset: {variant: String(i)},
        onmouseenter: () => explain(i), onfocus: () => explain(i)},
      h('img', {src: t.png, alt: `Variant ${i + 1}: ${t.about.join(', ') || 'unchanged'}`}),
      h('figcaption', {}, `variant ${i + 1}`))));
    explain(0);
    specText.textContent = r.spec;
    grid.dataset.gridSpec = r.spec;
    projects.refresh(r.spec);
  }

  const changed = latest(async (name) => {
    showValue(name);
    await timed('augment-slider', () => Promise.all([showRow(name), showTogether()]), note);
  });

  const refreshAll = latest(async (label) => {
    if (!info) return;
    await timed(label, () => {
      const all = showTogether();  // it brings the original picture that the rows switched off show
      return Promise.all([all, ...controls.map((c) => (item(c, values[c.name]) ? showRow(c.name) : all.then(() => showRow(c.name))))]);
    }, note);
  });

  // ---------------------------------------------------------------- a project's photos (the studio's preview)
  const projects = projectPreview();

  const picker = imagePicker(async (picked) => { info = picked; await refreshAll('augment-image'); });

  body.append(picker.element,
    h('div', {class: 'aug-layout'}, h('div', {class: 'aug-techniques'}, cards), together),
    h('section', {class: 'card aug-why'},
      h('h2', {}, 'Why does this help?'),
      h('p', {}, 'The network never sees exactly the same picture twice. It cannot simply remember each photo\'s ' +
        'pixels; it has to learn what stays the same: the shape of a cat\'s ears, not where they are in the ' +
        'picture or how bright the room was. That is why a model trained with augmentation usually does better ' +
        'on photos it has never seen (it overfits less).'),
      h('p', {}, h('strong', {}, 'The test photos are never augmented. '), 'Only the training photos get changed. ' +
        'The photos that measure the model (the test set) and the photos you try it on are used as they are: we ' +
        'want to know how well it does on real photos, and random changes would give a different score every time.'),
      h('p', {}, 'Not every change is a good idea. Choose changes that could really happen to photos of your ' +
        'classes: a cat photo can be mirrored, but text cannot, and a 6 turned upside down is a 9.')),
    projects.element,
    selfCheck({
      question: 'You train a model to read handwritten digits. Which augmentation would teach it something wrong?',
      choices: ['crop=2', 'rotate=10', 'rotate=180', 'translate=0.1'],
      answer: 2,
      why: 'Turned up to 180°, a 6 can become a 9 while its label still says 6. An augmented picture must keep ' +
        'its label; small turns, shifts and crops do.',
      hint: 'Which change could turn one digit into another one? Try that slider on the digit picture.',
    }));
}

/** A folded panel: the studio's augmentation preview (/api/augment/preview) on one of the student's projects. */
function projectPreview() {
  const select = h('select', {class: 'small-select', 'aria-label': 'Project', dataset: {control: 'project'}});
  const img = h('img', {class: 'augment-preview', alt: 'Your project\'s photos, each followed by augmented copies', hidden: true});
  const message = h('p', {class: 'muted small-text', 'aria-live': 'polite'});
  let current = 'none', url = null, loaded = false;
  const details = h('details', {class: 'card aug-projects'},
    h('summary', {}, h('strong', {}, 'On your project\'s photos'),
      h('span', {class: 'muted small-text'}, ' (one photo per class, then 8 augmented copies)')),
    h('div', {class: 'aug-project-row'}, h('label', {class: 'small-text'}, 'Project ', select)), message, img);
  const show = latest(async () => {
    if (!details.open || !select.value) return;
    if (current === 'none') { img.hidden = true; message.textContent = 'No augmentation is switched on.'; return; }
    const response = await api.post('/api/augment/preview', {spec: current, project: select.value, count: 8});
    const blob = await response.blob();
    if (url) URL.revokeObjectURL(url);
    url = URL.createObjectURL(blob);
    img.src = url;
    img.hidden = false;
    message.textContent = '';
  });
  details.addEventListener('toggle', async () => {
    if (!details.open || loaded) { show(); return; }
    loaded = true;
    const list = await api.get('/api/projects');
    if (!list.length) { message.textContent = 'You have no projects yet: make one on the Projects page to see its photos here.'; return; }
    select.replaceChildren(...list.map((p) => h('option', {value: p.id}, p.name)));
    show();
  });
  select.addEventListener('change', () => show());
  return {element: details, refresh: (spec) => { current = spec; show(); }};
}
