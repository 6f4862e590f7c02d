// Step 3: results — accuracy, per-class scores, curves, a confusion matrix whose cells open the photos
// (with the model's confidence and Grad-CAM), the most confident mistakes, the model card.

import {api, urls} from './api.js';
import {h, append, plural, percent, errorBox, openDialog} from './dom.js';
import {projectFrame, projectLink, emptyState, chooseRun, runPicker} from './layout.js';
import {drawHistory} from './charts.js';
import {renderMarkdown} from './markdown.js';
import {formatTime, MODE_WORDS} from './runs.js';

/** The run's class names, in the model's order (the server sends [{id, name}] or names). */
export function classNames(run) {
  const list = run.classes || (run.meta && run.meta.classes) || [];
  return list.map((c) => (typeof c === 'string' ? c : c.name));
}
export const describeRun = (r) => `${MODE_WORDS[r.mode] || r.mode}, ${formatTime(r.created)}` +
  (r.test_accuracy !== null && r.test_accuracy !== undefined ? ` — ${percent(r.test_accuracy)}` : '');

export async function resultsScreen(view, {projectId, runId}) {
  const [project, runs] = await Promise.all([api.get(urls.project(projectId)), api.get(urls.runs(projectId))]);
  const {finished, chosen} = chooseRun(runs, runId);
  const body = projectFrame(view, project, 'results', {runId: chosen?.id, hasRun: !!chosen});
  if (!chosen) {
    body.append(emptyState('No results yet', 'Train a model first. Its results appear here: what it gets right, what it mixes up, and why.',
      h('a', {class: 'button primary', href: projectLink(projectId, 'train')}, 'Go to Train →')));
    return;
  }
  const run = await api.get(urls.run(projectId, chosen.id));
  const classes = classNames(run);
  const metrics = run.metrics || {};
  const picker = runPicker(projectId, 'results', finished, chosen, describeRun);

  // accuracy, in words
  const ci = confidenceRange(metrics.ci);
  const accuracy = metrics.accuracy ?? metrics.test_accuracy ?? chosen.test_accuracy;
  const tested = (metrics.per_class || []).reduce((s, c) => s + (c.support || 0), 0);
  const summary = h('div', {class: 'card score-card'},
    h('p', {class: 'big-number', id: 'test-accuracy'}, percent(accuracy)),
    h('p', {}, `of the ${tested ? plural(tested, 'test photo') : 'test photos'} were named right. `,
      'The model never saw these photos while it learned.'),
    ci ? h('p', {class: 'muted'}, `With this few test photos, the true accuracy is probably between ${percent(ci[0])} and ${percent(ci[1])}.`) : null);

  const lossCanvas = h('canvas', {class: 'chart', 'aria-label': 'Loss per epoch'});
  const accCanvas = h('canvas', {class: 'chart', 'aria-label': 'Validation accuracy per epoch'});
  const curves = h('div', {class: 'card'}, h('h2', {}, 'How it learned'), h('div', {class: 'charts'}, lossCanvas, accCanvas));

  append(body, [picker, h('div', {class: 'results-top'}, summary, curves),
    h('div', {class: 'results-grid'},
      confusionCard(projectId, chosen.id, classes, run.confusion, run.note),
      perClassCard(metrics.per_class || [])),
    mistakesCard(projectId, chosen.id, classes),
    modelCardBox(projectId, chosen.id)]);
  drawHistory(lossCanvas, accCanvas, run.history || []);
}

function confidenceRange(ci) {
  if (!ci) return null;
  if (Array.isArray(ci) && ci.length === 2) return ci;
  if (typeof ci === 'object' && 'low' in ci) return [ci.low, ci.high];
  return null;
}

/** Rows: the true class; columns: what the model said. Each cell is a button that opens its photos. */
function confusionCard(projectId, runId, classes, matrix, note) {
  if (!matrix || !matrix.length) {
    return h('section', {class: 'card'}, h('h2', {}, 'What it mixes up'),
      h('p', {class: 'muted'}, `The answers for each test photo are not available for this model${note ? ` (${note})` : ''}.`));
  }
  const max = Math.max(1, ...matrix.flat());
  const table = h('table', {class: 'confusion'},
    h('thead', {}, h('tr', {}, h('th', {class: 'corner'}, h('span', {}, 'real ↓  said →')),
      classes.map((c) => h('th', {scope: 'col'}, c)))),
    h('tbody', {}, matrix.map((row, t) => h('tr', {}, h('th', {scope: 'row'}, classes[t]),
      row.map((n, p) => {
        const right = t === p;
        const strength = n / max;
        const label = `${plural(n, 'photo')} of ${classes[t]} the model called ${classes[p]}`;
        return h('td', {}, h('button', {type: 'button', class: `cell ${right ? 'cell-right' : 'cell-wrong'}${n ? '' : ' cell-zero'}`,
          style: `--strength: ${strength.toFixed(3)}`, 'aria-label': label, title: label, disabled: !n,
          dataset: {true: t, pred: p},
          onclick: () => openCell(projectId, runId, classes, t, p, n)}, String(n)));
      })))));
  return h('section', {class: 'card'}, h('h2', {}, 'What it mixes up'),
    h('p', {class: 'muted'}, 'Each row is the real class; each column is what the model said. ' +
      'Green squares are right answers. Click a number to see those photos.'),
    h('div', {class: 'confusion-wrap'}, table));
}

