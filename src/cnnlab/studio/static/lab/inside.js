// #/learn/inside: 9. Inside your model. For a finished run of any project: the student's picture as the model sees
// it, the prediction, Grad-CAM for the predicted or a chosen class, the first-layer kernels and the feature maps at
// each block (cnnlab.learn.lab.inside, built on cnnlab.learn.explain.trained; computed on the server).

import {labFrame, imagePicker, selfCheck, timed, speedNote, latest, api, h} from './common.js';

const pct = (p) => `${(100 * p).toFixed(1)}%`;

export default async function page(view, {ctx}) {
  const {body} = labFrame(view, 'inside',
    'A trained network is not magic: it is the kernels it learned, applied layer after layer. Here you can open one of ' +
    'your own trained models and look inside while it looks at a picture you choose.',
    'The first layer\'s kernels are small pictures of what it reacts to (edges, colours). Each block makes new ' +
    'feature maps: bright where the block found its pattern. Early maps still look like the photo; later ones are ' +
    'smaller and more abstract. Grad-CAM then colours the places of the picture that pushed the model towards a class.');

  const runs = await api.get('/api/learn/inside/runs');
  if (!ctx.alive()) return;
  if (!runs.length) {
    body.append(h('section', {class: 'card in-empty', dataset: {state: 'empty'}},
      h('h2', {}, 'No trained model yet'),
      h('p', {}, 'This page looks inside a model you trained in the studio, and you have none yet. Make a project on the ' +
        'Projects page, add two or more classes with 10 or more photos each, and press Train (Quick takes a few seconds). ' +
        'Then come back here.'),
      h('a', {href: '#/', class: 'button primary', dataset: {action: 'projects'}}, 'Go to your projects')));
    return;
  }

  let image = null;
  let target = null;
  const select = h('select', {name: 'run', 'aria-label': 'Trained model', class: 'small-select'},
    runs.map((r, i) => h('option', {value: String(i)}, `${r.project_name} · run ${r.run.slice(0, 13).replace('-', ' ')}` +
      ` · ${r.mode || 'run'}${r.test_accuracy !== null && r.test_accuracy !== undefined ? ` · ${pct(r.test_accuracy)} on its test photos` : ''}`)));
  const runInfo = h('span', {class: 'muted small-text'});
  const loading = h('p', {class: 'in-loading', role: 'status', hidden: true});
  const note = speedNote();
  body.append(h('section', {class: 'card in-pick'}, h('h2', {}, 'Pick one of your trained models'),
    h('div', {class: 'in-pick-row'}, select, runInfo), loading));
  const picker = imagePicker((info) => { image = info; target = null; update(); });
  body.append(picker.element);

  const inputCanvas = h('canvas', {class: 'in-input lab-pixels', 'aria-label': 'The picture as the model sees it'});
  const camCanvas = h('canvas', {class: 'in-input lab-pixels in-cam', 'aria-label': 'Grad-CAM over the picture'});
  const notes = h('ul', {class: 'in-notes muted'});
  const probs = h('div', {class: 'in-probs', role: 'group', 'aria-label': 'Prediction: pick a class to explain'});
  const camTitle = h('p', {class: 'in-cam-title'});
  const kernels = h('div', {class: 'in-kernels'});
  const kernelTitle = h('p', {class: 'muted'});
  const blocks = h('div', {class: 'in-blocks'});
  body.append(
    h('section', {class: 'card in-card'}, h('h2', {}, 'What the model sees, and what it answers'),
      h('div', {class: 'in-see'},
        h('figure', {class: 'lab-figure'}, inputCanvas, h('figcaption', {}, 'your picture, as the model takes it'), notes),
        h('div', {class: 'in-answer'}, h('h3', {}, 'Prediction'), h('p', {class: 'muted small-text'},
          'Click a class to see where the evidence for it is.'), probs),
        h('figure', {class: 'lab-figure'}, camCanvas, h('figcaption', {}, 'Grad-CAM: red = strong evidence, blue = none'), camTitle)),
      note),
    h('section', {class: 'card in-card'}, h('h2', {}, 'First-layer kernels'), kernelTitle, kernels),
    h('section', {class: 'card in-card'}, h('h2', {}, 'Feature maps, block by block'),
      h('p', {class: 'muted'}, 'For each block: the shape of its output (maps × height × width) and its 6 most active ' +
        'maps for your picture. Bright = the block found its pattern there. Blue and red: negative and positive numbers.'),
      blocks));
  body.append(selfCheck({
    question: 'What does the Grad-CAM picture show?',
    choices: ['The pixels the model changed', 'Where in the picture the evidence for the chosen class is',
      'The first layer\'s kernels, enlarged', 'How bright each part of the picture is'],
    answer: 1,
    why: 'Grad-CAM weights the last feature maps by how much they raise the class\'s score, so the red places are ' +
      'those that made the model say that class.',
    hint: 'Click another class in the prediction and watch which places turn red.',
  }));

  const update = latest(async () => {
    if (!image || !ctx.alive()) return;
    const r = runs[Number(select.value)];
    const slow = setTimeout(() => {
      loading.hidden = false;
      loading.textContent = 'Working… Loading a model takes a few seconds the first time, and a big pretrained model needs about a second for each new picture.';
    }, 250);
    try {
      await timed('inside: look', async () => {
        const out = await api.post('/api/learn/inside/look', {project: r.project, run: r.run, image: image.id, target});
        if (!ctx.alive()) return;
        show(out);
      }, note);
    } finally { clearTimeout(slow); loading.hidden = true; }
  });
  select.addEventListener('change', () => { target = null; update(); });

  function show(out) {
    runInfo.textContent = `${out.architecture}${out.pretrained ? ' (pretrained on ImageNet)' : ' (trained from scratch)'}`;
    const rgba = inputRGBA(out.input);
    const [, H, W] = out.input.shape;
    putRGBA(inputCanvas, rgba, W, H);
    notes.replaceChildren(...out.notes.map((n) => h('li', {}, n)));
    probs.replaceChildren(...out.classes.map((c, i) => h('button', {type: 'button', class: `in-prob${i === out.target ? ' chosen' : ''}`,
      'aria-pressed': String(i === out.target), dataset: {class: String(i), prob: String(out.probs[i])},
      onclick: () => { target = i === out.pred ? null : i; update(); }},
    h('span', {class: 'in-prob-name', title: c}, c, i === out.pred ? h('small', {}, 'predicted') : null),
    h('span', {class: 'in-prob-bar'}, h('span', {style: `width: ${100 * out.probs[i]}%`})),
    h('span', {class: 'in-prob-value'}, pct(out.probs[i])))));
    if (out.cam) {
      const cam = unpack(out.cam);
      const blend = new Uint8ClampedArray(rgba.length);
      for (let i = 0; i < W * H; i++) {
        const [r, g, b] = jet(cam[i] / 255);
        for (let c = 0; c < 3; c++) blend[4 * i + c] = 0.55 * rgba[4 * i + c] + 0.45 * 255 * [r, g, b][c];
        blend[4 * i + 3] = 255;
      }
      putRGBA(camCanvas, blend, W, H);
      camCanvas.dataset.target = String(out.target);
      camTitle.textContent = `evidence for "${out.classes[out.target]}", from the last feature maps (${out.cam_layer})`;
    } else {
      camTitle.textContent = 'No Grad-CAM: this model has no convolution layer.';
    }
    kernelTitle.textContent = out.kernels
      ? `${out.kernels.length} kernels of ${out.kernels[0][0].length}×${out.kernels[0][0][0].length} pixels × ${out.kernels[0].length} ` +
        `channel${out.kernels[0].length > 1 ? 's' : ''}${out.pretrained ? ', learned on ImageNet' : ', learned from your photos'}. ` +
        (out.kernels[0].length === 3 ? 'Drawn as tiny colour pictures.' : 'Red = positive weights, blue = negative.')
      : 'This model has no convolution layer, so it has no kernels.';
    kernels.replaceChildren(...(out.kernels || []).map((k, i) => kernelCanvas(k, i)));
    blocks.replaceChildren(...out.blocks.map((b) => h('div', {class: 'in-block', dataset: {block: b.name}},
      h('div', {class: 'in-block-head'}, h('strong', {}, b.name), h('span', {class: 'in-shape'}, b.shape.join('×'))),
      h('div', {class: 'in-maps'}, mapCanvases(b)))));
  }
}

function bytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function unpack(packed) { return bytes(packed.data); }

function inputRGBA(input) {
  const [C, H, W] = input.shape;
  const b = bytes(input.data);
  const rgba = new Uint8ClampedArray(W * H * 4);
  for (let i = 0; i < W * H; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = b[(C === 3 ? c : 0) * W * H + i];
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}

function putRGBA(canvas, rgba, w, hgt) {
  canvas.width = w; canvas.height = hgt;
  canvas.getContext('2d').putImageData(new ImageData(rgba, w, hgt), 0, 0);
}

/** blue (0) -> cyan -> yellow -> red (1), as the results page's Grad-CAM. */
function jet(t) {
  return [3, 2, 1].map((k) => Math.max(0, Math.min(1, 1.5 - Math.abs(4 * t - k))));
}

/** A dark-to-bright colour map for feature maps (black, purple, orange, pale yellow). */
function magma(t) {
  const stops = [[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return stops[i].map((v, c) => v + f * (stops[i + 1][c] - v));
}

function mapCanvases(block) {
  const [k, hgt, w] = block.maps.shape;
  const b = unpack(block.maps);
  const out = [];
  for (let j = 0; j < k; j++) {
    const rgba = new Uint8ClampedArray(w * hgt * 4);
    for (let i = 0; i < w * hgt; i++) {
      const v = b[j * w * hgt + i];
      let col;
      if (block.maps.signed) {
        const t = (v - 128) / 127.5;
        col = t < 0 ? [255 * (1 + t), 255 * (1 + t), 255] : [255, 255 * (1 - t), 255 * (1 - t)];
      } else col = magma(v / 255);
      rgba.set([col[0], col[1], col[2], 255], 4 * i);
    }
    const canvas = h('canvas', {class: 'in-map lab-pixels', title: `map ${block.channels[j]} of ${block.shape[0]}`,
      dataset: {channel: String(block.channels[j])}});
    putRGBA(canvas, rgba, w, hgt);
    out.push(h('figure', {class: 'in-map-fig'}, canvas, h('figcaption', {}, `#${block.channels[j]}`)));
  }
  return out;
}

/** One kernel (C, kh, kw): colour kernels min-max scaled as RGB, gray ones blue (negative) to red (positive). */
function kernelCanvas(k, i) {
  const C = k.length, kh = k[0].length, kw = k[0][0].length;
  const flat = k.flat(2);
  const lo = Math.min(...flat), hi = Math.max(...flat);
  const top = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
  const rgba = new Uint8ClampedArray(kh * kw * 4);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
    const p = 4 * (y * kw + x);
    if (C === 3) {
      for (let c = 0; c < 3; c++) rgba[p + c] = 255 * (k[c][y][x] - lo) / ((hi - lo) || 1);
    } else {
      let v = 0;
      for (let c = 0; c < C; c++) v += k[c][y][x] / C;
      const t = v / top;
      rgba.set(t < 0 ? [255 * (1 + t), 255 * (1 + t), 255] : [255, 255 * (1 - t), 255 * (1 - t)], p);
    }
    rgba[p + 3] = 255;
  }
  const canvas = h('canvas', {class: 'in-kernel lab-pixels', title: `kernel ${i + 1}`, dataset: {index: String(i)}});
  putRGBA(canvas, rgba, kw, kh);
  return canvas;
}
