import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSse, type SseMessage } from '../../src/shared/sse-reader.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { api, tarOf, type ApiResponse, type PresentedVersion } from '../support/client.js';
import { repoRoot } from '../support/paths.js';
import { spawnService, type ServiceProcess } from '../support/processes.js';
import { freePort } from '../support/registry.js';
import { uniqueName } from '../support/unique.js';
import { sleep, waitFor } from '../support/wait.js';

const pythonModel = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');
const ratePerMinute = 20;

interface Replica {
  proc: ServiceProcess;
  url: string;
}

/**
 * The scale-out topology: two API processes and three worker processes on one Redis, one S3 store
 * and one registry, token auth on, every upload sent to one API or the other. Whatever a client
 * learns from one API holds on the other: numbers, ETags, event ids, idempotency keys, the rate
 * limit, and the first admin token.
 */
describe('two API and three worker processes on one Redis, S3 store and registry', () => {
  let app: TestApp;
  const apis: Replica[] = [];
  const workers: ServiceProcess[] = [];
  let admin = '';
  let body: Buffer;
  const auth = (token = admin) => ({ authorization: `Bearer ${token}` });

  const upload = (replica: Replica, model: string, headers: Record<string, string> = {}) =>
    api<PresentedVersion & { error?: { code: string; message: string } }>(`${replica.url}/api/v1/models/${model}/versions`, {
      method: 'POST', headers: { ...auth(), 'content-type': 'application/x-tar', ...headers }, body: new Uint8Array(body),
    });

  const released = (replica: Replica, model: string, version: number) => waitFor(`${model}:${version} released`, async () => {
    const res = await api<PresentedVersion>(`${replica.url}/api/v1/models/${model}/versions/${version}`, { headers: auth() });
    if (res.body.status === 'failed') throw new Error(JSON.stringify(res.body.error));
    return res.body.status === 'released' ? res.body : undefined;
  }, 120_000);

  before(async () => {
    body = await tarOf(pythonModel);
    // The test's own handle on the deployment (no API, no workers): its environment and clean-up.
    app = await startTestApp({ api: false, workers: false, store: 'minio', target: 'registry' });
    const env = {
      ...app.env, MLL_AUTH: 'tokens', MLL_PUBLIC_URL: 'http://mll.test', MLL_UPLOAD_RATE_PER_MINUTE: String(ratePerMinute), MLL_LOG_LEVEL: 'warn',
    };
    // Both APIs start at the same moment, as replicas of a Deployment do.
    for (const port of [await freePort(), await freePort()]) {
      apis.push({ proc: spawnService('api', { ...env, MLL_PORT: String(port) }), url: `http://127.0.0.1:${port}` });
    }
    // At info, so a failure below can show what each worker did (their output is printed only then).
    for (let i = 0; i < 3; i++) workers.push(spawnService('workers', { ...env, MLL_LOG_LEVEL: 'info' }));
    for (const replica of apis) {
      await waitFor(`API ${replica.url}`, async () => ((await fetch(`${replica.url}/healthz`)).ok ? true : undefined), 90_000);
    }
  });

  after(async () => {
    for (const p of [...apis.map((a) => a.proc), ...workers]) p.kill('SIGKILL');
    await Promise.all([...apis.map((a) => a.proc.exited), ...workers.map((w) => w.exited)]);
    await app?.stop();
  });

  it('prints the first admin token once, from one API only', async () => {
    const printed = apis.map((a) => a.proc.output().match(/^ {4}(mll_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{32,})$/m)?.[1]);
    assert.equal(printed.filter(Boolean).length, 1, apis.map((a) => a.proc.output()).join('\n---\n'));
    admin = printed.find(Boolean)!;
    for (const replica of apis) {
      const tokens = await api<{ items: { name: string; scopes: string[] }[] }>(`${replica.url}/api/v1/tokens`, { headers: auth() });
      assert.equal(tokens.status, 200, 'the printed token works on both APIs');
      assert.deepEqual(tokens.body.items.map((t) => t.name), ['first admin']);
    }
  });

  it('gives uploads spread over both APIs dense, unique version numbers, each released once by three workers', async () => {
    const model = uniqueName('replicas');
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => upload(apis[i % 2]!, model)));
    for (const a of answers) assert.equal(a.status, 202, JSON.stringify(a.body));
    assert.deepEqual(answers.map((a) => a.body.version).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8]);
    try {
      for (const a of answers) await released(apis[a.body.version % 2]!, model, a.body.version);
    } catch (err) {
      // Seen once in CI and once locally under load: version 1 not released in 120 s. What a
      // diagnosis needs: where the version stands, its events, and what the workers logged.
      const version = await api<PresentedVersion>(`${apis[0]!.url}/api/v1/models/${model}/versions/1`, { headers: auth() }).catch((e: unknown) => e);
      const events = await api<unknown>(`${apis[0]!.url}/api/v1/models/${model}/versions/1/events`, { headers: auth() }).catch((e: unknown) => e);
      const logs = workers.map((w, i) => `--- workers process ${i} (last 8 KB of its output)\n${w.output().slice(-8192)}`).join('\n');
      throw new Error(`${(err as Error).message}\nversion 1: ${JSON.stringify(version).slice(0, 2000)}\nevents: ${JSON.stringify(events).slice(0, 4000)}\n${logs}`, { cause: err });
    }
    for (const replica of apis) {
      const list = await api<{ total: number; items: { version: number; status: string }[] }>(`${replica.url}/api/v1/models/${model}/versions`, { headers: auth() });
      assert.equal(list.body.total, 8);
      assert.ok(list.body.items.every((v) => v.status === 'released'));
    }
    const [host, ...namespace] = app.registry!.split('/');
    const tags = await fetch(`http://${host}/v2/${[...namespace, model].join('/')}/tags/list`);
    assert.deepEqual(((await tags.json()) as { tags: string[] }).tags.sort(), ['1', '2', '3', '4', '5', '6', '7', '8'], 'one image per version');
  });

  it('answers the same ETag and the same events whichever API serves them; SSE resumes on the other API', async () => {
    const model = uniqueName('agree');
    const created = await upload(apis[0]!, model);
    assert.equal(created.status, 202);
    // Followed live on B while it is built, uploaded through A.
    const live = await collectSse(`${apis[1]!.url}/api/v1/models/${model}/versions/1/events`, auth());
    assert.equal(live.at(-1)!.event, 'end');
    assert.equal(JSON.parse(live.at(-1)!.data).status, 'released');
    const [a, b] = await Promise.all(apis.map((r) => api<{ items: { id: string; type: string }[] }>(`${r.url}/api/v1/models/${model}/versions/1/events`, { headers: auth() })));
    assert.deepEqual(a!.body.items, b!.body.items);
    assert.deepEqual(live.filter((m) => m.event !== 'end').map((m) => m.id), a!.body.items.map((e) => e.id));
    // Resume on A after an event id that B sent.
    const middle = live[2]!.id!;
    const resumed = await collectSse(`${apis[0]!.url}/api/v1/models/${model}/versions/1/events`, { ...auth(), 'last-event-id': middle });
    assert.deepEqual(resumed.filter((m) => m.event !== 'end').map((m) => m.id), a!.body.items.map((e) => e.id).slice(3));
    // One ETag for one state, from either API: a 304 from B for what A sent.
    const first = await fetch(`${apis[0]!.url}/api/v1/models/${model}/versions/1`, { headers: auth() });
    const etag = first.headers.get('etag');
    assert.ok(etag);
    // (fetch would add Cache-Control: no-cache to a conditional request, which asks for a full answer.)
    const again = await fetch(`${apis[1]!.url}/api/v1/models/${model}/versions/1`, { headers: { ...auth(), 'if-none-match': etag, 'cache-control': 'max-age=0' } });
    assert.equal(again.status, 304);
  });

  it('replays an Idempotency-Key on the other API, and refuses it for a different request', async () => {
    const model = uniqueName('idem');
    const headers = { 'idempotency-key': `replicas-${model}` };
    const first = await upload(apis[0]!, model, headers);
    assert.equal(first.status, 202);
    const replay = await upload(apis[1]!, model, headers);
    assert.equal(replay.status, 202);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.body.version, first.body.version);
    const other = await api<{ error: { code: string } }>(`${apis[1]!.url}/api/v1/models/${model}-other/versions`, {
      method: 'POST', headers: { ...auth(), 'content-type': 'application/x-tar', ...headers }, body: new Uint8Array(body),
    });
    assert.equal(other.status, 409);
    assert.equal(other.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
    await released(apis[1]!, model, 1);
    const list = await api<{ total: number }>(`${apis[0]!.url}/api/v1/models/${model}/versions`, { headers: auth() });
    assert.equal(list.body.total, 1);
  });

  it('holds one upload rate limit per token across both APIs', async () => {
    const created = await api<{ token: string }>(`${apis[0]!.url}/api/v1/tokens`, {
      method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ci', scopes: ['write'] }),
    });
    assert.equal(created.status, 201);
    const limited = created.body.token;
    const start = (replica: Replica) => api<{ error?: { code: string } }>(`${replica.url}/api/v1/uploads`, {
      method: 'POST', headers: { ...auth(limited), 'content-type': 'application/json' }, body: '{}',
    });
    const answers: ApiResponse<{ error?: { code: string } }>[] = [];
    for (let i = 0; i < ratePerMinute; i++) answers.push(await start(apis[i % 2]!));
    assert.deepEqual(answers.map((a) => a.status), Array(ratePerMinute).fill(201), 'the burst is the limit, split over both APIs');
    for (const replica of apis) {
      const over = await start(replica);
      assert.equal(over.status, 429, `${replica.url} knows what the other API let through`);
      assert.equal(over.body.error?.code, 'RATE_LIMITED');
      assert.ok(Number(over.headers.get('retry-after')) >= 1);
    }
  });

  it('an API killed mid-upload: the retry of the same request to the other API makes exactly one version', async () => {
    const model = uniqueName('cut');
    const key = `cut-${model}`;
    const [doomed, survivor] = [apis[0]!, apis[1]!];
    // A token of its own, so the retries below have the whole upload rate to themselves.
    const uploader = (await api<{ token: string }>(`${survivor.url}/api/v1/tokens`, {
      method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'uploader', scopes: ['write'] }),
    })).body.token;
    const headers = { ...auth(uploader), 'content-type': 'application/x-tar', 'idempotency-key': key, 'content-length': String(body.length) };
    // Half the payload, then the API process dies.
    const cut = new Promise<string>((resolve) => {
      const req = http.request(`${doomed.url}/api/v1/models/${model}/versions`, { method: 'POST', headers });
      req.on('response', (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
      req.write(body.subarray(0, Math.floor(body.length / 2)));
    });
    await sleep(500);
    doomed.proc.kill('SIGKILL');
    await doomed.proc.exited;
    assert.match(await cut, /ECONNRESET|EPIPE|socket hang up/);
    // The client retries the same request on the other API, as Retry-After says, until the dead one's claim lapses.
    const refusals: string[] = [];
    const startedRetrying = Date.now();
    const accepted = await waitFor('the retry to be accepted', async () => {
      const res = await upload(survivor, model, { ...auth(uploader), 'idempotency-key': key });
      if (res.status === 202) return res;
      refusals.push(`${res.status} ${res.body.error?.code}: ${res.body.error?.message} (Retry-After: ${res.headers.get('retry-after')})`);
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
      return undefined;
    }, 30_000);
    const waitedMs = Date.now() - startedRetrying;
    assert.equal(accepted.body.version, 1, 'the cut-off upload spent no version number');
    for (const r of refusals) assert.match(r, /^409 CONFLICT: A request with this Idempotency-Key is still being processed; retry shortly.*\(Retry-After: 1\)$/);
    assert.ok(waitedMs < 15_000, `the retry went through after ${waitedMs} ms`);
    await released(survivor, model, 1);
    const replay = await upload(survivor, model, { ...auth(uploader), 'idempotency-key': key });
    assert.equal(replay.body.version, 1);
    const list = await api<{ total: number }>(`${survivor.url}/api/v1/models/${model}/versions`, { headers: auth() });
    assert.equal(list.body.total, 1, 'exactly one version');
  });
});

async function collectSse(url: string, headers: Record<string, string>): Promise<SseMessage[]> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
  assert.equal(res.status, 200);
  const out: SseMessage[] = [];
  for await (const m of readSse(res.body as unknown as AsyncIterable<Uint8Array>)) {
    out.push(m);
    if (m.event === 'end') break;
  }
  return out;
}
