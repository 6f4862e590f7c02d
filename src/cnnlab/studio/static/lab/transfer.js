// #/learn/transfer: 8. Transfer learning. The real EfficientNet-Lite0 (the studio's Quick model) drawn part by part
// with its parameter counts and output shapes for a 224x224 picture, frozen or trained; a slider fine-tunes the last
// stages (cnnlab.training.transfer.unfreeze_last); its ImageNet stem kernels; a link to train a project with Quick.

import {labFrame, selfCheck, timed, speedNote, api, h} from './common.js';

const num = (n) => n.toLocaleString('en-US');

export default async function page(view, {ctx}) {
  const {body} = labFrame(view, 'transfer',
    'Training a big vision model from nothing takes millions of photos and many computers running for weeks. ' +
    'Transfer learning is "standing on the shoulders of giants": researchers share the weights of networks trained on ' +
    'ImageNet (1.3 million photos of 1000 kinds of things), and we reuse them.',
    'The early layers of such a network have learned to find edges, colours and textures; the later ones find parts ' +
    'of objects. That is useful for almost any photo. So we keep those layers as they are (frozen: their numbers do ' +
    'not change) and replace only the last layer by a new classifier for our own classes. Only that small part is ' +
    'trained, which is why the studio\'s Quick training takes seconds instead of weeks.');

  const loading = h('p', {class: 'tl-loading muted', role: 'status'}, 'Building EfficientNet-Lite0 to count its parts (the first time takes a few seconds)…');
  const blocks = h('ol', {class: 'tl-blocks', 'aria-label': 'EfficientNet-Lite0, part by part'});
  const classes = h('input', {type: 'number', min: 2, max: 100, value: 2, name: 'classes', class: 'small-input', 'aria-label': 'Classes in your project'});
  const stages = h('input', {type: 'range', min: 0, max: 7, step: 1, value: 0, name: 'stages', 'aria-label': 'Fine-tune the last N stages too'});
  const stagesOut = h('output', {class: 'tl-value'}, '0');
  const total = h('div', {class: 'tl-total', 'aria-live': 'polite'});
  const bar = h('div', {class: 'tl-bar', 'aria-hidden': 'true'}, h('span'));
  const note = speedNote();
  body.append(h('section', {class: 'card tl-card', 'aria-label': 'The backbone'},
    h('h2', {}, 'The Quick model, part by part'),
    h('p', {class: 'muted'}, 'EfficientNet-Lite0, as the studio trains it. A 224×224 colour picture goes in on the left. ' +
      'Each box shows how many numbers (parameters) the part has and the shape of what comes out (channels × height × width). ' +
      'Grey boxes marked frozen: they keep what they learned on ImageNet. Coloured boxes are trained on your photos.'),
    loading, blocks,
    h('div', {class: 'tl-controls'},
      h('label', {class: 'tl-classes'}, 'Classes in your project ', classes),
      h('label', {class: 'lab-slider tl-slider'}, h('span', {}, 'Fine-tune the last stages too'), stages, stagesOut)),
    h('p', {class: 'muted tl-tune-note'}, 'Fine-tuning: after the new classifier has learned, also train the last stages ' +
      'a little (at a tenth of the learning rate). It can help when your photos look very different from ImageNet, ' +
      'but it needs more photos and takes much longer, because every photo must go through the whole network every epoch.'),
    total, bar, note));

  const kernelsBox = h('div', {class: 'tl-kernels'});
  body.append(h('section', {class: 'card tl-card', 'aria-label': 'Pretrained kernels'},
    h('h2', {}, 'What the first layer learned on ImageNet'),
    h('p', {class: 'muted'}, 'The 32 kernels of the stem (3×3 pixels × 3 colours each), drawn as tiny colour pictures, ' +
      'zoomed in. Nobody designed them: training on a million photos made them. Many look for an edge in one direction ' +
      'or for a change from one colour to another, like the kernels you tried on the convolution page.'),
    kernelsBox));

  const projectBox = h('div', {class: 'tl-project'});
  body.append(h('section', {class: 'card tl-card', 'aria-label': 'Train your project'},
    h('h2', {}, 'Try it: train your own project with Quick'), projectBox));

  const check = selfCheck({
    question: 'Your project has 3 classes. With Quick, how many numbers (parameters) does the studio train? ' +
      'The new classifier connects each of the 1280 features to each class, and adds one bias per class.',
    answer: 1280 * 3 + 3,
    why: '1280 × 3 weights + 3 biases = 3,843. Set "Classes in your project" to 3 and look at the new classifier.',
    hint: 'Multiply 1280 by the number of classes, then add one bias for each class.',
  });
  check.classList.add('tl-check');
  body.append(check);

  // ------------------------------------------------------------------------------ the model
  let arch = null;
  const draw = () => {
    const n = Number(stages.value);
    stagesOut.textContent = n === 0 ? 'none' : String(n);
    const t = arch.trainable[n];
    const trained = new Set(t.trained);
    blocks.replaceChildren(
      h('li', {class: 'tl-block input'}, h('div', {class: 'tl-name'}, 'your picture'),
        h('div', {class: 'tl-shape'}, arch.input.join('×')), h('div', {class: 'tl-kind'}, 'resized to 224×224')),
      ...arch.parts.map((p) => {
        const on = trained.has(p.name);
        const state = p.params === 0 ? 'none' : on ? 'trained' : 'frozen';
        return h('li', {class: `tl-block ${state}${p.name === 'new classifier' ? ' new' : ''}`, dataset: {part: p.name, state, params: String(p.params)},
          title: `${p.name}: ${p.kind}; ${num(p.params)} parameters; finds ${p.looks_for}`},
        h('div', {class: 'tl-name'}, p.name),
        state === 'none' ? null : h('div', {class: `tl-badge ${state}`}, state === 'frozen' ? 'frozen' : 'trained'),
        h('div', {class: 'tl-params'}, p.params ? num(p.params) : 'no parameters'),
        h('div', {class: 'tl-shape'}, p.shape.join('×')),
        h('div', {class: 'tl-kind'}, p.blocks > 1 ? `${p.blocks} blocks · ${p.looks_for}` : p.looks_for),
        h('div', {class: 'tl-size', 'aria-hidden': 'true'}, h('span', {style: `width: ${Math.max(2, 100 * Math.log10(1 + p.params) / Math.log10(2e6))}%`})));
      }));
    const share = t.params / arch.total;
    total.dataset.trainable = String(t.params);
    total.replaceChildren(h('strong', {}, `Trained: ${num(t.params)} of ${num(arch.total)} parameters (${(100 * share).toFixed(share < 0.01 ? 2 : 1)}%)`),
      n === 0 ? ' — Quick: only the new classifier learns; everything else stays as ImageNet taught it.'
        : ` — the new classifier, the head convolution and the last ${n === 1 ? 'stage' : `${n} stages`}` +
          `${n === arch.fine_tune_default ? ' (what cnnlab\'s fine_tune option does)' : ''}.`);
    bar.firstChild.style.width = `${Math.max(0.5, 100 * share)}%`;
  };
  const load = async () => {
    const k = Math.max(2, Math.min(100, Math.round(Number(classes.value) || 2)));
    await timed('transfer: model', async () => {
      arch = await api.get(`/api/learn/transfer/model?classes=${k}`);
      if (!ctx.alive()) return;
      loading.remove();
      draw();
    }, note);
  };
  stages.addEventListener('input', () => { if (arch) timed('transfer: fine-tune slider', async () => draw(), note); });
  classes.addEventListener('change', () => load());
  load().catch((err) => { loading.textContent = `The model could not be built: ${err.message}`; });

  // ------------------------------------------------------------------------------ kernels
  api.get('/api/learn/transfer/kernels').then((out) => {
    if (!ctx.alive()) return;
    if (!out.kernels) { kernelsBox.append(h('p', {class: 'muted'}, `Not shown: ${out.why}`)); return; }
    kernelsBox.replaceChildren(...out.kernels.map((k, i) => kernelCanvas(k, i)));
  }).catch((err) => kernelsBox.append(h('p', {class: 'muted'}, err.message)));

  // ------------------------------------------------------------------------------ projects
  api.get('/api/learn/transfer/projects').then((list) => {
    if (!ctx.alive()) return;
    if (!list.length) {
      projectBox.append(h('p', {}, 'You have no project yet. Make one on the Projects page: add two or more classes, ' +
        'take 10 or more photos of each, then press Train with Quick. On this kind of computer a Quick run of 60 photos ' +
        'took 6 to 15 seconds from the click to the results.'),
      h('a', {href: '#/', class: 'button primary', dataset: {action: 'make-project'}}, 'Make a project first'));
      return;
    }
    const select = h('select', {'aria-label': 'Project', name: 'project', class: 'small-select'},
      list.map((p) => h('option', {value: p.id}, `${p.name} (${p.images} photos, ${p.classes} classes)`)));
    const go = h('a', {class: 'button primary', dataset: {action: 'train-quick'}}, 'Train your project with Quick →');
    const about = h('p', {class: 'muted tl-quick'});
    const pick = () => {
      const p = list.find((x) => x.id === select.value);
      go.setAttribute('href', `#/p/${encodeURIComponent(p.id)}/train`);
      if (p.classes >= 2 && String(classes.value) !== String(p.classes)) { classes.value = String(p.classes); load(); }
      const q = p.quick;
      about.textContent = q && q.features_seconds !== null && q.head_seconds !== null
        ? `Your last Quick run of this project: ${q.features_seconds} s to pass every photo once through the frozen backbone, ` +
          `then ${q.head_seconds} s to train the new classifier${q.test_accuracy !== null ? ` (test accuracy ${(100 * q.test_accuracy).toFixed(0)}%)` : ''}.`
        : 'Quick passes each photo once through the frozen backbone, then trains only the new classifier: ' +
          'for 60 photos that took 6 to 15 seconds on this kind of computer.';
    };
    select.addEventListener('change', pick);
    projectBox.append(h('div', {class: 'tl-project-row'}, select, go), about);
    pick();
  }).catch((err) => projectBox.append(h('p', {class: 'muted'}, err.message)));
}

/** One 3x3x3 kernel as a tiny colour picture, scaled to 0..255 by its own min and max (as explain.trained draws them). */
function kernelCanvas(k, i) {
  // k: [C=3][3][3]
  const flat = k.flat(2);
  const lo = Math.min(...flat), hi = Math.max(...flat);
  const canvas = h('canvas', {width: 3, height: 3, class: 'tl-kernel', dataset: {index: String(i)}, title: `kernel ${i + 1}`});
  const g = canvas.getContext('2d');
  const img = g.createImageData(3, 3);
  for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) {
    for (let c = 0; c < 3; c++) img.data[4 * (3 * y + x) + c] = Math.round(255 * (k[c][y][x] - lo) / ((hi - lo) || 1));
    img.data[4 * (3 * y + x) + 3] = 255;
  }
  g.putImageData(img, 0, 0);
  return canvas;
}
