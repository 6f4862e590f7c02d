// A photo -> the float pixels (1, C, H, W), 0..255, that a run's ONNX model takes ("pixels").
//
// The same steps as cnnlab.deploy.inputs.prepare_image (the Python side, Pillow):
//   RGBA (alpha on white) -> fit to the run's size ("crop": centre box of the right shape, "pad": black bars,
//   "stretch") with Pillow's antialiased resampling (a triangle filter widened by the shrink factor, a
//   horizontal pass then a vertical one, each rounded to whole pixel values) -> gray (ITU-R 601 luma) or RGB.
// A big JPEG file is first shrunk by 2, 4 or 8 as Pillow's "draft" decode does (approximated by a box average).
// The same arithmetic as src/cnnlab/deploy/web/pixels.js (the web demo); tests compare both with Pillow.

const FILTERS = {
  bilinear: {support: 1, fn: (x) => { x = Math.abs(x); return x < 1 ? 1 - x : 0; }},
  bicubic: {support: 2, fn: (x) => {  // Pillow's bicubic, a = -0.5
    const a = -0.5;
    x = Math.abs(x);
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
  }},
};

const ONE = 1 << 22;  // Pillow's fixed point: 22 bits after the point
// Pillow's clip8: (sum + half) >> 22, clamped to 0..255 (sums stay exact in a double)
const clip8 = (sum) => { const v = Math.floor((sum + ONE / 2) / ONE); return v < 0 ? 0 : v > 255 ? 255 : v; };

