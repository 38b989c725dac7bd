import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import busboy from 'busboy';
import { CommanderError } from 'commander';
import { ApiClient } from '../../src/cli/client.js';
import { CliError, ExitCode, renderError, toCliError } from '../../src/cli/errors.js';
import { expandArguments } from '../../src/cli/glob.js';
import { listTree } from '../../src/archive/pack-dir.js';
import { parseLabels, payloadBytes, resolveModel, suggestName } from '../../src/cli/model-dir.js';
import { batchBody, newBoundary, type BatchPart } from '../../src/cli/multipart.js';
import { colorEnabled, colors, table } from '../../src/cli/output.js';
import { outcomeOf, reachedApi, sendRetry } from '../../src/cli/retry.js';
import { readSse } from '../../src/shared/sse-reader.js';
import { repoRoot } from '../support/paths.js';
import { tempDir } from './support.js';

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

describe('cli units', () => {
  it('parses server-sent events split anywhere, with comments, ids and multi-line data', async () => {
    const text = 'retry: 2000\n\n: heartbeat\n\nid: 1-0\nevent: status\ndata: {"a":\ndata: 1}\n\nevent: end\r\ndata: {}\r\n\r\n';
    // Every split point, so a chunk boundary inside a line or a CRLF changes nothing.
    for (let cut = 0; cut <= text.length; cut++) {
      const events = [];
      for await (const e of readSse(chunks(text.slice(0, cut), text.slice(cut)))) events.push(e);
      assert.deepEqual(events, [
        { event: 'status', data: '{"a":\n1}', id: '1-0' },
        { event: 'end', data: '{}', id: '1-0' },
      ], `cut at ${cut}`);
    }
  });

  it('aligns tables by visible width, colours included', () => {
    const c = colors(true);
    const out = table(['A', 'STATUS', 'ERR'], [['long-name', c.green('released'), ''], ['x', c.red('failed'), 'boom']], c);
    const plain = out.split('\u001b').map((s, i) => (i === 0 ? s : s.replace(/^\[[0-9;]*m/, ''))).join('').split('\n');
    assert.deepEqual(plain, ['A          STATUS    ERR', 'long-name  released', 'x          failed    boom', '']);
    assert.equal(colorEnabled({ write: () => true, isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(colorEnabled({ write: () => true, isTTY: false }, {}), false);
    assert.equal(colorEnabled({ write: () => true, isTTY: true }, {}), true);
  });

  it('labels, names and errors', () => {
    assert.deepEqual(parseLabels(['team=search', 'note=a=b', 'empty=']), { team: 'search', note: 'a=b', empty: '' });
    assert.throws(() => parseLabels(['novalue']), (e: { exitCode: number }) => e.exitCode === ExitCode.USAGE);
    assert.equal(suggestName('My Model (v2)'), 'my-model-v2');

    const usage = toCliError(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"))!;
    assert.equal(usage.exitCode, ExitCode.USAGE);
    assert.equal(toCliError(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), null);
    const contract = toCliError(new CommanderError(1, 'mll.INVALID_MODEL', 'error: INVALID_MODEL: bad file'))!;
    assert.deepEqual([contract.code, contract.message, contract.exitCode], ['INVALID_MODEL', 'bad file', 1]);
    assert.equal(renderError(contract, false), 'error: INVALID_MODEL: bad file\n');
    assert.deepEqual(JSON.parse(renderError(contract, true)), { error: { code: 'INVALID_MODEL', message: 'bad file' } });

    const client = new ApiClient({ server: 'http://127.0.0.1:1/base/' });
    assert.equal(client.url('/api/v1/models', { q: 'a b', none: undefined }).href, 'http://127.0.0.1:1/base/api/v1/models?q=a+b');
    const apiErr = client.apiError(503, '{"error":{"code":"QUEUE_UNAVAILABLE","message":"Redis is down"}}');
    assert.deepEqual([apiErr.code, apiErr.message, apiErr.exitCode, apiErr.status], ['QUEUE_UNAVAILABLE', 'Redis is down', ExitCode.UNAVAILABLE, 503]);
    const html = client.apiError(404, '<html>nope</html>');
    assert.equal(html.code, 'HTTP_404');
    assert.match(html.message, /is --server an ML Lambda API\?/);
    assert.throws(() => new ApiClient({ server: 'not a url' }), /is not a URL/);
  });

  describe('glob expansion', () => {
    let tmp: { dir: string; remove(): Promise<void> };
    before(async () => {
      tmp = await tempDir('glob');
      for (const d of ['models/a1', 'models/a2', 'models/b1', 'models/.hidden', 'deep/x/model', 'deep/y/z/model', 'deep/y/other']) {
        await fs.mkdir(path.join(tmp.dir, d), { recursive: true });
      }
      await fs.writeFile(path.join(tmp.dir, 'models', 'file.onnx'), 'x');
    });
    after(() => tmp?.remove());

    it('expands *, ?, [..] and ** (hidden entries only when asked), keeps literals, refuses no match', async () => {
      const rel = async (args: string[]) => (await expandArguments(args, tmp.dir)).map((p) => path.relative(tmp.dir, p));
      assert.deepEqual(await rel(['models/a*']), ['models/a1', 'models/a2']);
      assert.deepEqual(await rel(['models/?1']), ['models/a1', 'models/b1']);
      assert.deepEqual(await rel(['models/[ab]2']), ['models/a2']);
      assert.deepEqual(await rel(['models/*']), ['models/a1', 'models/a2', 'models/b1', 'models/file.onnx']);
      assert.deepEqual(await rel(['models/.h*']), ['models/.hidden']);
      assert.deepEqual(await rel(['deep/**/model']), ['deep/x/model', 'deep/y/z/model']);
      assert.deepEqual(await rel(['models/b1', 'models/*1']), ['models/b1', 'models/a1'], 'duplicates once, first place kept');
      await assert.rejects(expandArguments(['models/zz*'], tmp.dir), /nothing matches models\/zz\*/);
    });
  });

  it('a streamed batch body parses as metadata + payload parts, in order, with read-ahead and a skipped item', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 7);
    let open = 0;
    let maxOpen = 0;
    const part = (name: string, body: Buffer | Error): BatchPart => ({
      metadata: JSON.stringify({ model: name }),
      filename: `${name}.tar`,
      contentType: 'application/x-tar',
      open: () => {
        maxOpen = Math.max(maxOpen, ++open);
        return (async function* () {
          try {
            if (body instanceof Error) throw body;
            for (let i = 0; i < body.length; i += 65536) yield body.subarray(i, i + 65536);
          } finally {
            open--;
          }
        })();
      },
    });
    const items = [part('a', Buffer.from('alpha')), part('b', big), part('c', new Error('EACCES')), part('d', Buffer.from('delta'))];
    const boundary = newBoundary();
    const sent: number[] = [];
    const skipped: number[] = [];
    const body = batchBody(items, boundary, {
      readAhead: 2, bufferCap: 1024 * 1024,
      onItemSent: (i) => sent.push(i),
      onItemError: (i) => {
        skipped.push(i);
        return true;
      },
    });
    const received: { field: string; value: string | Buffer }[] = [];
    await new Promise<void>((resolve, reject) => {
      const parser = busboy({ headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
      parser.on('field', (field, value) => received.push({ field, value }));
      parser.on('file', (field, stream) => {
        const entry: { field: string; value: string | Buffer } = { field, value: '' };
        received.push(entry);
        const bufs: Buffer[] = [];
        stream.on('data', (c: Buffer) => bufs.push(c)).on('end', () => (entry.value = Buffer.concat(bufs)));
      });
      parser.on('close', resolve).on('error', reject);
      Readable.from(body).pipe(parser);
    });
    assert.deepEqual(sent, [0, 1, 3]);
    assert.deepEqual(skipped, [2]);
    assert.deepEqual(received.map((r) => r.field), ['metadata', 'payload', 'metadata', 'payload', 'metadata', 'payload']);
    assert.deepEqual(received.filter((r) => r.field === 'metadata').map((r) => JSON.parse(String(r.value)).model), ['a', 'b', 'd']);
    assert.equal(String(received[1]!.value), 'alpha');
    assert.ok(big.equals(received[3]!.value as Buffer));
    assert.equal(String(received[5]!.value), 'delta');
    assert.ok(maxOpen <= 3, `read-ahead bounded (${maxOpen} sources open at once)`);
  });
});

describe('legacy (Hydrosphere) folders', () => {
  const corpus = path.join(repoRoot, 'test', 'fixtures', 'serving-yaml');

  it('the name from a 2018a model: map, mapped as the server maps it; only serving.yaml, its contract file and the payload are packed', async () => {
    const source = await resolveModel(path.join(corpus, '2018a-field-name', 'model'), undefined);
    assert.match(source.name, /^ssd-detector-[0-9a-f]{8}$/);
    assert.equal(source.displayName, 'ssd.Detector');
    assert.equal(source.dialect, '2018a');
    assert.deepEqual(source.include, ['serving.yaml', 'serving_metadata/contract.prototxt', 'model/src/']);
    assert.deepEqual((await listTree(source.path, source.include)).map((e) => e.path), [
      'model', 'model/src', 'model/src/func_main.py', 'serving.yaml', 'serving_metadata', 'serving_metadata/contract.prototxt',
    ]);
    assert.equal((await payloadBytes(source.path, source.include)).files, 3);
  });

  it('files outside the payload stay home (a training set next to the model is not uploaded)', async () => {
    const source = await resolveModel(path.join(corpus, '2019plus-one-signature', 'model'), undefined);
    assert.equal(source.dialect, '2019+');
    const packed = (await listTree(source.path, source.include)).filter((e) => e.type === 'file').map((e) => e.path);
    assert.deepEqual(packed, ['model/model.joblib', 'requirements.txt', 'serving.yaml', 'src/func_main.py']);
  });

  it('a payload the CLI cannot resolve sends the whole folder (the server says what is wrong); --name may give the mapped name', async () => {
    const missing = await resolveModel(path.join(corpus, 'payload-missing', 'model'), undefined);
    assert.equal(missing.include, null);
    const named = await resolveModel(path.join(corpus, 'name-mapping', 'model'), 'claims-model-v2-a7fce151');
    assert.equal(named.displayName, 'Claims.Model.V2');
    await assert.rejects(resolveModel(path.join(corpus, 'name-mapping', 'model'), 'other'), /names the model "Claims\.Model\.V2" but --name says "other"/);
  });
});

describe('upload and batch retries (src/cli/retry.ts)', () => {
  const refused = new CliError('UNREACHABLE', 'cannot reach', { details: { code: 'ECONNREFUSED' } });
  const reset = new CliError('UNREACHABLE', 'cannot reach', { details: { code: 'ECONNRESET' } });
  const busy = new CliError('CONFLICT', 'still being processed', { status: 409, retryAfter: '1' });

  it('an attempt reached the API unless its connection was refused or its name did not resolve', () => {
    assert.equal(reachedApi(refused), false);
    assert.equal(reachedApi(new CliError('UNREACHABLE', 'cannot reach', { details: { code: 'ENOTFOUND' } })), false);
    assert.equal(reachedApi(reset), true);
    assert.equal(reachedApi(busy), true);
  });

  it('gives up after three attempts while nothing reached the API, and waits out a stopped API\'s claim once something did', () => {
    assert.equal(sendRetry(false).decide(3, outcomeOf(refused)).retry, false);
    // 409s for the 10 s a stopped API's claim lives, at least 2 s apart whatever Retry-After says.
    let waited = 0;
    for (let attempt = 1; waited <= 10_000; attempt++) {
      const decision = sendRetry(true).decide(attempt, outcomeOf(busy));
      assert.ok(decision.retry, `attempt ${attempt} after ${waited} ms is retried`);
      assert.ok(decision.delayMs >= 2000);
      waited += decision.delayMs;
    }
    assert.equal(sendRetry(true).decide(8, outcomeOf(reset)).retry, false, 'eight attempts in all');
  });
});