async function openCell(projectId, runId, classes, t, p, n) {
  const title = t === p ? `${classes[t]}: named right` : `Real ${classes[t]}, the model said ${classes[p]}`;
  const {body} = openDialog(title, {wide: true});
  body.append(h('p', {class: 'muted'}, 'Loading the photos…'));
  try {
    const rows = await api.get(urls.cell(projectId, runId, t, p));
    body.replaceChildren(h('p', {}, `${plural(rows.length, 'photo')}. "How sure" is the model's confidence in its answer. ` +
      'The heat map shows where the model looked (red: most).'), imageGrid(projectId, runId, classes, rows));
  } catch (err) {
    body.replaceChildren(errorBox(err));
  }
}

const className = (classes, v) => (typeof v === 'number' ? classes[v] : v);

/** Photos with the model's answer, confidence and Grad-CAM side by side. */
function imageGrid(projectId, runId, classes, rows, withClasses = false) {
  return h('div', {class: 'image-grid'}, rows.map((row) => {
    const img = row.image || {};
    const cam = urls.gradcam(projectId, runId, img.c, img.i);
    return h('figure', {class: 'result-image'},
      h('div', {class: 'pair'},
        h('img', {src: img.url || img.thumb, alt: 'Photo', loading: 'lazy'}),
        h('img', {src: cam, alt: 'Where the model looked', loading: 'lazy', class: 'gradcam'})),
      h('figcaption', {},
        withClasses ? h('span', {}, `Real: ${className(classes, row.true)} · Said: `, h('strong', {}, className(classes, row.pred))) : null,
        h('span', {class: 'confidence'}, `${percent(row.confidence)} sure`)));
  }));
}

function perClassCard(perClass) {
  return h('section', {class: 'card'}, h('h2', {}, 'Each class'),
    h('table', {class: 'table per-class'},
      h('thead', {}, h('tr', {},
        h('th', {}, 'Class'),
        h('th', {title: 'recall: of the real photos of this class, how many it found'}, 'Found', h('small', {}, 'recall')),
        h('th', {title: 'precision: when it said this class, how often it was right'}, 'Right when it said so', h('small', {}, 'precision')),
        h('th', {title: 'F1: one score from both'}, 'Score', h('small', {}, 'F1')),
        h('th', {}, 'Test photos'))),
      h('tbody', {}, perClass.map((c) => h('tr', {},
        h('th', {scope: 'row'}, c.class), h('td', {}, percent(c.recall)), h('td', {}, percent(c.precision)),
        h('td', {}, percent(c.f1)), h('td', {}, String(c.support ?? '–')))))),
    h('p', {class: 'muted small-text'}, 'Found: of the real photos of a class, how many the model named right. ' +
      'Right when it said so: when the model named that class, how often it was right.'));
}

function mistakesCard(projectId, runId, classes) {
  const box = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  api.get(urls.mistakes(projectId, runId, 12)).then((rows) => {
    box.replaceChildren(rows.length ? imageGrid(projectId, runId, classes, rows, true)
      : h('p', {}, 'No mistakes on the test photos. Try harder photos in "Try it"!'));
  }).catch((err) => box.replaceChildren(errorBox(err)));
  return h('section', {class: 'card'}, h('h2', {}, 'Its most confident mistakes'),
    h('p', {class: 'muted'}, 'Wrong answers the model was very sure about. Are the photos unclear, or in the wrong class?'), box);
}

function modelCardBox(projectId, runId) {
  const content = h('div', {}, h('p', {class: 'muted'}, 'Loading…'));
  const details = h('details', {class: 'card model-card'},
    h('summary', {}, h('h2', {}, 'Model card'), h('span', {class: 'muted'}, ' what this model is, what it was trained on, and its limits')),
    content);
  let loaded = false;
  details.addEventListener('toggle', async () => {
    if (!details.open || loaded) return;
    loaded = true;
    try {
      const response = await fetch(urls.modelCard(projectId, runId), {credentials: 'same-origin'});
      if (!response.ok) throw new Error('The model card could not be loaded.');
      content.replaceChildren(renderMarkdown(await response.text()));
    } catch (err) { content.replaceChildren(errorBox(err)); }
  });
  return details;
}
