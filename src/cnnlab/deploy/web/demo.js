// The cnnlab web demo: a trained CNN (model.onnx) classifies a photo or the webcam, all inside this browser.
//
// cnnlab-web-demo.json says what the model takes (size, gray or colour, how photos are cropped) and its
// class names. Pictures are made to fit exactly as cnnlab does it in Python (pixels.js), then
// onnxruntime-web (the three ort* files next to this one) runs the model. Nothing is fetched from
// anywhere else and nothing is uploaded.
//
// For tests, window.cnnlabDemo holds `ready` (a promise), `count` (answers so far) and `last` (the
// latest answer: source, top1, probabilities, and the model's input pixels).

import * as ort from "./ort.wasm.min.mjs";
import { fromRGBA, jpegDraftScale, toModelInput } from "./pixels.js";

const $ = (id) => document.getElementById(id);
const MAX_BARS = 20; // more classes than this: show the most likely ones
const demo = { ready: null, count: 0, last: null, error: null };
window.cnnlabDemo = demo;

let info = null; // cnnlab-web-demo.json
let session = null;
let queue = Promise.resolve(); // one answer at a time: onnxruntime runs one model call at a time
let camera = null; // the MediaStream while the camera is on

// ---------------------------------------------------------------- loading

async function load() {
  if (location.protocol === "file:") throw new Error("this page has to come from a web server: run cnnlab serve FOLDER");
  const reply = await fetch("cnnlab-web-demo.json");
  if (!reply.ok) throw new Error("cnnlab-web-demo.json is missing next to this page; export the demo again.");
  info = await reply.json();
  ort.env.wasm.wasmPaths = new URL("./", import.meta.url).href; // our own copy, never a CDN
  ort.env.wasm.numThreads = 1; // threads need special server headers; one is plenty for a small CNN
  session = await ort.InferenceSession.create(info.model || "model.onnx", { executionProviders: ["wasm"] });
  describeModel();
  document.body.dataset.state = "ready";
  $("answer").textContent = "Ready! Show it a picture.";
  $("sure").textContent = "Drop a photo on the left or start the camera: it will say what it sees, and how sure it is.";
  $("camera").disabled = false;
}

function describeModel() {
  const [h, w] = info.input_size;
  const kind = info.channels === 1 ? "gray" : "colour";
  const n = info.classes.length;
  const list = n <= 12 ? `: ${info.classes.join(", ")}` : ` (${info.classes.slice(0, 8).join(", ")}, …)`;
  $("about").textContent = `This model knows ${n} classes${list}. It looks at ${kind} pictures of ${w} × ${h} pixels.`;
  $("seen-caption").textContent = `What the model sees: ${w} × ${h}, ${kind}`;
  const parts = [`Model: model.onnx, trained with cnnlab ${info.cnnlab_version || ""}`.trim()];
  if (info.data) parts.push(`on ${info.data}`);
  if (typeof info.test_accuracy === "number") {
    parts.push(`right on ${Math.round(info.test_accuracy * 100)}% of its test pictures`);
  }
  $("details").textContent = parts.join(", ") + ". Runs with onnxruntime-web (WebAssembly).";
}

// ---------------------------------------------------------------- one answer

function classify(img, jpegScale, source) {
  const job = queue.then(() => answer(img, jpegScale, source));
  queue = job.catch(() => {});
  return job;
}

async function answer(img, jpegScale, source) {
  const x = toModelInput(img, { channels: info.channels, size: info.input_size, fit: info.fit,
    resample: info.resample }, jpegScale); // uint8 (C, H, W)
  const pixels = new ort.Tensor("float32", Float32Array.from(x.data), [1, x.channels, x.height, x.width]);
  const out = await session.run({ [info.input_name || "pixels"]: pixels });
  const probs = Array.from(out[info.output_name || "probabilities"].data); // (K,)
  showSeen(x);
  showAnswer(probs);
  showWarning(unfamiliar(img));
  const best = probs.indexOf(Math.max(...probs));
  demo.count += 1;
  demo.last = { source, top1: info.classes[best], probability: probs[best], probabilities: probs,
    shape: [1, x.channels, x.height, x.width], get input() { return Array.from(x.data); } }; // (C, H, W) pixels
  return demo.last;
}

