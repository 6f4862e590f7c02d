// The webcam: open it, grab frames as pictures, and the three ways to take photos
// (hold to record, a burst at a chosen rate, after a countdown).

import {h, sleep} from './dom.js';

export const FRAME_SIDE = 320;  // frames are kept at most 320 pixels wide: small uploads, plenty for training

/** A plain sentence for what went wrong when opening the camera. */
export function cameraMessage(error) {
  const name = error && error.name;
  if (!window.isSecureContext || !navigator.mediaDevices) {
    return 'The browser only allows the camera on http://127.0.0.1 or http://localhost (or over https). ' +
      'Open the studio at one of those addresses.';
  }
  if (name === 'NotAllowedError') return 'The browser did not allow the camera. Click the camera sign in the address bar and allow it.';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No camera was found. Plug one in, or add photos from files.';
  if (name === 'NotReadableError') return 'The camera is busy: another program or tab is using it. Close that one and try again.';
  return `The camera did not start (${(error && error.message) || name || 'unknown reason'}).`;
}

/** Start the camera and show it in `video`. Returns the stream; throws an Error with a plain message. */
export async function openCamera(video) {
  if (!window.isSecureContext || !navigator.mediaDevices) throw new Error(cameraMessage(null));
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: {width: {ideal: 640}, height: {ideal: 480}}, audio: false});
  } catch (e) {
    throw new Error(cameraMessage(e));
  }
  video.srcObject = stream;
  video.muted = true;
  video.playsInline = true;
  await video.play().catch(() => {});
  if (!video.videoWidth) await new Promise((resolve) => video.addEventListener('loadedmetadata', resolve, {once: true}));
  return stream;
}

export function stopCamera(stream, video) {
  if (stream) for (const track of stream.getTracks()) track.stop();
  if (video) video.srcObject = null;
}

/** Draw the current frame into `canvas`, at most FRAME_SIDE wide (the same for saved photos and live predictions). */
export function grabFrame(video, canvas, side = FRAME_SIDE) {
  const vw = video.videoWidth || 640, vh = video.videoHeight || 480;
  const scale = Math.min(1, side / Math.max(vw, vh));
  const w = Math.max(1, Math.round(vw * scale)), hh = Math.max(1, Math.round(vh * scale));
  if (canvas.width !== w || canvas.height !== hh) { canvas.width = w; canvas.height = hh; }
  const g = canvas.getContext('2d', {willReadFrequently: true});
  g.drawImage(video, 0, 0, w, hh);
  return g;
}

/** The current frame as a JPEG file. */
export function frameFile(video, canvas, index = 0) {
  grabFrame(video, canvas);
  return new Promise((resolve) => canvas.toBlob((blob) =>
    resolve(new File([blob], `webcam-${Date.now()}-${index}.jpg`, {type: 'image/jpeg'})), 'image/jpeg', 0.92));
}

/**
 * Photos from the webcam for one class: a live preview with "hold to record", a burst and a countdown.
 * onPhotos(files) receives the photos in small groups as they are taken. Returns {element, stop}.
 */
