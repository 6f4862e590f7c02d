// Step 1: classes and their photos — upload (files, drag and drop, zip), webcam, built-in samples.

import {api, urls, uploadImages, getInfo} from './api.js';
import {h, plural, toast, errorBox, openDialog, cleanMessage} from './dom.js';
import {projectFrame, projectLink, emptyState} from './layout.js';
import {webcamPanel} from './webcam.js';

const SHOW_THUMBS = 40;  // thumbnails shown per class before "Show all"
const GOOD_COUNT = 10;   // photos per class we ask for before training

export async function collectScreen(view, {projectId, ctx}) {
  const [project, runs] = await Promise.all([api.get(urls.project(projectId)), api.get(urls.runs(projectId)).catch(() => [])]);
  const finished = runs.filter((r) => r.status === 'finished');
  const body = projectFrame(view, project, 'collect', {hasRun: finished.length > 0});
  const state = {project, cards: new Map(), camera: null};
  ctx.onCleanup(() => { if (state.camera) state.camera.stop(); });

  const guide = h('div', {class: 'guide', 'aria-live': 'polite'});
  const findings = h('div', {class: 'findings', 'aria-live': 'polite'});
  const classList = h('div', {class: 'class-list'});
  const className = h('input', {id: 'new-class-name', placeholder: 'e.g. cat', maxlength: 60, autocomplete: 'off'});
  const classError = h('div');
  const addClass = h('form', {class: 'inline-form add-class', onsubmit: async (e) => {
    e.preventDefault();
    const name = className.value.trim();
    if (!name) { className.focus(); return; }
    try {
      await api.post(urls.classes(projectId), {name});
      className.value = '';
      classError.replaceChildren();
      await reload();
      className.focus();
    } catch (err) { classError.replaceChildren(errorBox(err)); }
  }}, h('label', {for: 'new-class-name', class: 'visually-hidden'}, 'New class name'), className,
  h('button', {type: 'submit', class: 'primary', id: 'add-class'}, 'Add class'));

  body.append(
    h('div', {class: 'collect-top'},
      guide,
      h('div', {class: 'card add-class-card'}, h('h2', {}, 'Add a class'),
        h('p', {class: 'muted'}, 'One class for each kind of thing the model should recognise.'), addClass, classError,
        h('button', {type: 'button', class: 'ghost small', onclick: () => samplesDialog(projectId, reload)}, 'Or add sample photos…')),
      findings),
    classList);

  async function reload() {
    state.project = await api.get(urls.project(projectId));
    renderGuide();
    renderFindings(state.project.findings || []);
    renderClasses();
  }
  async function refreshProject() {  // counts and findings, without touching the class cards
    state.project = await api.get(urls.project(projectId));
    renderGuide();
    renderFindings(state.project.findings || []);
    for (const c of state.project.classes) state.cards.get(c.id)?.setCount(c.count);
  }

  function renderGuide() {
    const classes = state.project.classes;
    const empty = classes.filter((c) => !c.count);
    const few = classes.filter((c) => c.count && c.count < GOOD_COUNT);
    let title, text, action = null;
    if (classes.length === 0) {
      title = 'Add at least 2 classes';
      text = 'Type a name below, like "cat", and press Add class. Then add a second one, like "dog".';
    } else if (classes.length === 1) {
      title = 'Add one more class';
      text = `The model learns to tell classes apart, so it needs at least 2. You have "${classes[0].name}".`;
    } else if (empty.length) {
      title = `Add photos to "${empty[0].name}"`;
      text = 'Use your webcam, or drop photos onto the class. Aim for 10 or more per class.';
    } else if (few.length) {
      title = 'Almost ready';
      text = `"${few[0].name}" has ${plural(few[0].count, 'photo')}. Add ${GOOD_COUNT - few[0].count} more for a better model — or train now and see.`;
      action = h('a', {class: 'button secondary', href: projectLink(projectId, 'train')}, 'Train anyway →');
    } else {
      title = 'Ready to train!';
      text = `${plural(classes.length, 'class', 'classes')}, ${plural(classes.reduce((s, c) => s + c.count, 0), 'photo')}.`;
      action = h('a', {class: 'button primary', href: projectLink(projectId, 'train'), id: 'go-train'}, 'Next: train →');
    }
    guide.replaceChildren(h('div', {class: 'card guide-card'}, h('h2', {}, title), h('p', {}, text), action));
  }

  function renderFindings(items) {
    if (!items.length) {
      findings.replaceChildren(h('div', {class: 'card tips'}, h('h2', {}, 'Tips for good photos'),
        h('ul', {}, h('li', {}, 'Take 20 or more photos of each class.'),
          h('li', {}, 'Change the angle, the distance and the light.'),
          h('li', {}, 'Use the same background for every class, so the model learns the thing, not the room.'))));
      return;
    }
    findings.replaceChildren(h('div', {class: 'card'}, h('h2', {}, 'What we noticed'),
      h('ul', {class: 'finding-list'}, items.map((f) => h('li', {class: `finding finding-${f.level || 'info'}`},
        h('span', {class: 'finding-icon', 'aria-hidden': 'true'}, {error: '✖', warning: '!', info: 'i'}[f.level] || 'i'),
        h('span', {class: 'visually-hidden'}, `${f.level || 'info'}: `), cleanMessage(f.message))))));
  }

  function renderClasses() {
    if (state.camera) { state.camera.stop(); state.camera = null; }
    state.cards.clear();
    if (!state.project.classes.length) {
      classList.replaceChildren(emptyState('No classes yet',
        'Add your first class above. Each class gets its own photos.'));
      return;
    }
    classList.replaceChildren(...state.project.classes.map((c) => {
      const card = classCard(c);
      state.cards.set(c.id, card);
      return card.element;
    }));
  }

  function classCard(klass) {
    const count = h('span', {class: 'count-badge', dataset: {count: klass.count}}, plural(klass.count, 'photo'));
    const thumbs = h('div', {class: 'thumbs'});
    const note = h('div', {class: 'upload-note', 'aria-live': 'polite'});
    const cameraSlot = h('div');
    const fileInput = h('input', {type: 'file', multiple: true, accept: 'image/*,.zip', class: 'visually-hidden',
      id: `files-${klass.id}`, tabindex: '-1'});
    const webcamButton = h('button', {type: 'button', class: 'secondary', 'data-action': 'webcam'}, 'Webcam');
    let images = [], showAll = false, queue = Promise.resolve();

    const upload = (files, source = 'files') => {
      if (!files.length) return queue;
      queue = queue.then(async () => {
        note.replaceChildren(h('span', {class: 'muted'}, `Saving ${plural(files.length, 'photo')}…`));
        try {
          const result = await uploadImages(projectId, klass.id, files);
          const parts = [h('span', {}, `Added ${plural(result.added.length, 'photo')}.`)];
          if (result.refused.length) {
            parts.push(h('span', {class: 'error-text'}, ` Not added: ${result.refused.slice(0, 3)
              .map((r) => `${r.file} (${r.reason})`).join('; ')}${result.refused.length > 3 ? ` and ${result.refused.length - 3} more` : ''}.`));
          }
          note.replaceChildren(...parts);
          if (source === 'files') toast(`Added ${plural(result.added.length, 'photo')} to "${klass.name}".`);
        } catch (err) {
          note.replaceChildren(errorBox(err));
        }
        await Promise.all([loadImages(), refreshProject()]);
      });
      return queue;
    };

    async function loadImages() {
      try { images = await api.get(urls.images(projectId, klass.id)); } catch (err) { thumbs.replaceChildren(errorBox(err)); return; }
      drawThumbs();
    }
    function drawThumbs() {
      if (!images.length) {
        thumbs.replaceChildren(h('p', {class: 'muted drop-hint'}, 'No photos yet. Drop photos here, or use the buttons.'));
        return;
      }
      const shown = showAll ? images : images.slice(-SHOW_THUMBS);
      thumbs.replaceChildren(...shown.map((img, i) => h('figure', {class: 'thumb'},
        h('img', {src: img.thumb, alt: `${klass.name} photo ${i + 1}`, loading: 'lazy', width: 64, height: 64}),
        h('button', {type: 'button', class: 'thumb-delete', 'aria-label': `Delete ${klass.name} photo ${i + 1}`,
          title: 'Delete this photo', onclick: async () => {
            try {
              await api.del(urls.image(projectId, klass.id, img.id));
              images = images.filter((x) => x.id !== img.id);
              drawThumbs();
              refreshProject();
            } catch (err) { toast(err.message, 'error'); }
          }}, '✕'))));
      if (images.length > SHOW_THUMBS) {
        thumbs.append(h('button', {type: 'button', class: 'ghost small', onclick: () => { showAll = !showAll; drawThumbs(); }},
          showAll ? 'Show fewer' : `Show all ${images.length}`));
      }
    }

    fileInput.addEventListener('change', () => { upload([...fileInput.files]); fileInput.value = ''; });
    webcamButton.addEventListener('click', () => {
      const open = state.camera && state.camera.classId === klass.id;
      if (state.camera) {
        state.camera.stop();
        state.camera.slot.replaceChildren();
        state.camera.button.textContent = 'Webcam';
        state.camera.card.classList.remove('with-camera');
        state.camera = null;
      }
      if (open) return;
      const panel = webcamPanel(klass.name, (files) => upload(files, 'webcam'));
      state.camera = {...panel, classId: klass.id, slot: cameraSlot, button: webcamButton, card: element};
      element.classList.add('with-camera');
      webcamButton.textContent = 'Close webcam';
      cameraSlot.replaceChildren(panel.element);
    });

    const element = h('section', {class: 'card class-card', 'aria-label': `Class ${klass.name}`, dataset: {classId: klass.id}},
      h('div', {class: 'class-head'},
        h('h2', {}, klass.name), count,
        h('div', {class: 'class-actions'},
          h('button', {type: 'button', class: 'ghost small', onclick: () => renameClass(klass)}, 'Rename'),
          h('button', {type: 'button', class: 'ghost small danger', onclick: () => deleteClass(klass)}, 'Delete class'))),
      h('div', {class: 'button-row'},
        webcamButton,
        h('label', {class: 'button secondary', for: `files-${klass.id}`, tabindex: '0', role: 'button', 'data-action': 'upload',
          onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } }},
        'Upload photos'), fileInput,
        h('span', {class: 'muted small-text'}, 'or drag photos (or a .zip) onto this box')),
      cameraSlot, note, thumbs);

    element.addEventListener('dragover', (e) => { e.preventDefault(); element.classList.add('dragging'); });
    element.addEventListener('dragleave', (e) => { if (!element.contains(e.relatedTarget)) element.classList.remove('dragging'); });
    element.addEventListener('drop', (e) => {
      e.preventDefault();
      element.classList.remove('dragging');
      upload([...(e.dataTransfer?.files || [])]);
    });
    loadImages();
    return {element, setCount(n) { count.textContent = plural(n, 'photo'); count.dataset.count = n; }};
  }

  function renameClass(klass) {
    const input = h('input', {id: 'class-rename', value: klass.name, maxlength: 60});
    const error = h('div');
    const {body: box, close} = openDialog(`Rename "${klass.name}"`);
    box.append(h('form', {class: 'stack', onsubmit: async (e) => {
      e.preventDefault();
      try { await api.patch(urls.klass(projectId, klass.id), {name: input.value.trim()}); close(); await reload(); }
      catch (err) { error.replaceChildren(errorBox(err)); }
    }}, h('label', {for: 'class-rename'}, 'New name'), input, error,
    h('div', {class: 'button-row'}, h('button', {type: 'submit', class: 'primary'}, 'Rename'))));
    input.select();
  }

  function deleteClass(klass) {
    const {body: box, close} = openDialog(`Delete "${klass.name}"?`);
    const error = h('div');
    const yes = h('button', {type: 'button', class: 'danger', onclick: async () => {
      try { await api.del(urls.klass(projectId, klass.id)); close(); await reload(); }
      catch (err) { error.replaceChildren(errorBox(err)); }
    }}, `Delete the class and its ${plural(klass.count, 'photo')}`);
    box.append(h('p', {}, 'Its photos are deleted from this computer. Trained models keep working.'), error,
      h('div', {class: 'button-row'}, yes, h('button', {type: 'button', class: 'ghost', onclick: close}, 'Keep it')));
    yes.focus();
  }

  renderGuide();
  renderFindings(project.findings || []);
  renderClasses();
}

