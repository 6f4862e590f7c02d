// The live view of a training run: status, progress bar with time left, loss and accuracy curves drawn as
// the server-sent events arrive, cancel and resume. Every connection replays the run from its start.

import {api, urls} from './api.js';
import {h, percent, duration, errorBox, cleanMessage} from './dom.js';
import {projectLink} from './layout.js';
import {LineChart, COLORS} from './charts.js';
import {STATUS_WORDS} from './runs.js';

/** The live view of one run: status, progress bar, time left, loss and accuracy curves, cancel/resume. */
export function liveView(projectId, ctx, onEnd, onStart) {
  const title = h('h2', {}, 'Training');
  const statusLine = h('p', {class: 'live-status', 'aria-live': 'polite'}, 'Press "Start training" and watch the model learn here.');
  const bar = h('div', {class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0,
    'aria-label': 'Training progress'}, h('div', {class: 'progress-fill'}));
  const timeLeft = h('p', {class: 'muted time-left'});
  const lossCanvas = h('canvas', {class: 'chart', id: 'live-loss', 'aria-label': 'Loss curve'});
  const accCanvas = h('canvas', {class: 'chart', id: 'live-accuracy', 'aria-label': 'Accuracy curve'});
  const loss = new LineChart(lossCanvas, {title: 'Loss (lower is better)', xLabel: 'epoch'});
  const acc = new LineChart(accCanvas, {title: 'Accuracy on validation photos', xLabel: 'epoch',
    yFormat: (v) => `${Math.round(100 * v)}%`, yMin: 0, yMax: 1});
  const notes = h('ul', {class: 'notes'});
  const message = h('div', {'aria-live': 'assertive'});
  const cancel = h('button', {type: 'button', class: 'secondary', hidden: true, id: 'cancel-training'}, 'Stop');
  const resume = h('button', {type: 'button', class: 'primary', hidden: true, id: 'resume-training'}, 'Go on training');
  const next = h('div', {class: 'button-row'});
  const element = h('section', {class: 'card live', 'aria-label': 'Training progress'}, title, statusLine, bar,
    h('div', {class: 'live-row'}, timeLeft, cancel, resume), message, next,
    h('div', {class: 'charts'}, lossCanvas, accCanvas), notes);
  let source = null, runId = null, startedAt = 0, ended = false, currentEpochs = 0, doneText = '';

  const setProgress = (fraction) => {
    const value = Math.max(0, Math.min(1, fraction));
    bar.firstChild.style.width = `${(100 * value).toFixed(1)}%`;
    bar.setAttribute('aria-valuenow', Math.round(100 * value));
  };
  const close = () => { if (source) { source.close(); source = null; } };
  ctx.onCleanup(close);

  function reset() {
    loss.clear();
    acc.clear();
    notes.replaceChildren();
    message.replaceChildren();
    next.replaceChildren();
    setProgress(0);
    timeLeft.textContent = '';
    doneText = '';
    startedAt = performance.now();
  }

  function showEta(event, fraction) {
    let eta = event.eta_s;
    if (!Number.isFinite(eta) && fraction > 0.02) eta = ((performance.now() - startedAt) / 1000) * (1 - fraction) / fraction;
    timeLeft.textContent = Number.isFinite(eta) ? `About ${duration(Math.max(1, eta))} left` : '';
  }

  function handle(e) {
    switch (e.event) {
      case 'started':
        statusLine.textContent = 'Getting ready…';
        break;
      case 'stage': {
        if (doneText) {  // after training: checking each test image, then getting the model ready for Try it
          const what = /try it/i.test(e.stage) ? 'Getting the model ready for Try it…' : 'Looking at each test photo…';
          statusLine.textContent = `${doneText} ${what}`;
          break;
        }
        const words = String(e.stage).startsWith('features') ? 'Looking at your photos' : `Preparing (${e.stage})`;
        statusLine.textContent = `${words}: ${e.done} of ${e.total}`;
        const f = e.total ? e.done / e.total : 0;
        setProgress(Number.isFinite(e.step / e.steps) ? e.step / e.steps : f);
        showEta(e, f);
        break;
      }
      case 'note':
        if (!/Ctrl-C/.test(e.text || '')) notes.append(h('li', {}, cleanMessage(e.text)));  // terminal advice
        break;
      case 'epoch_begin':
        statusLine.textContent = `Epoch ${e.epoch} of ${e.epochs}${/fine/.test(e.phase || '') ? ' (fine-tuning the whole model)' : ''}`;
        break;
      case 'batch': {
        const x = e.epoch - 1 + (e.batches ? e.batch / e.batches : 1);
        if (e.loss !== undefined) loss.add('each step', x, e.loss, {color: COLORS.batch, thin: true});
        const epochs = e.epochs || currentEpochs;
        const f = Number.isFinite(e.step / e.steps) ? e.step / e.steps : epochs ? x / epochs : 0;
        setProgress(f);
        showEta(e, f);
        break;
      }
      case 'epoch_end': {
        const m = e.metrics || {};
        currentEpochs = e.epochs;
        if (m.train_loss !== undefined) loss.add('training', e.epoch, m.train_loss, {color: COLORS.train});
        if (m.val_loss !== undefined) loss.add('validation', e.epoch, m.val_loss, {color: COLORS.validation});
        if (m.val_accuracy !== undefined) {
          acc.add('validation', e.epoch, m.val_accuracy, {color: COLORS.accuracy});
          statusLine.textContent = `Epoch ${e.epoch} of ${e.epochs}: ${percent(m.val_accuracy)} of the validation photos right`;
        }
        setProgress(Number.isFinite(e.step / e.steps) ? e.step / e.steps : e.epoch / e.epochs);
        break;
      }
      case 'finished': {
        const m = e.metrics || {};
        setProgress(1);
        timeLeft.textContent = '';
        doneText = m.test_accuracy !== undefined
          ? `Done! The model got ${percent(m.test_accuracy)} of the test photos right.` : 'Done!';
        statusLine.textContent = `${doneText} Looking at each test photo…`;
        break;
      }
      case 'interrupted':
        statusLine.textContent = 'Stopped. Everything learned so far is saved.';
        timeLeft.textContent = '';
        break;
      case 'failed':
        timeLeft.textContent = '';
        statusLine.textContent = 'Training stopped because of a problem.';
        message.replaceChildren(h('div', {class: 'notice notice-error', role: 'alert'},
          e.kind === 'bug' ? 'Something went wrong inside cnnlab (this is a bug, not your mistake): ' : '', cleanMessage(e.message)));
        break;
      case 'status':
        end(e);
        break;
      default:
        break;
    }
  }

  function end(e) {
    ended = true;
    close();
    cancel.hidden = true;
    resume.hidden = e.status !== 'interrupted';
    title.textContent = `Training: ${STATUS_WORDS[e.status] || e.status}`;
    if (e.status === 'finished') {
      setProgress(1);
      statusLine.textContent = doneText || 'Done!';
      next.replaceChildren(
        h('a', {class: 'button primary', href: projectLink(projectId, 'results', runId), id: 'see-results'}, 'See the results →'),
        h('a', {class: 'button secondary', href: projectLink(projectId, 'try', runId)}, 'Try it live →'));
    }
    if (e.status === 'failed' && e.error && !message.childNodes.length) message.replaceChildren(errorBox(e.error));
    onEnd();
  }

  function follow(id) {
    close();
    reset();
    runId = id;
    ended = false;
    title.textContent = 'Training…';
    statusLine.textContent = 'Starting…';
    cancel.hidden = false;
    resume.hidden = true;
    onStart();
    source = new EventSource(urls.events(projectId, id));
    element.dataset.run = id;
    source.onopen = () => reset();  // each connection replays the run from its start
    source.onmessage = (m) => {
      let event;
      try { event = JSON.parse(m.data); } catch { return; }
      handle(event);
    };
    source.onerror = () => {
      if (ended || !source) return;
      if (source.readyState === EventSource.CLOSED) {  // the server refused the stream: ask for the run's state
        close();
        api.get(urls.run(projectId, id)).then((run) => end({status: run.status})).catch((err) => {
          message.replaceChildren(errorBox(err));
          end({status: 'failed'});
        });
      } else statusLine.textContent = 'Lost the connection to the studio; trying again…';
    };
  }

  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    statusLine.textContent = 'Stopping after this step…';
    try { await api.post(urls.cancel(projectId, runId)); } catch (err) { message.replaceChildren(errorBox(err)); }
    cancel.disabled = false;
  });
  resume.addEventListener('click', async () => {
    try {
      await api.post(urls.resume(projectId, runId));
      const id = runId;
      follow(id);
    } catch (err) { message.replaceChildren(errorBox(err)); }
  });
  return {element, follow};
}
