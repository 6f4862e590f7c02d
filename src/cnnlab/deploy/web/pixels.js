// A picture made to fit the model, pixel for pixel as cnnlab does it in Python.
//
// cnnlab's Python side (cnnlab/data/images.py) crops the centre with Pillow's ImageOps.fit (or pads, or
// stretches), resizes with Pillow's bilinear filter, then turns colour into gray with
//     gray = round(0.299 R + 0.587 G + 0.114 B)      (round half to even, as numpy.rint)
// A browser's canvas resizes differently (it blurs less when it shrinks), so this file redoes Pillow's
// arithmetic exactly: the same filter weights in the same fixed-point numbers (Pillow 13, Resample.c and
// Reduce.c). The same file gives the same pixels, so the same answer as `cnnlab predict`.
//
// An image here is {w, h, c, data}: data is a Uint8Array of h * w * c values, row by row, c = 3 (RGB).

const PRECISION_BITS = 22; // Pillow keeps filter weights as integers scaled by 2^22
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

const FILTERS = {
  bilinear: { support: 1.0, weight: (x) => { x = Math.abs(x); return x < 1.0 ? 1.0 - x : 0.0; } },
  bicubic: {
    support: 2.0,
    weight: (x) => { // Pillow's a = -0.5
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
      if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
      return 0.0;
    },
  },
};

