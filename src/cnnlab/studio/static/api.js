// Talking to the studio server (see the HTTP contract): JSON in and out, errors as plain sentences.

export class ApiError extends Error {
  constructor(message, status, field = null) {
    super(message);
    this.status = status;
    this.field = field;  // the form field the server named, if any
  }
}

const enc = encodeURIComponent;

/** URL builders, so no screen writes a path by hand. */
export const urls = {
  info: () => '/api/info',
  projects: () => '/api/projects',
  project: (p) => `/api/projects/${enc(p)}`,
  duplicate: (p) => `/api/projects/${enc(p)}/duplicate`,
  importProject: () => '/api/projects/import',
  projectZip: (p) => `/api/projects/${enc(p)}/export.zip`,
  classes: (p) => `/api/projects/${enc(p)}/classes`,
  klass: (p, c) => `/api/projects/${enc(p)}/classes/${enc(c)}`,
  images: (p, c) => `/api/projects/${enc(p)}/classes/${enc(c)}/images`,
  image: (p, c, i) => `/api/projects/${enc(p)}/images/${enc(c)}/${enc(i)}`,
  samples: (p) => `/api/projects/${enc(p)}/samples`,
  augmentPreview: () => '/api/augment/preview',
  train: (p) => `/api/projects/${enc(p)}/train`,
  runs: (p) => `/api/projects/${enc(p)}/runs`,
  run: (p, r) => `/api/projects/${enc(p)}/runs/${enc(r)}`,
  events: (p, r) => `/api/projects/${enc(p)}/runs/${enc(r)}/events`,
  cancel: (p, r) => `/api/projects/${enc(p)}/runs/${enc(r)}/cancel`,
  resume: (p, r) => `/api/projects/${enc(p)}/runs/${enc(r)}/resume`,
  cell: (p, r, t, q) => `/api/projects/${enc(p)}/runs/${enc(r)}/cell?true=${t}&pred=${q}`,
  mistakes: (p, r, n = 12) => `/api/projects/${enc(p)}/runs/${enc(r)}/mistakes?limit=${n}`,
  gradcam: (p, r, c, i) => `/api/projects/${enc(p)}/runs/${enc(r)}/gradcam/${enc(c)}/${enc(i)}.png`,
  modelCard: (p, r) => `/api/projects/${enc(p)}/runs/${enc(r)}/model_card.md`,
  onnx: (p, r) => `/api/projects/${enc(p)}/runs/${enc(r)}/model.onnx`,
  exportFile: (p, r, kind) => `/api/projects/${enc(p)}/runs/${enc(r)}/export/${enc(kind)}`,
};

const NETWORK_DOWN = 'The studio cannot be reached. Is "cnnlab studio" still running on this computer?';
const NEEDS_CODE = 'This studio needs an access code. Open the link with the code that your teacher gave you.';

/** One request. body: an object (sent as JSON) or FormData. Returns parsed JSON, or the Response for other types. */
export async function request(method, url, body) {
  const options = {method, headers: {}, credentials: 'same-origin'};
  if (body instanceof FormData) options.body = body;
  else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new ApiError(NETWORK_DOWN, 0);
  }
  if (!response.ok) throw await toError(response);
  const type = response.headers.get('content-type') || '';
  return type.includes('application/json') ? response.json() : response;
}

/** The error a failed response carries, as an ApiError with a plain message. */
export async function toError(response) {
  let message = '', field = null;
  try {
    const body = await response.clone().json();
    message = body.error || '';
    field = body.field || null;
  } catch {
    message = '';
  }
  if (!message && response.status === 401) message = NEEDS_CODE;
  if (!message && response.status === 413) message = 'That is too much at once. Send fewer or smaller files.';
  if (!message) message = `The studio could not do that (error ${response.status}). Try again.`;
  return new ApiError(message, response.status, field);
}

export const api = {
  get: (url) => request('GET', url),
  post: (url, body) => request('POST', url, body === undefined ? {} : body),
  patch: (url, body) => request('PATCH', url, body),
  del: (url) => request('DELETE', url),
};

let infoPromise = null;
/** /api/info, asked once per page load (samples and upload limits). */
export function getInfo() {
  if (!infoPromise) infoPromise = api.get(urls.info()).catch((e) => { infoPromise = null; throw e; });
  return infoPromise;
}

/**
 * Upload files into a class in chunks that respect the server's limits.
 * onChunk(result) is called after each chunk with {added, refused, findings}. Returns the merged result.
 */
export async function uploadImages(projectId, classId, files, onChunk) {
  const limits = (await getInfo()).limits || {};
  const maxFiles = Math.max(1, Math.min(limits.max_files || 50, 50));
  const maxBytes = Math.max(1, (limits.max_upload_mb || 50) * 1024 * 1024 * 0.9);
  const merged = {added: [], refused: [], findings: []};
  let chunk = [];
  let size = 0;
  const send = async () => {
    if (!chunk.length) return;
    const form = new FormData();
    for (const f of chunk) form.append('files', f, f.name || 'webcam.jpg');
    chunk = [];
    size = 0;
    const result = await request('POST', urls.images(projectId, classId), form);
    merged.added.push(...(result.added || []));
    merged.refused.push(...(result.refused || []));
    merged.findings = result.findings || merged.findings;
    if (onChunk) onChunk(result);
  };
  for (const file of files) {
    if (chunk.length && (chunk.length >= maxFiles || size + file.size > maxBytes)) await send();
    chunk.push(file);
    size += file.size;
  }
  await send();
  return merged;
}
