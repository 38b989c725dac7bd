import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveDomain, parseChallenges } from '../../src/image/registry/challenges.js';
import { isLoopbackRegistry, parseReference, parseRegistryTarget } from '../../src/image/registry/reference.js';
import { RegistryClient } from '../../src/image/registry/client.js';
import { MllError } from '../../src/errors.js';

describe('parseReference', () => {
  it('parses registry, repository, tag and digest like docker', () => {
    assert.deepEqual(parseReference('127.0.0.1:5000/mll/runtime-python:dev'),
      { registry: '127.0.0.1:5000', repository: 'mll/runtime-python', tag: 'dev', digest: undefined });
    assert.deepEqual(parseReference('python'), { registry: 'registry-1.docker.io', repository: 'library/python', tag: 'latest', digest: undefined });
    assert.deepEqual(parseReference('ghcr.io/org/img@sha256:' + 'a'.repeat(64)),
      { registry: 'ghcr.io', repository: 'org/img', tag: undefined, digest: 'sha256:' + 'a'.repeat(64) });
    assert.deepEqual(parseReference('localhost/x:1'), { registry: 'localhost', repository: 'x', tag: '1', digest: undefined });
    assert.equal(parseReference('org/img:3').registry, 'registry-1.docker.io');
  });
  it('rejects malformed references with BAD_REQUEST', () => {
    assert.throws(() => parseReference('Bad/Name:tag'), (e: unknown) => e instanceof MllError && e.code === 'BAD_REQUEST');
    assert.throws(() => parseReference('x@sha256:short'), (e: unknown) => e instanceof MllError && e.code === 'BAD_REQUEST');
  });
  it('parses MLL_REGISTRY with a namespace', () => {
    assert.deepEqual(parseRegistryTarget('registry.example.com:5000/team/models'), { registry: 'registry.example.com:5000', namespace: 'team/models' });
    assert.deepEqual(parseRegistryTarget('127.0.0.1:5000'), { registry: '127.0.0.1:5000', namespace: '' });
  });
  it('treats loopback registries as plain HTTP', () => {
    assert.equal(isLoopbackRegistry('127.0.0.1:5000'), true);
    assert.equal(isLoopbackRegistry('localhost:5000'), true);
    assert.equal(isLoopbackRegistry('ghcr.io'), false);
  });
});

describe('parseChallenges', () => {
  it('reads bearer params with quoted commas, and basic', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.example.com/token",service="reg",scope="repository:a/b:pull,push"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'reg', scope: 'repository:a/b:pull,push' } },
    ]);
    assert.deepEqual(parseChallenges('Basic realm="mll"'), [{ scheme: 'basic', params: { realm: 'mll' } }]);
    assert.deepEqual(parseChallenges('Basic realm="a", Bearer realm="b"').map((c) => c.scheme), ['basic', 'bearer']);
    assert.deepEqual(parseChallenges(undefined), []);
  });
  it('sends credentials only within the registry domain', () => {
    assert.equal(effectiveDomain('auth.docker.io'), effectiveDomain('registry-1.docker.io'));
    assert.notEqual(effectiveDomain('evil.example'), effectiveDomain('registry-1.docker.io'));
    assert.equal(effectiveDomain('127.0.0.1:5001'), '127.0.0.1');
  });
});

describe('the registry client\'s retry policy (the shared one, with the registry\'s numbers)', () => {
  const policy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 4 };
  const withRetry = <T>(fn: () => Promise<T>, retry: typeof policy) => new RegistryClient({ registry: '127.0.0.1:1', retry }).retry.run(fn);
  it('retries transient faults and stops at the first permanent one', async () => {
    let calls = 0;
    const result = await withRetry(async () => {
      calls++;
      if (calls < 3) throw new MllError('REGISTRY_UNAVAILABLE', 'down');
      return 'ok';
    }, policy);
    assert.equal(result, 'ok');
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(withRetry(async () => { calls++; throw new MllError('REGISTRY_AUTH_FAILED', 'no'); }, policy), { code: 'REGISTRY_AUTH_FAILED' });
    assert.equal(calls, 1);
    calls = 0;
    await assert.rejects(withRetry(async () => { calls++; throw new MllError('REGISTRY_UNAVAILABLE', 'down'); }, policy), { code: 'REGISTRY_UNAVAILABLE' });
    assert.equal(calls, 4);
  });
  it('defaults to five attempts, 250 ms doubling to 8 s', () => {
    const rules = new RegistryClient({ registry: '127.0.0.1:1' }).retry.rules;
    assert.deepEqual([rules.attempts, rules.baseDelayMs, rules.maxDelayMs, rules.jitter], [5, 250, 8000, [0.5, 1]]);
  });
});
