// Step 2: train — Quick, From scratch or Custom; live curves over server-sent events; cancel and resume.

import {api, urls, request} from './api.js';
import {h, plural, errorBox} from './dom.js';
import {projectFrame, projectLink, emptyState} from './layout.js';
import {liveView} from './live.js';
import {runsTable} from './runs.js';

const MODES = [
  {key: 'quick', title: 'Quick', time: 'seconds',
    text: 'Uses a model that has already seen a million photos and only teaches it your classes. Best for most projects.'},
  {key: 'scratch', title: 'From scratch', time: 'a few minutes',
    text: 'Builds the small CNN from the lecture and trains every weight from zero. Slower; you see it learn.'},
  {key: 'custom', title: 'Custom', time: 'you choose',
    text: 'Pick the model, the number of epochs, the learning rate, the image size and the augmentation yourself.'},
];
const AUGMENTS = [
  {spec: 'flip', label: 'Mirror left-right'},
  {spec: 'rotate=15', label: 'Turn a little (±15°)'},
  {spec: 'translate=0.1', label: 'Shift a little'},
  {spec: 'rrc=0.35', label: 'Zoom in on parts'},
  {spec: 'color=0.2', label: 'Change the colours a little'},
  {spec: 'erase=0.25', label: 'Cover a random box'},
];
const FIELD_LABELS = {model: 'Model', epochs: 'Epochs', lr: 'Learning rate', batch_size: 'Batch size',
  image_size: 'Image size', augment: 'Augmentation', fit: 'Photos that are not square'};

export async function trainScreen(view, {projectId, ctx}) {
  const [project, runs] = await Promise.all([api.get(urls.project(projectId)), api.get(urls.runs(projectId))]);
  const finished = runs.filter((r) => r.status === 'finished');
  const body = projectFrame(view, project, 'train', {hasRun: finished.length > 0});
  const total = project.classes.reduce((s, c) => s + (c.count || 0), 0);
  const ready = project.classes.filter((c) => c.count > 0).length >= 2;
  if (!ready) {
    body.append(emptyState('First, collect some photos',
      'Training needs at least 2 classes with photos in each. You have ' +
      `${plural(project.classes.length, 'class', 'classes')} and ${plural(total, 'photo')}.`,
      h('a', {class: 'button primary', href: projectLink(projectId)}, '← Collect photos')));
    if (runs.length) body.append(runsTable(projectId, runs, () => location.reload()));
    return;
  }

  // ---- the form
  const modeInputs = MODES.map((m, i) => h('input', {type: 'radio', name: 'mode', value: m.key, id: `mode-${m.key}`, checked: i === 0}));
  const modeCards = h('fieldset', {class: 'mode-cards'}, h('legend', {}, 'How should the model learn?'),
    MODES.map((m, i) => h('label', {class: 'mode-card', for: `mode-${m.key}`}, modeInputs[i],
      h('span', {class: 'mode-title'}, m.title), h('span', {class: 'mode-time'}, `Takes ${m.time}`),
      h('span', {class: 'mode-text'}, m.text))));
  const custom = customForm(projectId);
  custom.element.hidden = true;
  modeInputs.forEach((input) => input.addEventListener('change', () => {
    custom.element.hidden = selectedMode() !== 'custom';
    if (!custom.element.hidden) custom.preview();
  }));
  const selectedMode = () => modeInputs.find((x) => x.checked).value;
  const startButton = h('button', {type: 'submit', class: 'primary big', id: 'start-training'}, 'Start training');
  const formError = h('div');
  const form = h('form', {class: 'card train-form', onsubmit: async (e) => {
    e.preventDefault();
    formError.replaceChildren();
    const mode = selectedMode();
    const options = mode === 'custom' ? custom.values() : {};
    if (options.error) { formError.replaceChildren(errorBox(options.error)); return; }
    startButton.disabled = true;
    try {
      const started = await api.post(urls.train(projectId), {mode, ...options});
      live.follow(started.run);
      refreshRuns();
    } catch (err) {
      if (mode === 'custom') custom.markField(err.field);
      formError.replaceChildren(errorBox(mode === 'custom' ? custom.explain(err) : err));
      startButton.disabled = false;
    }
  }}, modeCards, custom.element, formError,
  h('div', {class: 'button-row'}, startButton,
    h('span', {class: 'muted'}, `${plural(project.classes.length, 'class', 'classes')}, ${plural(total, 'photo')}. ` +
      'Some photos are kept aside to test the model fairly.')));

  const live = liveView(projectId, ctx, () => { startButton.disabled = false; refreshRuns(); },
    () => { startButton.disabled = true; });
  const runsBox = h('div');
  async function refreshRuns() {
    try {
      const list = await api.get(urls.runs(projectId));
      runsBox.replaceChildren(list.length ? runsTable(projectId, list, refreshRuns) : '');
    } catch { /* the table stays as it was */ }
  }
  body.append(h('div', {class: 'train-grid'}, form, live.element), runsBox);
  refreshRuns();
  const running = runs.find((r) => r.status === 'running');
  if (running) live.follow(running.id);
}

