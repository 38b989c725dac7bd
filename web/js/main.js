import { ApiError, getToken, onAuthRequired, setToken } from './api.js';
import { announce, refreshRelativeTimes } from './components/common.js';
import { problemPanel } from './components/problem.js';
import { h, replace } from './dom.js';
import { createRouter } from './router.js';
import { renderBatch } from './pages/batch.js';
import { renderBatches } from './pages/batches.js';
import { renderModel } from './pages/model.js';
import { renderModels } from './pages/models.js';
import { renderUpload } from './pages/upload.js';
import { renderVersion } from './pages/version.js';
import { renderWebhook } from './pages/webhook.js';
import { renderWebhooks } from './pages/webhooks.js';

const root = document.getElementById('main');
const tokenDialog = document.getElementById('token-dialog');
const tokenInput = document.getElementById('token-input');
const tokenButton = document.getElementById('token-button');
let authBanner = null;

/** The sign-in prompt: paste a token, keep it in localStorage, try the page again. */
function signInPrompt(ctx, error) {
  const input = h('input', { id: 'signin-token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  const form = h(
    'form',
    {
      class: 'card signin stack',
      onsubmit: (e) => {
        e.preventDefault();
        setToken(input.value.trim());
        updateTokenButton();
        authBanner?.remove();
        router.refresh();
      },
    },
    h('h1', { tabindex: '-1' }, 'Sign in'),
    h('p', {}, error?.code === 'FORBIDDEN'
      ? 'Your API token is not allowed to see this page. Paste a token with the right scope.'
      : 'This ML Lambda needs an API token. Paste yours to continue; it stays in this browser.'),
    error?.message ? h('p', { class: 'muted' }, error.message) : null,
    h('label', { for: 'signin-token' }, 'API token'),
    input,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in')),
  );
  replace(ctx.root, form);
}

function showPageError(ctx, err) {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    signInPrompt(ctx, err);
    return;
  }
  const notFound = err instanceof ApiError && err.status === 404;
  replace(
    ctx.root,
    h('div', { class: 'page-error stack' },
      h('h1', { tabindex: '-1' }, notFound ? 'Not found' : 'This page could not be loaded'),
      problemPanel(err instanceof ApiError ? err : { code: 'INTERNAL', message: String(err?.message ?? err) }, { title: notFound ? 'Nothing here' : 'What happened' }),
      h('div', { class: 'actions' },
        notFound ? null : h('button', { type: 'button', class: 'btn btn-primary', onclick: () => router.refresh() }, 'Try again'),
        h('a', { class: 'btn', href: '/' }, 'All models'))),
  );
  if (!notFound) console.error(err);
}

const notFound = {
  section: null,
  render: (ctx) => {
    replace(ctx.root, h('div', { class: 'page-error stack' },
      h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, 'There is no page at this address.'),
      h('a', { class: 'btn', href: '/' }, 'Go to the models')));
  },
  onError: showPageError,
};

const routes = [
  { path: '/', section: 'models', render: renderModels },
  { path: '/models', section: 'models', render: renderModels },
  { path: '/models/:name', section: 'models', render: renderModel },
  { path: '/models/:name/versions/:version', section: 'models', render: renderVersion },
  { path: '/upload', section: 'upload', render: renderUpload },
  { path: '/batches', section: 'batches', render: renderBatches },
  { path: '/batches/:id', section: 'batches', render: renderBatch },
  { path: '/webhooks', section: 'webhooks', render: renderWebhooks },
  { path: '/webhooks/:id', section: 'webhooks', render: renderWebhook },
].map((r) => ({ ...r, onError: showPageError }));

const router = createRouter({
  root,
  routes,
  notFound,
  onRoute: (route) => {
    for (const a of document.querySelectorAll('.mainnav a')) {
      if (a.dataset.section === route.section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  },
});

function updateTokenButton() {
  const has = Boolean(getToken());
  tokenButton.textContent = has ? 'API token ✓' : 'API token';
  tokenButton.setAttribute('aria-label', has ? 'API token (set)' : 'API token (not set)');
}

tokenButton.addEventListener('click', () => {
  tokenInput.value = getToken();
  tokenDialog.showModal();
  tokenInput.focus();
});
tokenDialog.addEventListener('close', () => {
  const action = tokenDialog.returnValue;
  if (action === 'save') setToken(tokenInput.value.trim());
  if (action === 'clear') setToken('');
  tokenInput.value = '';
  updateTokenButton();
  if (action === 'save' || action === 'clear') {
    authBanner?.remove();
    announce(action === 'save' ? 'Token saved' : 'Token forgotten');
    router.refresh();
  }
  tokenButton.focus();
});

// A request made in the background (a live refresh) that meets 401 says so once.
onAuthRequired(() => {
  if (authBanner?.isConnected) return;
  authBanner = h('div', { class: 'notice notice-warning auth-banner', role: 'alert' },
    h('span', {}, 'The service asks for an API token.'),
    h('button', { type: 'button', class: 'btn btn-small', onclick: () => tokenButton.click() }, 'Paste token'));
  document.querySelector('.topbar')?.after(authBanner);
});

updateTokenButton();
setInterval(refreshRelativeTimes, 15_000);
router.render({ focus: false });