function percent(p) {
  if (p > 0 && p < 0.005) return "<1%";
  return `${Math.round(p * 100)}%`;
}

function showAnswer(probs) {
  const order = probs.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]);
  const [p, best] = order[0];
  const name = info.classes[best];
  const answerEl = $("answer");
  answerEl.dataset.top1 = name;
  answerEl.replaceChildren("The model thinks: ", Object.assign(document.createElement("strong"),
    { textContent: name }), ` (${percent(p)})`);
  $("sure").textContent = p >= 0.8 ? "It is quite sure." : p >= 0.5 ? "It is fairly sure."
    : "It is not sure: this is only its best guess.";
  const bars = $("bars");
  bars.replaceChildren(...order.slice(0, MAX_BARS).map(([q, i], rank) => {
    const li = document.createElement("li");
    if (rank === 0) li.className = "best";
    const label = Object.assign(document.createElement("span"), { className: "name", textContent: info.classes[i] });
    const track = Object.assign(document.createElement("span"), { className: "track" });
    const fill = Object.assign(document.createElement("span"), { className: "fill" });
    fill.style.width = `${(q * 100).toFixed(1)}%`;
    track.append(fill);
    const pct = Object.assign(document.createElement("span"), { className: "pct", textContent: percent(q) });
    li.append(label, track, pct);
    return li;
  }));
  $("bars-note").textContent = order.length > MAX_BARS
    ? `The ${MAX_BARS} most likely of ${order.length} classes.` : "";
}

// The same warning as `cnnlab predict`: the model never saw pictures like this one.
const COLOURFUL = 12; // mean (max - min) of R, G, B above which a picture counts as a colour photo

function unfamiliar(img) {
  const [h, w] = info.input_size;
  const reasons = [];
  if (info.channels === 1) {
    let spread = 0;
    for (let i = 0; i < img.w * img.h; i++) {
      const r = img.data[i * 3], g = img.data[i * 3 + 1], b = img.data[i * 3 + 2];
      spread += Math.max(r, g, b) - Math.min(r, g, b);
    }
    if (spread / (img.w * img.h) > COLOURFUL) reasons.push("it is a colour picture");
  }
  const shrink = Math.min(img.h / h, img.w / w), enlarge = Math.max(h / img.h, w / img.w);
  const photos = (info.data || "").startsWith("folder:") || info.data === "imagenet"; // trained on resized photos
  if (shrink > 2 && !photos) reasons.push(`it is ${img.w} × ${img.h} pixels and had to be shrunk ${Math.round(shrink)} times`);
  else if (enlarge > 4) reasons.push(`it is only ${img.w} × ${img.h} pixels and had to be blown up ${Math.round(enlarge)} times`);
  if (!reasons.length) return "";
  const kind = info.channels === 1 ? "gray" : "colour";
  const from = info.data && !photos ? ` from ${info.data}` : "";
  return `Careful: this model learned from ${kind} ${w} × ${h} pictures${from} and has never seen one like this ` +
    `(${reasons.join(" and ")}), so its answer may mean little.`;
}

function showWarning(text) {
  $("warning").textContent = text;
  $("warning").hidden = !text;
}

function showSeen(x) { // the model's input, drawn big with square pixels
  const canvas = $("seen");
  canvas.width = x.width;
  canvas.height = x.height;
  const n = x.width * x.height;
  const rgba = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    const c = x.channels;
    rgba[i * 4] = x.data[i];
    rgba[i * 4 + 1] = x.data[c === 1 ? i : n + i];
    rgba[i * 4 + 2] = x.data[c === 1 ? i : 2 * n + i];
    rgba[i * 4 + 3] = 255;
  }
  canvas.getContext("2d").putImageData(new ImageData(rgba, x.width, x.height), 0, 0);
  canvas.hidden = false;
  $("seen-empty").hidden = true;
}

