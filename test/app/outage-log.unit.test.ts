import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { pino } from 'pino';
import { isConnectionError, OutageLog } from '../../src/app/outage-log.js';

function capture() {
  const lines: { msg: string; source?: string; failures?: number }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as { msg: string });
      done();
    },
  });
  return { lines, log: new OutageLog(pino({ level: 'info' }, stream)) };
}

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
const flush = () => new Promise((r) => setImmediate(r));

it('logs one line per outage per connection, then one when it is back, however many attempts failed', async () => {
  const { lines, log } = capture();
  for (let i = 0; i < 89; i++) log.failed('redis', refused);
  for (let i = 0; i < 30; i++) log.failed('redis (queues)', refused);
  await flush();
  assert.equal(lines.length, 2);
  assert.match(lines[0]!.msg, /^redis unreachable/);
  log.recovered('redis');
  log.recovered('redis'); // a second ready without an outage says nothing
  await flush();
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!.msg, 'redis is back');
  assert.equal(lines[2]!.failures, 89);
  log.failed('redis', refused); // a new outage is a new line
  await flush();
  assert.equal(lines.length, 4);
});

it('says at exit which connections are still down, once each', async () => {
  const { lines, log } = capture();
  log.failed('redis (queues)', refused);
  log.failed('redis (queues)', refused);
  log.summary();
  log.summary();
  await flush();
  assert.deepEqual(lines.map((l) => [l.msg, l.failures]), [
    ['redis (queues) unreachable; retrying (further failures are counted, not logged, until it is back)', undefined],
    ['redis (queues) was still unreachable at exit', 2],
  ]);
});

it('tells connection failures from errors of a working connection', () => {
  assert.equal(isConnectionError(refused), true);
  assert.equal(isConnectionError(new Error('Connection is closed.')), true);
  assert.equal(isConnectionError(new Error('ERR wrong number of arguments for \'set\' command')), false);
  assert.equal(isConnectionError(new TypeError('x is undefined')), false);
});
