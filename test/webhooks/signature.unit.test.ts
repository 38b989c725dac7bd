import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertValidSecret, decodeSecret, generateSecret, sign, signedHeaders, verify } from '../../src/webhooks/signature.js';

describe('Standard Webhooks signatures', () => {
  it('matches the reference libraries\' "sign function works" vector', () => {
    // The same key/id/timestamp/payload → signature vector as standard-webhooks' JavaScript, Go and Python tests.
    const signature = sign('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    assert.equal(signature, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('signs with the decoded key, with or without the whsec_ prefix', () => {
    const a = sign('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'id', 1, 'body');
    const b = sign('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'id', 1, 'body');
    const c = sign(decodeSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'), 'id', 1, Buffer.from('body'));
    assert.equal(a, b);
    assert.equal(a, c);
    assert.notEqual(a, sign('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'id', 2, 'body'));
  });

  it('generates whsec_ secrets of 24–64 random bytes', () => {
    const s = generateSecret();
    assert.match(s, /^whsec_[A-Za-z0-9+/]+=*$/);
    const bytes = decodeSecret(s).length;
    assert.ok(bytes >= 24 && bytes <= 64, `${bytes} bytes`);
    assert.notEqual(generateSecret(), s);
  });

  it('refuses secrets that are too short, too long or not base64', () => {
    assert.throws(() => assertValidSecret('whsec_' + Buffer.alloc(23).toString('base64')), /24–64 bytes/);
    assert.throws(() => assertValidSecret('whsec_' + Buffer.alloc(65).toString('base64')), /24–64 bytes/);
    assert.throws(() => assertValidSecret('whsec_not base64!'), /base64/);
    assert.equal(assertValidSecret(Buffer.alloc(24, 1).toString('base64')), 'whsec_' + Buffer.alloc(24, 1).toString('base64'));
  });

  it('verifies what it signs, and rejects tampering, stale timestamps and other versions', () => {
    const secret = generateSecret();
    const body = '{"type":"version.released"}';
    const now = Date.now();
    const headers = signedHeaders(secret, 'evt_1', body, now);
    assert.deepEqual(verify(secret, headers, body, { now }), { ok: true });
    assert.equal(verify(secret, headers, body + ' ', { now }).ok, false);
    assert.equal(verify(generateSecret(), headers, body, { now }).ok, false);
    assert.equal(verify(secret, headers, body, { now: now + 301_000 }).ok, false);
    const rotated = { ...headers, 'webhook-signature': `v2,${headers['webhook-signature']!.slice(3)} v1,AAAA ${headers['webhook-signature']}` };
    assert.deepEqual(verify(secret, rotated, body, { now }), { ok: true });
    assert.equal(verify(secret, { ...headers, 'webhook-signature': headers['webhook-signature']!.replace('v1,', 'v2,') }, body, { now }).ok, false);
  });
});