/** Python's round(): halves go to the even neighbour (round(2.5) == 2). */
export function pyRound(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const weightCache = new Map();  // the same webcam frame size every time: compute the weights once

/** Pillow's precompute_coeffs: for each output pixel, the first input pixel and the weights. */
export function resampleWeights(inSize, outSize, box0, box1, filter = 'bilinear') {
  const key = `${inSize} ${outSize} ${box0} ${box1} ${filter}`;
  if (!weightCache.has(key)) {
    if (weightCache.size > 32) weightCache.clear();
    weightCache.set(key, computeWeights(inSize, outSize, box0, box1, filter));
  }
  return weightCache.get(key);
}

function computeWeights(inSize, outSize, box0, box1, filter) {
  const {support: base, fn} = FILTERS[filter] || FILTERS.bilinear;
  const scale = (box1 - box0) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = base * filterscale;
  const rows = [];
  for (let i = 0; i < outSize; i++) {
    const center = box0 + (i + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const weights = new Float64Array(Math.max(xmax, 0));
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      weights[x] = fn((x + xmin - center + 0.5) / filterscale);
      total += weights[x];
    }
    if (total !== 0) for (let x = 0; x < xmax; x++) weights[x] /= total;
    // Pillow's normalize_coeffs_8bpc: weights as fixed-point integers (PRECISION_BITS = 22)
    for (let x = 0; x < xmax; x++) weights[x] = Math.trunc(weights[x] < 0 ? weights[x] * ONE - 0.5 : weights[x] * ONE + 0.5);
    rows.push({start: xmin, weights});
  }
  return rows;
}

function horizontalPass(src, w, h, c, outW, x0, x1, filter) {  // (h, w) -> (h, outW)
  const coeffs = resampleWeights(w, outW, x0, x1, filter);
  const out = new Uint8ClampedArray(h * outW * c);
  for (let y = 0; y < h; y++) {
    const row = y * w * c;
    for (let x = 0; x < outW; x++) {
      const {start, weights} = coeffs[x];
      for (let k = 0; k < c; k++) {
        let sum = 0;
        for (let j = 0; j < weights.length; j++) sum += src[row + (start + j) * c + k] * weights[j];
        out[(y * outW + x) * c + k] = clip8(sum);
      }
    }
  }
  return out;
}

function verticalPass(src, w, h, c, outH, y0, y1, filter) {  // (h, w) -> (outH, w)
  const coeffs = resampleWeights(h, outH, y0, y1, filter);
  const out = new Uint8ClampedArray(outH * w * c);
  const rowLen = w * c;
  for (let y = 0; y < outH; y++) {
    const {start, weights} = coeffs[y];
    for (let i = 0; i < rowLen; i++) {
      let sum = 0;
      for (let j = 0; j < weights.length; j++) sum += src[(start + j) * rowLen + i] * weights[j];
      out[y * rowLen + i] = clip8(sum);
    }
  }
  return out;
}

/**
 * Resize an interleaved uint8 image (w, h, c channels) to (outW, outH), reading the box [x0, y0, x1, y1]
 * (fractions allowed) like Pillow's Image.resize(size, BILINEAR, box=...). Returns a Uint8ClampedArray.
 */
export function resizeBox(src, w, h, c, outW, outH, box = [0, 0, w, h], filter = 'bilinear') {
  box = box.map(Math.fround);  // Pillow takes the box as C floats
  const needH = outW !== w || box[0] !== 0 || box[2] !== outW;
  const needV = outH !== h || box[1] !== 0 || box[3] !== outH;
  if (!needH && !needV) return Uint8ClampedArray.from(src);
  // Pillow 13 resizes the height first when it shrinks it by more than twice as many pixels as the width
  if (needV && outH < h && 2 * (w - outW) < h - outH) {
    const tall = verticalPass(src, w, h, c, outH, box[1], box[3], filter);
    return needH ? horizontalPass(tall, w, outH, c, outW, box[0], box[2], filter) : tall;
  }
  const wide = needH ? horizontalPass(src, w, h, c, outW, box[0], box[2], filter) : src;
  return needV ? verticalPass(wide, outW, h, c, outH, box[1], box[3], filter) : wide;
}

/** Pillow's Image.reduce(factor, box): the mean of each fx x fy block (blocks at the edge use what is there). */
function reduceBox(src, w, c, fx, fy, box) {
  const [bx0, by0, bx1, by1] = box;
  const outW = Math.ceil((bx1 - bx0) / fx);
  const outH = Math.ceil((by1 - by0) / fy);
  const out = new Uint8ClampedArray(outW * outH * c);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const ys = by0 + y * fy, ye = Math.min(ys + fy, by1);
      const xs = bx0 + x * fx, xe = Math.min(xs + fx, bx1);
      const n = (ye - ys) * (xe - xs);
      const multiplier = Math.trunc(Math.fround(4294967296 / (256 * n)));  // Reduce.c: a float, then 32-bit
      for (let k = 0; k < c; k++) {
        let sum = Math.trunc(n / 2);
        for (let yy = ys; yy < ye; yy++) for (let xx = xs; xx < xe; xx++) sum += src[(yy * w + xx) * c + k];
        out[(y * outW + x) * c + k] = Math.floor((sum * multiplier) / 16777216);
      }
    }
  }
  return {data: out, w: outW, h: outH};
}

/** Image.resize(size, filter, reducing_gap=3.0): a box reduce first when shrinking a lot. */
function resizeWithGap(src, w, h, c, outW, outH, filter) {
  const fx = Math.trunc(w / outW / 3) || 1;
  const fy = Math.trunc(h / outH / 3) || 1;
  if (fx === 1 && fy === 1) return resizeBox(src, w, h, c, outW, outH, [0, 0, w, h], filter);
  const support = (FILTERS[filter] || FILTERS.bilinear).support - 0.5;  // Pillow's _get_safe_box
  const sx = (support * w) / outW, sy = (support * h) / outH;
  const safe = [Math.max(0, Math.trunc(-sx)), Math.max(0, Math.trunc(-sy)), Math.min(w, Math.ceil(w + sx)),
    Math.min(h, Math.ceil(h + sy))];
  const r = reduceBox(src, w, c, fx, fy, safe);
  const box = [(0 - safe[0]) / fx, (0 - safe[1]) / fy, (w - safe[0]) / fx, (h - safe[1]) / fy];
  return resizeBox(r.data, r.w, r.h, c, outW, outH, box, filter);
}

/** RGBA pixels (canvas ImageData) -> RGB, transparent parts on white (as cnnlab's image loader does). */
export function rgbaToRgb(rgba, w, h) {
  const out = new Uint8ClampedArray(w * h * 3);
  for (let i = 0, j = 0; i < w * h * 4; i += 4, j += 3) {
    const a = rgba[i + 3];
    if (a === 255) { out[j] = rgba[i]; out[j + 1] = rgba[i + 1]; out[j + 2] = rgba[i + 2]; }
    else {
      for (let k = 0; k < 3; k++) out[j + k] = Math.round((rgba[i + k] * a + 255 * (255 - a)) / 255);
    }
  }
  return out;
}