export function webcamPanel(className, onPhotos) {
  const video = h('video', {class: 'camera', autoplay: true, muted: true, playsinline: true, 'aria-label': 'Webcam picture'});
  const canvas = h('canvas', {hidden: true});
  const overlay = h('div', {class: 'camera-overlay', 'aria-live': 'assertive'});
  const status = h('p', {class: 'camera-status', 'aria-live': 'polite'}, 'Starting the camera…');
  const rate = h('select', {id: 'cam-rate', 'aria-label': 'Photos per second'},
    [2, 5, 10].map((n) => h('option', {value: n, selected: n === 5}, `${n} per second`)));
  const burstCount = h('input', {id: 'cam-burst', type: 'number', min: 1, max: 200, value: 20, class: 'small-input'});
  const countdown = h('select', {id: 'cam-countdown'},
    [0, 3, 5, 10].map((n) => h('option', {value: n, selected: n === 3}, n ? `${n} seconds` : 'none')));
  const hold = h('button', {type: 'button', class: 'record-button', disabled: true, 'data-action': 'hold-record'},
    'Hold to record');
  const burst = h('button', {type: 'button', class: 'secondary', disabled: true, 'data-action': 'burst'}, 'Start burst');
  const stopButton = h('button', {type: 'button', class: 'ghost', hidden: true}, 'Stop');
  let stream = null, recording = false, stopped = false, taken = 0, busy = false;
  let batch = [];

  const flush = () => { if (batch.length) { onPhotos(batch); batch = []; } };
  const takeOne = async () => {
    const file = await frameFile(video, canvas, taken);
    taken += 1;
    batch.push(file);
    status.textContent = `${taken} ${taken === 1 ? 'photo' : 'photos'} taken for "${className}".`;
    overlay.classList.remove('flash');
    void overlay.offsetWidth;  // restart the flash animation
    overlay.classList.add('flash');
    if (batch.length >= 10) flush();
  };
  const every = () => 1000 / Number(rate.value);

  async function record() {  // hold to record: photos while the button is held
    if (recording || busy || !stream) return;
    recording = true;
    hold.classList.add('recording');
    hold.textContent = 'Recording… let go to stop';
    while (recording && !stopped) {
      const t0 = performance.now();
      await takeOne();
      await sleep(Math.max(0, every() - (performance.now() - t0)));
    }
    hold.classList.remove('recording');
    hold.textContent = 'Hold to record';
    flush();
  }
  const release = () => { recording = false; };

  hold.addEventListener('pointerdown', (e) => { e.preventDefault(); hold.setPointerCapture?.(e.pointerId); record(); });
  hold.addEventListener('pointerup', release);
  hold.addEventListener('pointercancel', release);
  hold.addEventListener('lostpointercapture', release);
  hold.addEventListener('keydown', (e) => {  // keyboard: hold Space or Enter
    if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) { e.preventDefault(); record(); }
    else if (e.key === ' ' || e.key === 'Enter') e.preventDefault();
  });
  hold.addEventListener('keyup', (e) => { if (e.key === ' ' || e.key === 'Enter') release(); });
  hold.addEventListener('blur', release);
  hold.addEventListener('click', (e) => e.preventDefault());

  burst.addEventListener('click', async () => {  // countdown, then N photos at the chosen rate
    if (busy || !stream) return;
    busy = true;
    burst.disabled = true;
    hold.disabled = true;
    stopButton.hidden = false;
    let cancelled = false;
    stopButton.onclick = () => { cancelled = true; };
    for (let s = Number(countdown.value); s > 0 && !cancelled && !stopped; s--) {
      overlay.textContent = String(s);
      status.textContent = `Get ready: photos start in ${s}…`;
      await sleep(1000);
    }
    overlay.textContent = '';
    const n = Math.max(1, Math.min(200, Number(burstCount.value) || 20));
    for (let i = 0; i < n && !cancelled && !stopped; i++) {
      const t0 = performance.now();
      await takeOne();
      await sleep(Math.max(0, every() - (performance.now() - t0)));
    }
    flush();
    busy = false;
    burst.disabled = false;
    hold.disabled = false;
    stopButton.hidden = true;
  });

  const element = h('div', {class: 'webcam-panel'},
    h('div', {class: 'camera-box'}, video, overlay),
    h('div', {class: 'camera-controls'},
      status,
      hold,
      h('p', {class: 'hint'}, 'Press and hold the button (or hold the Space key on it). Move the object a little while you record.'),
      h('div', {class: 'field-row'}, h('label', {for: 'cam-rate'}, 'Speed'), rate),
      h('fieldset', {class: 'burst'},
        h('legend', {}, 'Or take a burst'),
        h('div', {class: 'field-row'}, h('label', {for: 'cam-burst'}, 'Photos'), burstCount),
        h('div', {class: 'field-row'}, h('label', {for: 'cam-countdown'}, 'Countdown'), countdown),
        h('div', {class: 'button-row'}, burst, stopButton))),
    canvas);

  openCamera(video).then((s) => {
    if (stopped) { stopCamera(s, video); return; }
    stream = s;
    hold.disabled = false;
    burst.disabled = false;
    status.textContent = `Camera on. Show it a "${className}".`;
  }).catch((e) => {
    status.textContent = e.message;
    status.classList.add('error-text');
  });

  return {
    element,
    stop() { stopped = true; recording = false; flush(); stopCamera(stream, video); },
  };
}