/** The Custom options, with a live preview of the augmentation. */
function customForm(projectId) {
  const field = (id, label, input, hint) => h('div', {class: 'field'}, h('label', {for: id}, label), input,
    hint ? h('span', {class: 'hint'}, hint) : null);
  const model = h('select', {id: 'opt-model'},
    h('option', {value: 'efficientnet_lite0'}, 'EfficientNet-Lite0, already trained on photos (fast, accurate)'),
    h('option', {value: 'lecture_cnn'}, 'The lecture CNN, from zero'));
  const epochs = h('input', {id: 'opt-epochs', type: 'number', min: 1, max: 200, value: 10});
  const lr = h('input', {id: 'opt-lr', type: 'text', inputmode: 'decimal', placeholder: 'automatic'});
  const batch = h('input', {id: 'opt-batch', type: 'number', min: 1, max: 1024, placeholder: 'automatic'});
  const size = h('select', {id: 'opt-size'}, h('option', {value: ''}, 'automatic'),
    [32, 64, 96, 128, 160, 224].map((s) => h('option', {value: s}, `${s} × ${s} pixels`)));
  const fits = [['crop', 'Crop to a square (the centre)'], ['pad', 'Whole photo with black bars'], ['stretch', 'Squeeze']];
  const fitInputs = fits.map(([v], i) => h('input', {type: 'radio', name: 'fit', value: v, id: `fit-${v}`, checked: i === 0}));
  const augmentBoxes = AUGMENTS.map((a, i) => h('input', {type: 'checkbox', value: a.spec, id: `aug-${i}`, checked: a.spec === 'flip'}));
  const spec = h('input', {id: 'opt-augment', type: 'text', value: 'flip', autocomplete: 'off', spellcheck: 'false'});
  const preview = h('img', {class: 'augment-preview', alt: 'Examples of your photos after augmentation', hidden: true});
  const previewNote = h('div', {class: 'hint', 'aria-live': 'polite'});
  let timer = null, shownUrl = null, asked = 0;

  const syncSpec = () => { spec.value = augmentBoxes.filter((b) => b.checked).map((b) => b.value).join(','); schedule(); };
  augmentBoxes.forEach((b) => b.addEventListener('change', syncSpec));
  spec.addEventListener('input', () => {
    const items = spec.value.split(',').map((s) => s.trim());
    augmentBoxes.forEach((b) => { b.checked = items.includes(b.value); });
    schedule();
  });
  function schedule() { clearTimeout(timer); timer = setTimeout(showPreview, 350); }
  async function showPreview() {
    const mine = ++asked;
    if (!spec.value.trim()) { preview.hidden = true; previewNote.textContent = 'No augmentation: the model sees each photo as it is.'; return; }
    previewNote.textContent = 'Making examples…';
    try {
      const response = await request('POST', urls.augmentPreview(), {spec: spec.value, project: projectId, count: 8});
      const blob = await response.blob();
      if (mine !== asked) return;
      if (shownUrl) URL.revokeObjectURL(shownUrl);
      shownUrl = URL.createObjectURL(blob);
      preview.src = shownUrl;
      preview.hidden = false;
      previewNote.textContent = 'Each time the model sees a photo, it gets a changed copy like these. It learns more from fewer photos.';
    } catch (err) {
      if (mine !== asked) return;
      preview.hidden = true;
      previewNote.replaceChildren(errorBox(err));
    }
  }

  const element = h('div', {class: 'custom-options'},
    h('div', {class: 'options-grid'},
      field('opt-model', 'Model', model),
      field('opt-epochs', 'Epochs', epochs, 'How many times the model sees every training photo.'),
      field('opt-lr', 'Learning rate', lr, 'How big each learning step is, e.g. 0.001.'),
      field('opt-batch', 'Batch size', batch, 'Photos per learning step.'),
      field('opt-size', 'Image size', size, 'Photos are made this size first.'),
      h('fieldset', {class: 'field', id: 'opt-fit'}, h('legend', {}, 'Photos that are not square'),
        fits.map(([v, label], i) => h('label', {class: 'check', for: `fit-${v}`}, fitInputs[i], ` ${label}`)),
        h('span', {class: 'hint'}, 'Cropping can cut off things at the edges; the other two keep the whole photo.'))),
    h('fieldset', {class: 'augment-box'}, h('legend', {}, 'Augmentation: changed copies of your photos'),
      h('div', {class: 'checkbox-grid'}, AUGMENTS.map((a, i) => h('label', {class: 'check', for: `aug-${i}`}, augmentBoxes[i], ` ${a.label}`))),
      field('opt-augment', 'As text (for experts)', spec),
      previewNote, preview));

  const fieldInputs = {model, epochs, lr, batch_size: batch, image_size: size, augment: spec, fit: fitInputs[0]};
  Object.values(fieldInputs).forEach((el) => el.addEventListener('input', () => el.removeAttribute('aria-invalid')));
  return {
    element,
    preview: schedule,
    explain(err) {  // "batch_size=1: expected..." -> "Batch size 1: expected..."
      const label = FIELD_LABELS[err.field];
      if (!label) return err;
      return err.message.replace(new RegExp(`^${err.field}=('?)(.*?)\\1:`, 'i'), `${label} $2:`);
    },
    markField(name) {  // the field the server's error names: marked and focused
      const el = fieldInputs[name];
      if (!el) return;
      el.setAttribute('aria-invalid', 'true');
      el.focus();
    },
    values() {
      const out = {model: model.value, epochs: Number(epochs.value), fit: fitInputs.find((x) => x.checked).value,
        augment: spec.value.trim() || 'none'};
      if (!Number.isInteger(out.epochs) || out.epochs < 1) return {error: 'Epochs must be a whole number, 1 or more.'};
      if (lr.value.trim()) {
        out.lr = Number(lr.value.trim());
        if (!(out.lr > 0 && out.lr < 10)) return {error: 'The learning rate must be a number above 0, like 0.001.'};
      }
      if (batch.value) out.batch_size = Number(batch.value);
      if (size.value) out.image_size = Number(size.value);
      return out;
    },
  };
}
