// The runs of a project: a table of earlier trainings with links to their results, and deleting one.

import {api, urls} from './api.js';
import {h, percent, toast, errorBox, openDialog} from './dom.js';
import {projectLink} from './layout.js';

export const STATUS_WORDS = {running: 'Training…', finished: 'Finished', failed: 'Failed', interrupted: 'Stopped'};
export const MODE_WORDS = {quick: 'Quick', scratch: 'From scratch', custom: 'Custom'};

/** Earlier trainings of this project. */
export function runsTable(projectId, runs, refresh) {
  const sorted = [...runs].sort((a, b) => String(b.created).localeCompare(String(a.created)));
  return h('section', {class: 'card runs'}, h('h2', {}, 'Your trained models'),
    h('table', {class: 'table'},
      h('thead', {}, h('tr', {}, h('th', {}, 'Started'), h('th', {}, 'How'), h('th', {}, 'Status'),
        h('th', {}, 'Test accuracy'), h('th', {}, h('span', {class: 'visually-hidden'}, 'Actions')))),
      h('tbody', {}, sorted.map((r) => h('tr', {},
        h('td', {}, formatTime(r.created)), h('td', {}, MODE_WORDS[r.mode] || r.mode || '–'),
        h('td', {}, h('span', {class: `status status-${r.status}`}, STATUS_WORDS[r.status] || r.status)),
        h('td', {}, r.test_accuracy === null || r.test_accuracy === undefined ? '–' : percent(r.test_accuracy, 1)),
        h('td', {class: 'row-actions'},
          r.status === 'finished' ? h('a', {class: 'button small secondary', href: projectLink(projectId, 'results', r.id)}, 'Results') : null,
          r.status === 'finished' ? h('a', {class: 'button small ghost', href: projectLink(projectId, 'try', r.id)}, 'Try it') : null,
          r.status !== 'running' ? h('button', {type: 'button', class: 'small ghost danger', 'aria-label': `Delete the model from ${formatTime(r.created)}`,
            onclick: () => deleteRun(projectId, r, refresh)}, 'Delete') : null))))));
}

function deleteRun(projectId, run, refresh) {
  const {body, close} = openDialog('Delete this trained model?');
  const yes = h('button', {type: 'button', class: 'danger', onclick: async () => {
    try { await api.del(`${urls.run(projectId, run.id)}?confirm=1`); close(); toast('Deleted.'); refresh(); }
    catch (err) { body.append(errorBox(err)); }
  }}, 'Delete it');
  body.append(h('p', {}, 'Its results and exports are deleted too. Your photos stay.'),
    h('div', {class: 'button-row'}, yes, h('button', {type: 'button', class: 'ghost', onclick: close}, 'Keep it')));
  yes.focus();
}

export function formatTime(value) {
  if (!value) return '–';
  const d = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(undefined, {month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit'});
}
