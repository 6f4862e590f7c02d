// The first screen: your projects, start a new one, or bring photos you already have.

import {api, urls} from './api.js';
import {h, plural, toast, errorBox} from './dom.js';
import {projectLink} from './layout.js';

export async function homeScreen(view) {
  const projects = await api.get(urls.projects());
  const title = h('h1', {tabindex: '-1'}, projects.length ? 'Your projects' : 'Welcome to cnnlab studio');
  view.append(h('div', {class: 'page-head'}, title));

  const name = h('input', {id: 'new-project-name', placeholder: 'e.g. Cats and dogs', maxlength: 80, required: true,
    autocomplete: 'off'});
  const createError = h('div');
  const create = h('form', {class: 'card create-card', 'aria-labelledby': 'start-title', onsubmit: async (e) => {
    e.preventDefault();
    const value = name.value.trim();
    if (!value) { createError.replaceChildren(errorBox('Give your project a name first.')); name.focus(); return; }
    try {
      const project = await api.post(urls.projects(), {name: value});
      location.hash = projectLink(project.id);
    } catch (err) { createError.replaceChildren(errorBox(err)); }
  }},
  h('h2', {id: 'start-title'}, 'Start a project'),
  h('p', {}, 'A project teaches the computer to tell things apart, like cats and dogs, or rock, paper and scissors.'),
  h('label', {for: 'new-project-name'}, 'Project name'),
  h('div', {class: 'inline-form'}, name, h('button', {class: 'primary', type: 'submit', id: 'create-project'}, 'Start a project')),
  createError);

  const list = h('div', {class: 'project-list'});
  if (!projects.length) {
    list.append(h('div', {class: 'empty-state'},
      h('h2', {}, 'No projects yet'),
      h('p', {}, 'Start one on the right. You will make classes (one per kind of thing), add photos from your ' +
        'webcam or your files, train a model in seconds, and try it live.')));
  }
  for (const p of projects) {
    const classes = p.classes || [];
    list.append(h('a', {class: 'card project-card', href: projectLink(p.id)},
      h('h2', {}, p.name),
      h('p', {class: 'muted'}, `${plural(classes.length, 'class', 'classes')} · ${plural(p.images ?? 0, 'photo')} · ` +
        `${plural(p.runs ?? 0, 'trained model')}`),
      classes.length ? h('p', {class: 'class-chips'}, classes.slice(0, 6).map((c) => h('span', {class: 'chip'}, c.name)),
        classes.length > 6 ? h('span', {class: 'chip'}, `+${classes.length - 6}`) : null) : null));
  }

  view.append(h('div', {class: 'home-grid'},
    h('section', {'aria-label': 'Projects'}, list),
    h('aside', {class: 'stack'}, create, learnCard(), importCard(),
      h('p', {class: 'muted small-text'}, 'Everything stays on this computer: photos and models are saved in your projects folder. Nothing is sent to the internet.'))));
  if (!projects.length) name.focus();
}

function learnCard() {
  return h('a', {class: 'card learn-card', href: '#/learn', dataset: {nav: 'learn-card'}},
    h('h2', {}, 'Learn how a CNN sees →'),
    h('p', {class: 'muted'}, 'Ten short pages, one per idea of the lecture: pixels, convolution, pooling, augmentation ' +
      'and more, on your own pictures. Then build and train your own network.'));
}

function importCard() {
  const file = h('input', {type: 'file', id: 'import-zip', accept: '.zip,application/zip', class: 'visually-hidden', tabindex: '-1'});
  const path = h('input', {id: 'import-path', placeholder: '/home/me/Pictures/pets', autocomplete: 'off'});
  const out = h('div', {'aria-live': 'polite'});
  const done = (project) => {
    toast(`Imported "${project.name}".`);
    location.hash = projectLink(project.id);
  };
  file.addEventListener('change', async () => {
    if (!file.files.length) return;
    const form = new FormData();
    form.append('file', file.files[0]);
    out.replaceChildren(h('p', {class: 'muted'}, 'Reading the zip file…'));
    try { done(await api.post(urls.importProject(), form)); } catch (err) { out.replaceChildren(errorBox(err)); }
    file.value = '';
  });
  const byPath = h('form', {class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    if (!path.value.trim()) { path.focus(); return; }
    out.replaceChildren(h('p', {class: 'muted'}, 'Copying the photos…'));
    try { done(await api.post(urls.importProject(), {path: path.value.trim()})); }
    catch (err) { out.replaceChildren(errorBox(err)); }
  }},
  h('label', {for: 'import-path'}, 'Or a folder on this computer'),
  h('div', {class: 'inline-form'}, path, h('button', {class: 'secondary', type: 'submit'}, 'Import folder')));
  return h('div', {class: 'card'},
    h('h2', {}, 'Have photos already?'),
    h('p', {}, 'Bring a folder with one subfolder per class (for example cat/ and dog/), or a .zip of it.'),
    h('label', {class: 'button secondary', for: 'import-zip', tabindex: '0', role: 'button',
      onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); file.click(); } }},
    'Import a .zip'), file, byPath, out);
}
