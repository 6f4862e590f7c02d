// Step 4: try it — live webcam predictions in the browser (onnxruntime-web runs the run's model.onnx here,
// so a classroom of webcams costs the studio's computer nothing), dropped photos, a "not sure" threshold.

import {api, urls} from './api.js';
import {h, append, percent, errorBox, plural} from './dom.js';
import {projectFrame, projectLink, emptyState, chooseRun, runPicker} from './layout.js';
import {describeRun, classNames} from './results.js';
import {grabFrame, openCamera, stopCamera} from './webcam.js';
// the web demo's pixels.js (cnnlab/deploy/web, served here by the studio): Pillow's crop/pad/resize, exactly
import {fromRGBA, jpegDraftScale, toModelInput} from './pixels.js';

let ortPromise = null;
/** onnxruntime-web, from the studio itself (never a CDN); one thread unless the page is cross-origin isolated. */
export function loadOrt() {
  if (!ortPromise) {
    ortPromise = import('/vendor/ort/ort.wasm.min.mjs').then((ort) => {
      ort.env.wasm.wasmPaths = '/vendor/ort/';
      ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
      return ort;
    });
  }
  return ortPromise;
}

const sessions = new Map();  // model URL -> Promise<session>
/** The run's model, fetched and loaded once per page. */
export function loadModel(url) {
  if (!sessions.has(url)) {
    sessions.set(url, (async () => {
      const ort = await loadOrt();
      const response = await fetch(url, {credentials: 'same-origin'});
      if (!response.ok) {
        let message = '';
        try { message = (await response.json()).error; } catch { message = ''; }
        throw new Error(message || `The model could not be loaded (error ${response.status}).`);
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      const session = await ort.InferenceSession.create(bytes, {executionProviders: ['wasm'], graphOptimizationLevel: 'all'});
      return {ort, session};
    })().catch((e) => { sessions.delete(url); throw e; }));
  }
  return sessions.get(url);
}

const FIT_WORDS = {crop: 'the centre of each photo, cropped to a square', pad: 'the whole photo with black bars',
  stretch: 'the whole photo, squeezed'};

/** The run's input (model.json "input") as pixels.js takes it; fit: how the run made its photos square. */
export function inputSpec(input) {
  return {channels: Number(input.channels), size: input.size, fit: input.fit || 'crop',
    resample: input.resample || 'bilinear'};
}

/** Probabilities (one per class) for RGBA pixels (opaque: see-through parts drawn on white first). */
export async function predictPixels(model, input, rgba, w, hgt, jpegScale = 1) {
  const {ort, session} = model;
  const x = toModelInput(fromRGBA(rgba, w, hgt), inputSpec(input), jpegScale);  // (C, H, W) uint8
  const tensor = new ort.Tensor('float32', Float32Array.from(x.data), [1, x.channels, x.height, x.width]);
  const inputName = session.inputNames.includes('pixels') ? 'pixels' : session.inputNames[0];
  const out = await session.run({[inputName]: tensor});
  const output = out.probabilities || out[session.outputNames[0]];
  return Array.from(output.data);
}

export async function tryScreen(view, {projectId, runId, ctx}) {
  const [project, runs] = await Promise.all([api.get(urls.project(projectId)), api.get(urls.runs(projectId))]);
  const {finished, chosen} = chooseRun(runs, runId);
  const body = projectFrame(view, project, 'try', {runId: chosen?.id, hasRun: !!chosen});
  if (!chosen) {
    body.append(emptyState('Nothing to try yet', 'Train a model first; then show it things with your webcam here.',
      h('a', {class: 'button primary', href: projectLink(projectId, 'train')}, 'Go to Train →')));
    return;
  }
  const run = await api.get(urls.run(projectId, chosen.id));
  const meta = run.meta || {};
  const classes = classNames(run);
  const input = meta.input || {channels: 3, size: [224, 224]};

  const modelStatus = h('p', {class: 'muted', 'aria-live': 'polite', id: 'model-status'},
    'Getting the model ready (the first time takes a few seconds)…');
  const video = h('video', {class: 'camera', autoplay: true, muted: true, playsinline: true, 'aria-label': 'Webcam picture'});
  const canvas = h('canvas', {hidden: true});
  const placeholder = h('div', {class: 'camera-placeholder'}, 'Press "Start the webcam" and hold something up to the camera.');
  const camButton = h('button', {type: 'button', class: 'primary', id: 'start-live', disabled: true}, 'Start the webcam');
  const rate = h('p', {class: 'rate muted', id: 'rate', 'aria-live': 'off'}, '');
  const threshold = h('input', {type: 'range', id: 'threshold', min: 0, max: 100, step: 5, value: 60});
  const thresholdText = h('output', {for: 'threshold', id: 'threshold-value'}, '60%');
  const answer = h('p', {class: 'answer', id: 'answer', 'aria-live': 'polite'}, '–');
  const bars = classes.map((name) => {
    const fill = h('div', {class: 'bar-fill'});
    const value = h('span', {class: 'bar-value'}, '–');
    const row = h('div', {class: 'bar-row', dataset: {class: name}}, h('span', {class: 'bar-label'}, name),
      h('div', {class: 'bar'}, fill), value);
    return {row, fill, value};
  });
  const barBox = h('div', {class: 'bars', id: 'bars'}, bars.map((b) => b.row));

  const fileInput = h('input', {type: 'file', id: 'try-files', multiple: true, accept: 'image/*', class: 'visually-hidden', tabindex: '-1'});
  const fileResults = h('div', {class: 'file-results', id: 'file-results'});
  const drop = h('div', {class: 'drop-zone', tabindex: '-1'},
    h('p', {}, 'Drop photos here to test them, or'),
    h('label', {class: 'button secondary', for: 'try-files', tabindex: '0', role: 'button',
      onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } }}, 'Choose photos'),
    fileInput);

  append(body, [runPicker(projectId, 'try', finished, chosen, describeRun),
    h('div', {class: 'try-grid'},
      h('section', {class: 'card'}, h('h2', {}, 'Show it something'),
        h('div', {class: 'camera-box'}, video, placeholder), canvas,
        h('div', {class: 'button-row'}, camButton, rate), modelStatus),
      h('section', {class: 'card', 'aria-label': 'What the model says'}, h('h2', {}, 'The model says'), answer, barBox,
        h('div', {class: 'field threshold'},
          h('label', {for: 'threshold'}, 'Say "not sure" below ', thresholdText, ' sure'), threshold),
        h('p', {class: 'muted small-text'}, 'The model runs inside this browser: your webcam pictures never leave this computer.'))),
    h('section', {class: 'card'}, h('h2', {}, 'Test your own photos'), drop, fileResults)]);

  const level = () => Number(threshold.value) / 100;
  threshold.addEventListener('input', () => { thresholdText.textContent = `${threshold.value}%`; if (last) show(last); });
  let last = null;
  function show(probs) {
    last = probs;
    let best = 0;
    probs.forEach((p, i) => { if (p > probs[best]) best = i; });
    bars.forEach((b, i) => {
      const p = probs[i] ?? 0;
      b.fill.style.width = `${(100 * p).toFixed(1)}%`;
      b.value.textContent = percent(p);
      b.row.classList.toggle('best', i === best);
    });
    const sure = probs[best] >= level();
    answer.textContent = sure ? classes[best] : 'Not sure';
    answer.classList.toggle('unsure', !sure);
    answer.dataset.class = sure ? classes[best] : '';
  }
  const answerFor = (probs) => {
    let best = 0;
    probs.forEach((p, i) => { if (p > probs[best]) best = i; });
    return {best, name: probs[best] >= level() ? classes[best] : 'Not sure', p: probs[best]};
  };

  // the model
  let model = null;
  try {
    model = await loadModel(urls.onnx(projectId, chosen.id));
    modelStatus.textContent = `Model ready: ${plural(classes.length, 'class', 'classes')}, looks at ${input.size[1]}×${input.size[0]} ` +
      `${Number(input.channels) === 1 ? 'gray' : 'colour'} pictures (${FIT_WORDS[inputSpec(input).fit] || 'as trained'}).`;
    camButton.disabled = false;
  } catch (err) {
    modelStatus.replaceChildren(errorBox(err));
    return;
  }

  // the live loop
  let stream = null, running = false;
  const times = [];
  async function loop() {
    const g = canvas.getContext('2d', {willReadFrequently: true});
    while (running) {
      if (video.readyState >= 2) {
        grabFrame(video, canvas);
        const pixels = g.getImageData(0, 0, canvas.width, canvas.height);
        try {
          const probs = await predictPixels(model, input, pixels.data, canvas.width, canvas.height);
          if (!running) break;
          show(probs);
          const now = performance.now();
          times.push(now);
          while (times.length && now - times[0] > 2000) times.shift();
          if (times.length > 1) {
            const perSecond = ((times.length - 1) * 1000) / (now - times[0]);
            rate.textContent = `${perSecond.toFixed(1)} predictions per second`;
            rate.dataset.rate = perSecond.toFixed(2);
          }
          rate.dataset.count = String(Number(rate.dataset.count || 0) + 1);
        } catch (err) {
          modelStatus.replaceChildren(errorBox(err));
          running = false;
          break;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  async function stopLive() {
    running = false;
    stopCamera(stream, video);
    stream = null;
    camButton.textContent = 'Start the webcam';
    placeholder.hidden = false;
    rate.textContent = '';
    times.length = 0;
  }
  camButton.addEventListener('click', async () => {
    if (stream) { stopLive(); return; }
    camButton.disabled = true;
    try {
      stream = await openCamera(video);
      if (!ctx.alive()) { stopCamera(stream, video); return; }
      camButton.textContent = 'Stop the webcam';
      placeholder.hidden = true;
      running = true;
      loop();
    } catch (err) {
      modelStatus.replaceChildren(errorBox(err));
    } finally {
      camButton.disabled = false;
    }
  });
  ctx.onCleanup(stopLive);

  // dropped or chosen files
  async function testFiles(files) {
    for (const file of files) {
      if (!file.type.startsWith('image/')) continue;
      const card = h('figure', {class: 'file-result'}, h('p', {class: 'muted'}, 'Looking…'));
      fileResults.prepend(card);
      try {
        const bitmap = await createImageBitmap(file, {imageOrientation: 'from-image'});
        const c = document.createElement('canvas');
        c.width = bitmap.width;
        c.height = bitmap.height;
        const g = c.getContext('2d', {willReadFrequently: true});
        g.fillStyle = '#fff';  // see-through parts count as white, as in Python
        g.fillRect(0, 0, c.width, c.height);
        g.drawImage(bitmap, 0, 0);
        const scale = file.type === 'image/jpeg' ? jpegDraftScale(c.width, c.height, input.size) : 1;
        const probs = await predictPixels(model, input, g.getImageData(0, 0, c.width, c.height).data, c.width, c.height, scale);
        const a = answerFor(probs);
        if (!running) show(probs);  // the big answer and the bars show the last photo while the webcam is off
        const url = URL.createObjectURL(file);
        card.replaceChildren(h('img', {src: url, alt: file.name}),
          h('figcaption', {}, h('strong', {class: a.name === 'Not sure' ? 'unsure' : ''}, a.name),
            h('span', {class: 'muted'}, ` ${percent(a.p)} sure`)));
      } catch {
        card.replaceChildren(h('p', {class: 'error-text'}, `${file.name}: this file could not be read as a photo.`));
      }
    }
  }
  fileInput.addEventListener('change', () => { testFiles([...fileInput.files]); fileInput.value = ''; });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('dragging'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('dragging'); testFiles([...(e.dataTransfer?.files || [])]); });
}