/** Round half to even, like numpy.rint and Python's round(). */
export function roundHalfEven(v) {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function blank(w, h, c) {
  return { w, h, c, data: new Uint8Array(w * h * c) };
}

/** RGBA bytes from a canvas (w * h * 4) -> an RGB image. Alpha is dropped (pictures are drawn on white). */
export function fromRGBA(rgba, w, h) {
  const img = blank(w, h, 3);
  for (let i = 0, j = 0; i < w * h; i++, j += 4) {
    img.data[i * 3] = rgba[j];
    img.data[i * 3 + 1] = rgba[j + 1];
    img.data[i * 3 + 2] = rgba[j + 2];
  }
  return img;
}

// ---------------------------------------------------------------- Pillow's resampling (Resample.c)

function coefficients(inSize, in0, in1, outSize, filter) {
  // in0, in1 are C floats: the box edges along this axis
  const scale = Math.fround(in1 - in0) / outSize;
  const filterscale = Math.max(scale, 1.0); // shrinking widens the filter: every input pixel counts
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Float64Array(outSize * ksize);
  const inv = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    const k = new Float64Array(xmax);
    for (let x = 0; x < xmax; x++) {
      k[x] = filter.weight((x + xmin - center + 0.5) * inv);
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0.0 ? k[x] / ww : k[x];
      // fixed point, rounded away from zero as Pillow's normalize_coeffs_8bpc
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(ss) {
  const v = Math.floor(ss / ONE); // an arithmetic shift right by 22
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function horizontal(img, outW, rowFirst, rows, co) {
  const out = blank(outW, rows, img.c);
  const c = img.c;
  for (let yy = 0; yy < rows; yy++) {
    const lineIn = (yy + rowFirst) * img.w * c;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = co.bounds[xx * 2], xmax = co.bounds[xx * 2 + 1], k0 = xx * co.ksize;
      for (let ch = 0; ch < c; ch++) {
        let ss = HALF;
        for (let x = 0; x < xmax; x++) ss += img.data[lineIn + (x + xmin) * c + ch] * co.kk[k0 + x];
        out.data[(yy * outW + xx) * c + ch] = clip8(ss);
      }
    }
  }
  return out;
}

function vertical(img, outH, co) {
  const out = blank(img.w, outH, img.c);
  const c = img.c, rowLen = img.w * c;
  for (let yy = 0; yy < outH; yy++) {
    const ymin = co.bounds[yy * 2], ymax = co.bounds[yy * 2 + 1], k0 = yy * co.ksize;
    for (let i = 0; i < rowLen; i++) {
      let ss = HALF;
      for (let y = 0; y < ymax; y++) ss += img.data[(y + ymin) * rowLen + i] * co.kk[k0 + y];
      out.data[yy * rowLen + i] = clip8(ss);
    }
  }
  return out;
}

function crop(img, x0, y0, x1, y1) { // Pillow's ImagingCrop: outside the image is black
  const out = blank(x1 - x0, y1 - y0, img.c);
  for (let y = 0; y < out.h; y++) {
    for (let x = 0; x < out.w; x++) {
      const sx = x + x0, sy = y + y0;
      if (sx < 0 || sy < 0 || sx >= img.w || sy >= img.h) continue;
      for (let ch = 0; ch < img.c; ch++) out.data[(y * out.w + x) * img.c + ch] = img.data[(sy * img.w + sx) * img.c + ch];
    }
  }
  return out;
}

function nearest(img, outW, outH, box) { // Pillow's ImagingScaleAffine
  const out = blank(outW, outH, img.c);
  const a0 = Math.fround(box[2] - box[0]) / outW, a4 = Math.fround(box[3] - box[1]) / outH;
  const coord = (v) => (v < 0.0 ? -1 : Math.trunc(v));
  const xin = new Int32Array(outW);
  let xo = box[0] + a0 * 0.5;
  for (let x = 0; x < outW; x++, xo += a0) xin[x] = coord(xo);
  let yo = box[1] + a4 * 0.5;
  for (let y = 0; y < outH; y++, yo += a4) {
    const yi = coord(yo);
    if (yi < 0 || yi >= img.h) continue;
    for (let x = 0; x < outW; x++) {
      if (xin[x] < 0 || xin[x] >= img.w) continue;
      for (let ch = 0; ch < img.c; ch++) out.data[(y * outW + x) * img.c + ch] = img.data[(yi * img.w + xin[x]) * img.c + ch];
    }
  }
  return out;
}

function resampleBox(img, outW, outH, resample, box) { // the C side of Image.resize (_imaging.c _resize)
  const b = box.map(Math.fround); // Pillow passes the box as C floats
  if (b[0] - Math.trunc(b[0]) === 0 && Math.fround(b[2] - b[0]) === outW &&
      b[1] - Math.trunc(b[1]) === 0 && Math.fround(b[3] - b[1]) === outH) {
    return crop(img, Math.trunc(b[0]), Math.trunc(b[1]), Math.trunc(b[2]), Math.trunc(b[3]));
  }
  if (resample === "nearest") return nearest(img, outW, outH, b);
  const filter = FILTERS[resample];
  if (!filter) throw new Error(`unknown resample filter ${resample}`);
  const needH = outW !== img.w || b[0] !== 0 || b[2] !== outW;
  const needV = outH !== img.h || b[1] !== 0 || b[3] !== outH;
  // Pillow 13 resizes the height first when it shrinks it by more than twice as many pixels as the width
  const verticalFirst = outH < img.h && 2 * (img.w - outW) < img.h - outH;
  const cv = coefficients(img.h, b[1], b[3], outH, filter);
  const ch = needH ? coefficients(img.w, b[0], b[2], outW, filter) : null;
  let cur = img;
  if (verticalFirst) {
    if (needV) cur = vertical(cur, outH, cv);
    if (needH) cur = horizontal(cur, outW, 0, outH, ch);
  } else {
    if (needH) {
      const first = cv.bounds[0], last = cv.bounds[outH * 2 - 2] + cv.bounds[outH * 2 - 1];
      for (let i = 0; i < outH; i++) cv.bounds[i * 2] -= first; // rows of the (shorter) intermediate image
      cur = horizontal(img, outW, first, last - first, ch);
    }
    if (needV) cur = vertical(cur, outH, cv);
  }
  return cur === img ? { ...img, data: img.data.slice() } : cur;
}

// ---------------------------------------------------------------- Pillow's reduce (Reduce.c)

/** Average each fx x fy block (the last ones may be smaller), rounded as Pillow's Image.reduce. */
export function reduce(img, fx, fy, box = [0, 0, img.w, img.h]) {
  const [bx, by] = box, bw = box[2] - box[0], bh = box[3] - box[1];
  const out = blank(Math.ceil(bw / fx), Math.ceil(bh / fy), img.c);
  for (let y = 0; y < out.h; y++) {
    const y0 = by + y * fy, y1 = Math.min(y0 + fy, by + bh);
    for (let x = 0; x < out.w; x++) {
      const x0 = bx + x * fx, x1 = Math.min(x0 + fx, bx + bw);
      const n = (x1 - x0) * (y1 - y0);
      const multiplier = Math.trunc(Math.fround(4294967296 / (256 * n)));
      const amend = Math.trunc(n / 2);
      for (let ch = 0; ch < img.c; ch++) {
        let ss = amend;
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) ss += img.data[(yy * img.w + xx) * img.c + ch];
        out.data[(y * out.w + x) * img.c + ch] = Math.floor((ss * multiplier) / 16777216);
      }
    }
  }
  return out;
}

/** Pillow's Image.resize((outW, outH), resample, box, reducing_gap). */
export function resize(img, outW, outH, resample = "bilinear", box = null, reducingGap = null) {
  box = box || [0, 0, img.w, img.h];
  if (img.w === outW && img.h === outH && box[0] === 0 && box[1] === 0 && box[2] === img.w && box[3] === img.h) {
    return { ...img, data: img.data.slice() };
  }
  if (reducingGap !== null && resample !== "nearest") {
    const fx = Math.trunc((box[2] - box[0]) / outW / reducingGap) || 1;
    const fy = Math.trunc((box[3] - box[1]) / outH / reducingGap) || 1;
    if (fx > 1 || fy > 1) { // first average blocks of pixels, then resample what is left (Image._get_safe_box)
      const support = FILTERS[resample].support - 0.5;
      const sx = support * ((box[2] - box[0]) / outW), sy = support * ((box[3] - box[1]) / outH);
      const safe = [Math.max(0, Math.trunc(box[0] - sx)), Math.max(0, Math.trunc(box[1] - sy)),
        Math.min(img.w, Math.ceil(box[2] + sx)), Math.min(img.h, Math.ceil(box[3] + sy))];
      img = reduce(img, fx, fy, safe);
      box = [(box[0] - safe[0]) / fx, (box[1] - safe[1]) / fy, (box[2] - safe[0]) / fx, (box[3] - safe[1]) / fy];
    }
  }
  return resampleBox(img, outW, outH, resample, box);
}

// ---------------------------------------------------------------- fitting a picture to the model

/** ImageOps.fit: the largest centre box with the model's shape, resized to (w, h). */
function fitCrop(img, w, h, resample) {
  const ratio = img.w / img.h, want = w / h;
  let cw = img.w, ch = img.h;
  if (ratio !== want) {
    if (ratio >= want) cw = want * img.h;
    else ch = img.w / want;
  }
  const left = (img.w - cw) * 0.5, top = (img.h - ch) * 0.5;
  return resize(img, w, h, resample, [left, top, left + cw, top + ch]);
}

/** ImageOps.pad: shrink the whole picture to fit inside (w, h), black bars on the sides. */
function fitPad(img, w, h, resample) {
  const ratio = img.w / img.h, want = w / h;
  let rw = w, rh = h;
  if (ratio !== want) {
    if (ratio > want) rh = roundHalfEven(img.h / img.w * w);
    else rw = roundHalfEven(img.w / img.h * h);
  }
  if (rw === w && rh === h) return resize(img, w, h, resample);
  const out = blank(w, h, img.c);
  if (rw === 0 || rh === 0) return out;
  const small = resize(img, rw, rh, resample);
  const x0 = rw !== w ? roundHalfEven((w - rw) * 0.5) : 0;
  const y0 = rw !== w ? 0 : roundHalfEven((h - rh) * 0.5);
  for (let y = 0; y < rh; y++) {
    out.data.set(small.data.subarray(y * rw * img.c, (y + 1) * rw * img.c), ((y + y0) * w + x0) * img.c);
  }
  return out;
}

/**
 * How much a JPEG is shrunk while it is decoded in Python (Pillow's draft mode): 1, 2, 4 or 8.
 * cnnlab decodes big JPEGs at reduced size, as it did for the training photos.
 */
export function jpegDraftScale(w, h, size) {
  const want = Math.max(size[0], size[1]);
  const scale = Math.min(Math.floor(w / want), Math.floor(h / want));
  return [8, 4, 2, 1].find((s) => scale >= s);
}

/**
 * An RGB image -> what the model takes: {data: Uint8Array (C, H, W), channels, height, width}.
 *
 * spec: {channels: 1 or 3, size: [H, W], fit: "crop" | "pad" | "stretch", resample: "bilinear" | ...}
 * jpegScale: shrink by this first (a JPEG's draft decode in Python; 1 for anything else).
 */
export function toModelInput(img, spec, jpegScale = 1) {
  const [h, w] = spec.size;
  const resample = spec.resample || "bilinear";
  if (jpegScale > 1) img = reduce(img, jpegScale, jpegScale);
  let fitted = img;
  if (img.w !== w || img.h !== h) {
    const fit = spec.fit || "crop";
    if (fit === "crop") fitted = fitCrop(img, w, h, resample);
    else if (fit === "pad") fitted = fitPad(img, w, h, resample);
    else if (fit === "stretch") fitted = resize(img, w, h, resample, null, 3.0);
    else throw new Error(`unknown fit ${fit}`);
  }
  const c = spec.channels, n = w * h;
  const data = new Uint8Array(c * n); // (C, H, W)
  for (let i = 0; i < n; i++) {
    const r = fitted.data[i * 3], g = fitted.data[i * 3 + 1], b = fitted.data[i * 3 + 2];
    if (c === 1) data[i] = Math.min(255, Math.max(0, roundHalfEven(r * 0.299 + g * 0.587 + b * 0.114)));
    else { data[i] = r; data[n + i] = g; data[2 * n + i] = b; }
  }
  return { data, channels: c, height: h, width: w };
}