/** numpy's rint: halves to even. */
const rint = (x) => { const f = Math.floor(x); const d = x - f; return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f; };

/**
 * Fit an RGB image (w x h, interleaved uint8) to (outH, outW) as cnnlab.data.images.resize does.
 * fit: "crop" (ImageOps.fit), "pad" (ImageOps.pad, black bars) or "stretch". Returns interleaved RGB.
 */
export function fitImage(rgb, w, h, outW, outH, fit = 'crop', filter = 'bilinear') {
  if (w === outW && h === outH) return rgb;
  if (fit === 'stretch') return resizeWithGap(rgb, w, h, 3, outW, outH, filter);
  if (fit === 'pad') {
    let [cw, ch] = [outW, outH];
    const imRatio = w / h, destRatio = outW / outH;
    if (imRatio !== destRatio) {  // ImageOps.contain
      if (imRatio > destRatio) ch = pyRound((h / w) * outW) || 1;
      else cw = pyRound((w / h) * outH) || 1;
    }
    const small = resizeBox(rgb, w, h, 3, cw, ch, [0, 0, w, h], filter);
    if (cw === outW && ch === outH) return small;
    const out = new Uint8ClampedArray(outW * outH * 3);  // black
    const ox = cw !== outW ? pyRound((outW - cw) * 0.5) : 0;
    const oy = cw !== outW ? 0 : pyRound((outH - ch) * 0.5);
    for (let y = 0; y < ch; y++) out.set(small.subarray(y * cw * 3, (y + 1) * cw * 3), ((y + oy) * outW + ox) * 3);
    return out;
  }
  // crop: ImageOps.fit, centre box with the output's shape (fractional edges allowed)
  const liveRatio = w / h, outRatio = outW / outH;
  let cropW = w, cropH = h;
  if (liveRatio !== outRatio) {
    if (liveRatio >= outRatio) cropW = outRatio * h;
    else cropH = w / outRatio;
  }
  const left = (w - cropW) * 0.5, top = (h - cropH) * 0.5;
  return resizeBox(rgb, w, h, 3, outW, outH, [left, top, left + cropW, top + cropH], filter);
}

/** How much Pillow's draft mode shrinks a w x h JPEG that cnnlab loads for a model of this size: 1, 2, 4 or 8. */
export function jpegDraftScale(w, h, size) {
  const want = Math.max(size[0], size[1]);
  const scale = Math.min(Math.floor(w / want), Math.floor(h / want));
  return [8, 4, 2, 1].find((s) => scale >= s);
}

/**
 * Canvas pixels -> the model's input tensor data: Float32Array (1, C, H, W), pixel values 0..255.
 * input: the run's model.json "input": {channels, size: [H, W], fit, resample}.
 */
export function toModelInput(rgba, w, h, input, jpegScale = 1) {
  const [outH, outW] = input.size;
  const channels = Number(input.channels);
  const resample = input.resample === 'bicubic' ? 'bicubic' : 'bilinear';
  let rgb = rgbaToRgb(rgba, w, h);
  if (jpegScale > 1) {  // Python decodes a big JPEG at 1/2, 1/4 or 1/8 size ("draft"); a box average is close
    const small = reduceBox(rgb, w, 3, jpegScale, jpegScale, [0, 0, w, h]);
    [rgb, w, h] = [small.data, small.w, small.h];
  }
  rgb = fitImage(rgb, w, h, outW, outH, input.fit || 'crop', resample);
  const plane = outW * outH;
  const data = new Float32Array(channels * plane);
  for (let i = 0; i < plane; i++) {
    const r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    if (channels === 1) data[i] = Math.min(255, Math.max(0, rint(r * 0.299 + g * 0.587 + b * 0.114)));
    else { data[i] = r; data[plane + i] = g; data[2 * plane + i] = b; }
  }
  return data;
}
