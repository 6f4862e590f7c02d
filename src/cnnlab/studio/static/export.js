// Step 5: export — take the model (and the project) away: the run, ONNX, a web page, the model card.

import {api, urls} from './api.js';
import {h, append} from './dom.js';
import {projectFrame, projectLink, emptyState, chooseRun, runPicker} from './layout.js';
import {describeRun} from './results.js';

const KINDS = [
  {kind: 'web.zip', title: 'A web page', button: 'Download the web demo',
    text: 'A small website that runs your model with the webcam in any browser, also without the studio. Unzip it and open it on a web server.'},
  {kind: 'model.onnx', title: 'ONNX model', button: 'Download model.onnx',
    text: 'The model as one file that many programs can run (onnxruntime in Python, C#, JavaScript, phones).'},
  {kind: 'run.zip', title: 'The whole training run', button: 'Download the run (.zip)',
    text: 'Everything the training made: the weights, the settings, the learning curves and the report. cnnlab can load it again.'},
  {kind: 'model_card.md', title: 'Model card', button: 'Download the model card',
    text: 'A short text about the model: what it was trained on, how good it is, and what it should not be used for.'},
];

export async function exportScreen(view, {projectId, runId}) {
  const [project, runs] = await Promise.all([api.get(urls.project(projectId)), api.get(urls.runs(projectId))]);
  const {finished, chosen} = chooseRun(runs, runId);
  const body = projectFrame(view, project, 'export', {runId: chosen?.id, hasRun: !!chosen});
  const projectCard = h('section', {class: 'card export-card'}, h('h2', {}, 'Your photos'),
    h('p', {}, 'All classes and photos of this project as a .zip, to keep or to share. Import it on another computer.'),
    h('a', {class: 'button secondary', href: urls.projectZip(projectId), download: `${projectId}.zip`, 'data-kind': 'project.zip'},
      'Download the project (.zip)'));
  if (!chosen) {
    body.append(emptyState('No trained model yet', 'Train a model first; then you can download it here.',
      h('a', {class: 'button primary', href: projectLink(projectId, 'train')}, 'Go to Train →')), projectCard);
    return;
  }
  append(body, [runPicker(projectId, 'export', finished, chosen, describeRun),
    h('p', {class: 'lead'}, `The model: ${describeRun(chosen)}.`),
    h('div', {class: 'export-grid'},
      KINDS.map((k) => h('section', {class: 'card export-card'}, h('h2', {}, k.title), h('p', {}, k.text),
        h('a', {class: `button ${k.kind === 'web.zip' ? 'primary' : 'secondary'}`, href: urls.exportFile(projectId, chosen.id, k.kind),
          download: '', 'data-kind': k.kind}, k.button))),
      projectCard)]);
}
