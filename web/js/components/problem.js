import { h, icon } from '../dom.js';

/**
 * What a person can do about each error code. The API's message says what is wrong and where;
 * this adds the next step. Codes not listed get the message alone.
 */
const fixes = {
  INVALID_ARCHIVE: 'Upload the model folder as a .tar or .tar.gz, for example: tar -czf model.tar.gz -C my-model .',
  UNSAFE_ARCHIVE: 'Repack the folder without absolute paths, ".." entries, device files or links that point outside it.',
  ARCHIVE_TOO_LARGE: 'Leave out what the model does not need to serve (checkpoints, datasets, caches), or ask an operator to raise the limit.',
  PAYLOAD_TOO_LARGE: 'Leave out what the model does not need to serve, or ask an operator to raise the upload limit.',
  EMPTY_PAYLOAD: 'The upload carried no bytes: choose the archive or folder again.',
  INVALID_SERVING_YAML: 'Correct serving.yaml where the message points, then upload the model again.',
  PAYLOAD_ENTRY_MISSING: 'Add the missing file or folder to the upload, or remove it from payload: in serving.yaml.',
  INVALID_MODEL: 'Re-export the model (the files look truncated or inconsistent) and upload it again.',
  CONTRACT_REQUIRED: 'Add a serving.yaml with a contract: section that lists each signature\'s inputs and outputs.',
  UNSUPPORTED_FRAMEWORK: 'Set model-type to a supported framework (tensorflow, onnx, keras, spark or python), or ask an operator to configure a runtime for it.',
  UNSUPPORTED_DTYPE: 'Declare the field with a supported dtype in serving.yaml, or convert it in the model.',
  INVALID_MODEL_NAME: 'Use lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters.',
  INVALID_METADATA: 'Check the model type (framework:version, e.g. python:3.11) and the labels.',
  REGISTRY_AUTH_FAILED: 'The registry refused ML Lambda\'s credentials: an operator needs to fix them; then upload the model again.',
  REGISTRY_REJECTED: 'The registry refused the image: an operator should check its policies and quotas; then upload again.',
  UNAUTHORIZED: 'Paste a valid API token (the "API token" button at the top).',
  FORBIDDEN: 'Your token does not allow this; ask for a token with the right scope.',
  RATE_LIMITED: 'Too many requests at once: wait a moment and try again.',
};

const transient = new Set(['STORE_UNAVAILABLE', 'QUEUE_UNAVAILABLE', 'REGISTRY_UNAVAILABLE', 'BUILDER_UNAVAILABLE', 'SHUTTING_DOWN', 'TIMEOUT', 'INTERNAL', 'NETWORK']);

export function fixFor(code) {
  if (fixes[code]) return fixes[code];
  if (transient.has(code)) return 'This is a problem on the service\'s side, not in your model: try again in a little while (upload the same archive again).';
  return null;
}

/** Details (an object of simple values, a list, or anything else) as readable text. */
function detailsView(details) {
  if (details === undefined || details === null) return null;
  if (Array.isArray(details) && details.every((d) => typeof d !== 'object')) {
    return h('ul', { class: 'problem-details' }, details.map((d) => h('li', {}, String(d))));
  }
  if (typeof details === 'object' && !Array.isArray(details) && Object.values(details).every((v) => v === null || typeof v !== 'object')) {
    return h('dl', { class: 'problem-details facts' }, Object.entries(details).map(([k, v]) => h('div', { class: 'fact' }, h('dt', {}, k), h('dd', {}, h('code', {}, String(v))))));
  }
  return h('details', { class: 'problem-details' }, h('summary', {}, 'Details'), h('pre', {}, JSON.stringify(details, null, 2)));
}

/**
 * A failure explained: what went wrong (the API's message), what to do, the code and details.
 * `role=alert` only for errors that happen in response to the user's own action.
 */
export function problemPanel(error, { title = 'Something went wrong', alert = false } = {}) {
  const fix = fixFor(error?.code);
  return h(
    'div',
    { class: 'problem', role: alert ? 'alert' : null },
    h('div', { class: 'problem-head' }, icon('alert'), h('h2', { class: 'problem-title' }, title)),
    h('p', { class: 'problem-message' }, error?.message ?? 'Unknown error'),
    fix ? h('p', { class: 'problem-fix' }, h('strong', {}, 'What to do: '), fix) : null,
    detailsView(error?.details),
    error?.code ? h('p', { class: 'problem-code muted' }, 'Error code ', h('code', {}, error.code)) : null,
  );
}