// ---------------------------------------------------------------- photos

async function isJpeg(file) {
  const head = new Uint8Array(await file.slice(0, 3).arrayBuffer());
  return head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff;
}

async function openPhoto(file) {
  if (!session) return;
  stopCamera();
  let bitmap;
  try { // no colour management: Python reads the stored numbers as they are
    bitmap = await createImageBitmap(file, { colorSpaceConversion: "none" });
  } catch {
    $("answer").textContent = `"${file.name}" is not a picture this browser can open. Try a JPEG or PNG photo.`;
    return;
  }
  const canvas = $("photo");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "#fff"; // see-through parts count as white, as in Python
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  showPhotoCanvas();
  const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const scale = (await isJpeg(file)) ? jpegDraftScale(canvas.width, canvas.height, info.input_size) : 1;
  await classify(fromRGBA(rgba, canvas.width, canvas.height), scale, "file");
}

function showPhotoCanvas() {
  $("photo").hidden = false;
  $("video").hidden = true;
  $("photo-empty").hidden = true;
}

// ---------------------------------------------------------------- the webcam

async function startCamera() {
  if (!navigator.mediaDevices || !window.isSecureContext) {
    $("answer").textContent = "The camera only works when this page is opened at http://127.0.0.1 or " +
      "http://localhost (or over https). Pick a photo instead.";
    return;
  }
  try {
    camera = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false });
  } catch (e) {
    camera = null;
    $("answer").textContent = e.name === "NotAllowedError"
      ? "The camera is blocked. Allow it in the address bar (the camera icon), or pick a photo instead."
      : e.name === "NotFoundError" ? "No camera was found on this computer. Pick a photo instead."
        : `The camera could not start (${e.message}). Pick a photo instead.`;
    return;
  }
  const video = $("video");
  video.srcObject = camera;
  await video.play();
  video.hidden = false;
  $("photo").hidden = true;
  $("photo-empty").hidden = true;
  $("camera").textContent = "Stop camera";
  $("camera").setAttribute("aria-pressed", "true");
  cameraLoop(camera);
}

function stopCamera() {
  if (!camera) return;
  camera.getTracks().forEach((t) => t.stop());
  camera = null;
  $("video").srcObject = null;
  $("camera").textContent = "Start camera";
  $("camera").setAttribute("aria-pressed", "false");
}

async function cameraLoop(stream) {
  const video = $("video");
  const grab = document.createElement("canvas");
  const ctx = grab.getContext("2d", { willReadFrequently: true });
  while (camera === stream) {
    if (video.readyState >= 2 && video.videoWidth > 0) {
      grab.width = video.videoWidth;
      grab.height = video.videoHeight;
      ctx.drawImage(video, 0, 0);
      const rgba = ctx.getImageData(0, 0, grab.width, grab.height).data;
      await classify(fromRGBA(rgba, grab.width, grab.height), 1, "camera");
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // about 10 answers a second at most
  }
}

// ---------------------------------------------------------------- wiring

function wire() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => {
    if (e.target.files.length) openPhoto(e.target.files[0]);
    e.target.value = ""; // choosing the same file again still answers
  });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) openPhoto(e.dataTransfer.files[0]);
  });
  $("camera").addEventListener("click", () => (camera ? stopCamera() : startCamera()));
}

wire();
demo.ready = load().catch((e) => {
  demo.error = String(e.message || e);
  document.body.dataset.state = "error";
  $("answer").textContent = `Something went wrong: ${demo.error}`;
  $("about").textContent = "The model could not be loaded.";
});
