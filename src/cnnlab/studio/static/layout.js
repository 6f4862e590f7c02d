// The frame around a project's screens: its name, the project buttons and the five steps.

import {api, urls} from './api.js';
import {h, openDialog, toast, errorBox} from './dom.js';

export const STEPS = [
  {key: 'collect', label: 'Collect photos'},
  {key: 'train', label: 'Train'},
  {key: 'results', label: 'Results'},
  {key: 'try', label: 'Try it'},
  {key: 'export', label: 'Export'},
];

/** '#/p/ID/step[/RUN]' */
export function projectLink(projectId, step = 'collect', runId = null) {
  const base = `#/p/${encodeURIComponent(projectId)}`;
  if (step === 'collect') return base;
  return runId ? `${base}/${step}/${encodeURIComponent(runId)}` : `${base}/${step}`;
}

/** Project header + step tabs; returns the element the screen fills. */
export function projectFrame(view, project, active, {runId = null, hasRun = false} = {}) {
  const tabs = h('nav', {class: 'steps', 'aria-label': 'Steps'},
    STEPS.map((step, i) => {
      const later = ['results', 'try', 'export'].includes(step.key) && !hasRun;
      return h('a', {
        href: projectLink(project.id, step.key, ['results', 'try', 'export'].includes(step.key) ? runId : null),
        class: `step${step.key === active ? ' active' : ''}${later ? ' later' : ''}`,
        'aria-current': step.key === active ? 'page' : null,
        dataset: {step: step.key},
      }, h('span', {class: 'step-number', 'aria-hidden': 'true'}, String(i + 1)), step.label);
    }));
  const title = h('h1', {tabindex: '-1', class: 'project-title'}, project.name);
  const menu = h('div', {class: 'project-actions'},
    h('button', {type: 'button', class: 'ghost small', onclick: () => renameProject(project)}, 'Rename'),
    h('button', {type: 'button', class: 'ghost small', onclick: () => duplicateProject(project)}, 'Duplicate'),
    h('a', {class: 'button ghost small', href: urls.projectZip(project.id), download: `${project.id}.zip`}, 'Download (.zip)'),
    h('button', {type: 'button', class: 'ghost small danger', onclick: () => deleteProject(project)}, 'Delete'));
  const body = h('div', {class: 'step-body'});
  view.append(h('div', {class: 'project-head'},
    h('div', {}, h('a', {href: '#/', class: 'back-link'}, '← All projects'), title), menu), tabs, body);
  return body;
}

function renameProject(project) {
  const input = h('input', {id: 'rename-input', value: project.name, maxlength: 80, required: true});
  const {body, close} = openDialog('Rename the project');
  const error = h('div');
  const form = h('form', {class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api.patch(urls.project(project.id), {name: input.value.trim()});
      close();
      toast('Renamed.');
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    } catch (err) { error.replaceChildren(errorBox(err)); }
  }}, h('label', {for: 'rename-input'}, 'New name'), input, error,
  h('div', {class: 'button-row'}, h('button', {class: 'primary', type: 'submit'}, 'Rename')));
  body.append(form);
  input.select();
}

async function duplicateProject(project) {
  try {
    const copy = await api.post(urls.duplicate(project.id), {name: `${project.name} (copy)`});
    toast(`Made a copy: "${copy.name}".`);
    location.hash = projectLink(copy.id);
  } catch (err) { toast(err.message, 'error'); }
}

function deleteProject(project) {
  const input = h('input', {id: 'confirm-input', autocomplete: 'off'});
  const {body, close} = openDialog('Delete this project?');
  const error = h('div');
  const form = h('form', {class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api.del(`${urls.project(project.id)}?confirm=${encodeURIComponent(input.value)}`);
      close();
      toast(`"${project.name}" is deleted.`);
      location.hash = '#/';
    } catch (err) { error.replaceChildren(errorBox(err)); }
  }},
  h('p', {}, 'This deletes all its photos and trained models from this computer. It cannot be undone.'),
  h('label', {for: 'confirm-input'}, `To be sure, type the project's name: `, h('strong', {}, project.name)),
  input, error,
  h('div', {class: 'button-row'}, h('button', {class: 'danger', type: 'submit'}, 'Delete forever'),
    h('button', {type: 'button', class: 'ghost', onclick: () => close()}, 'Keep it')));
  body.append(form);
  input.focus();
}

/** A friendly empty state: a title, a sentence, and what to do next. */
export function emptyState(title, text, ...actions) {
  return h('div', {class: 'empty-state'}, h('h2', {}, title), h('p', {}, text),
    actions.length ? h('div', {class: 'button-row center'}, actions) : null);
}

/** The finished runs, newest first, and the one chosen (the route's, else the newest). */
export function chooseRun(runs, runId) {
  const finished = runs.filter((r) => r.status === 'finished')
    .sort((a, b) => String(b.created).localeCompare(String(a.created)));
  const chosen = finished.find((r) => r.id === runId) || finished[0] || null;
  return {finished, chosen};
}

/** A <select> to switch between finished runs (shown only when there are several). */
export function runPicker(projectId, step, finished, chosen, describe) {
  if (finished.length < 2) return null;
  const select = h('select', {id: 'run-picker', onchange: () => { location.hash = projectLink(projectId, step, select.value); }},
    finished.map((r) => h('option', {value: r.id, selected: r.id === chosen.id}, describe(r))));
  return h('div', {class: 'field-row run-picker'}, h('label', {for: 'run-picker'}, 'Model'), select);
}
