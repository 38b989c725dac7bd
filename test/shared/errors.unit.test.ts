import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCatalogue, isTransient, MllError, toErrorBody } from '../../src/errors.js';

/** One test per rule of isTransient, the one place that decides between a retry and failing at once. */
describe('isTransient: which failures are worth retrying', () => {
  it('an MllError is as transient as its code says in the catalogue', () => {
    assert.equal(isTransient(new MllError('STORE_UNAVAILABLE', 'down')), true);
    assert.equal(isTransient(new MllError('QUEUE_UNAVAILABLE', 'down')), true);
    assert.equal(isTransient(new MllError('TIMEOUT', 'slow')), true);
    assert.equal(isTransient(new MllError('INVALID_MODEL', 'broken')), false);
    assert.equal(isTransient(new MllError('PRECONDITION_FAILED', 'changed')), false);
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      assert.equal(isTransient(new MllError(code as keyof typeof errorCatalogue, 'x')), entry.transient, code);
    }
  });

  it('INTERNAL is not transient: a programming error fails at once, like a raw TypeError', () => {
    assert.equal(errorCatalogue.INTERNAL.transient, false);
    assert.equal(isTransient(new MllError('INTERNAL', 'a layer was never hashed')), false);
    assert.equal(isTransient(new TypeError("Cannot read properties of undefined (reading 'digest')")), false);
    assert.equal(isTransient(new RangeError('Invalid array length')), false);
    assert.deepEqual(toErrorBody(new TypeError('secret internals')), { code: 'INTERNAL', message: 'Internal error; the service log has the details.' });
  });

  it('network faults by their error code are transient; other system errors are not', () => {
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT']) {
      assert.equal(isTransient(Object.assign(new Error(code), { code })), true, code);
    }
    for (const code of ['ENOENT', 'EACCES', 'EISDIR', 'ERR_INVALID_ARG_TYPE']) {
      assert.equal(isTransient(Object.assign(new Error(code), { code })), false, code);
    }
  });

  it('HTTP answers 408, 425, 429 and 5xx are transient (status or statusCode); other statuses are not', () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504, 599]) assert.equal(isTransient({ status }), true, String(status));
    for (const status of [400, 401, 403, 404, 409, 410, 413, 422]) assert.equal(isTransient({ status }), false, String(status));
    assert.equal(isTransient({ statusCode: 503 }), true);
    assert.equal(isTransient({ statusCode: 404 }), false);
    assert.equal(isTransient({ status: 404, code: 'ECONNRESET' }), true, 'a network code wins over a status');
  });

  it('timeouts and aborts (by name) are transient', () => {
    assert.equal(isTransient(Object.assign(new Error('The operation timed out'), { name: 'TimeoutError' })), true);
    assert.equal(isTransient(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' })), true);
  });

  it('a wrapper is as transient as its cause, however deep', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    assert.equal(isTransient(new Error('upload failed', { cause: reset })), true);
    assert.equal(isTransient(new Error('outer', { cause: new Error('middle', { cause: reset }) })), true);
    assert.equal(isTransient(new Error('upload failed', { cause: new TypeError('bug') })), false);
    const loop: Error & { cause?: unknown } = new Error('self');
    loop.cause = loop;
    assert.equal(isTransient(loop), false, 'a cause cycle ends');
  });

  it('anything else (strings, null, plain errors) is not transient', () => {
    assert.equal(isTransient('ECONNRESET'), false);
    assert.equal(isTransient(null), false);
    assert.equal(isTransient(undefined), false);
    assert.equal(isTransient(new Error('something odd')), false);
  });
});