/** Built-in sample photos (Fashion-MNIST, digits, photos): a teacher can demo with no data of their own. */
async function samplesDialog(projectId, reload) {
  const {body, close} = openDialog('Add sample photos', {wide: true});
  let info;
  try { info = await getInfo(); } catch (err) { body.append(errorBox(err)); return; }
  const samples = info.samples || [];
  if (!samples.length) { body.append(h('p', {}, 'No sample photos are available.')); return; }
  const source = h('select', {id: 'sample-source'}, samples.map((s) => h('option', {value: s.id, disabled: s.available === false},
    s.available === false ? `${s.name} (not installed)` : s.name)));
  const boxes = h('div', {class: 'checkbox-grid'});
  const perClass = h('input', {id: 'sample-count', type: 'number', min: 5, max: 200, value: 20, class: 'small-input'});
  const error = h('div');
  const drawBoxes = () => {
    const s = samples.find((x) => x.id === source.value);
    const chosen = s.default || (s.classes || []).slice(0, 3);
    boxes.replaceChildren(...(s.classes || []).map((name) => h('label', {class: 'check'},
      h('input', {type: 'checkbox', value: name, checked: chosen.includes(name)}), ` ${name}`)));
  };
  source.addEventListener('change', drawBoxes);
  drawBoxes();
  const add = h('button', {type: 'submit', class: 'primary'}, 'Add these classes');
  body.append(h('form', {class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    const classes = [...boxes.querySelectorAll('input:checked')].map((b) => b.value);
    if (!classes.length) { error.replaceChildren(errorBox('Pick at least one class.')); return; }
    add.disabled = true;
    add.textContent = 'Adding…';
    try {
      await api.post(urls.samples(projectId), {source: source.value, classes, per_class: Number(perClass.value) || 20});
      close();
      toast(`Added ${plural(classes.length, 'sample class', 'sample classes')}.`);
      await reload();
    } catch (err) {
      error.replaceChildren(errorBox(err));
      add.disabled = false;
      add.textContent = 'Add these classes';
    }
  }},
  h('p', {}, 'Sample photos let you try everything without taking any photos. Each class you pick is added with its photos.'),
  h('div', {class: 'field-row'}, h('label', {for: 'sample-source'}, 'Photos'), source),
  h('fieldset', {}, h('legend', {}, 'Classes'), boxes),
  h('div', {class: 'field-row'}, h('label', {for: 'sample-count'}, 'Photos per class'), perClass),
  error, h('div', {class: 'button-row'}, add)));
  source.focus();
}
