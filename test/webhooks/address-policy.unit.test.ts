import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blockedReason, parseV6 } from '../../src/shared/http/address-policy.js';
import { checkTargetUrl } from '../../src/webhooks/target-url.js';

describe('webhook address policy', () => {
  const blocked: Array<[string, RegExp]> = [
    ['127.0.0.1', /loopback/], ['127.255.1.2', /loopback/], ['10.1.2.3', /private/], ['172.16.0.1', /private/], ['172.31.255.255', /private/],
    ['192.168.1.1', /private/], ['169.254.169.254', /link-local/], ['100.64.0.1', /carrier-grade NAT/], ['0.0.0.0', /unspecified/],
    ['224.0.0.1', /multicast/], ['255.255.255.255', /broadcast/], ['240.0.0.1', /reserved/], ['198.18.0.1', /benchmarking/],
    ['192.0.2.10', /documentation/],
    ['::', /unspecified/], ['::1', /loopback/], ['fe80::1', /link-local/], ['fe80::1%eth0', /link-local/], ['fc00::1', /unique-local/], ['fd12:3456::1', /unique-local/],
    ['ff02::1', /multicast/], ['2001:db8::1', /documentation/],
    ['::ffff:127.0.0.1', /loopback \(embedded in IPv6\)/], ['::ffff:7f00:1', /loopback/], ['::ffff:10.0.0.1', /private/],
    ['::ffff:169.254.169.254', /link-local/], ['64:ff9b::a9fe:a9fe', /link-local/], ['2002:7f00:1::', /loopback/], ['::127.0.0.1', /loopback/],
    ['[::1]', /loopback/], ['not-an-ip', /not an IP/],
  ];
  for (const [address, reason] of blocked) {
    it(`refuses ${address}`, () => assert.match(blockedReason(address) ?? 'allowed', reason));
  }
  for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2002:0808:0808::1']) {
    it(`allows ${address}`, () => assert.equal(blockedReason(address), null));
  }

  it('parses IPv6 forms into 16 bytes', () => {
    assert.deepEqual([...parseV6('::1')!], [...new Array(15).fill(0), 1]);
    assert.deepEqual([...parseV6('1:2:3:4:5:6:7:8')!].slice(14), [0, 8]);
    assert.deepEqual([...parseV6('::ffff:1.2.3.4')!].slice(10), [0xff, 0xff, 1, 2, 3, 4]);
    assert.equal(parseV6('1::2::3'), undefined);
    assert.equal(parseV6('1:2:3:4:5:6:7:8:9'), undefined);
    assert.equal(parseV6('12345::'), undefined);
  });
});

describe('webhook URL registration checks', () => {
  const strict = { allowPrivate: false };
  const noDns = async () => [] as string[];

  it('accepts public http(s) URLs and normalises them', async () => {
    assert.equal(await checkTargetUrl('https://Example.com/hook?x=1', strict, noDns), 'https://example.com/hook?x=1');
    assert.equal(await checkTargetUrl('http://8.8.8.8:8080/h', strict, noDns), 'http://8.8.8.8:8080/h');
  });

  const refused: Array<[string, RegExp]> = [
    ['ftp://example.com/x', /only http and https/],
    ['file:///etc/passwd', /only http and https/],
    ['javascript:alert(1)', /only http and https/],
    ['https://user:pass@example.com/h', /credentials/],
    ['https://token@example.com/h', /credentials/],
    ['https://example.com/h#frag', /fragment/],
    ['example.com/hook', /not an absolute URL/],
    ['http://127.0.0.1:9000/h', /loopback/],
    ['http://[::1]/h', /loopback/],
    ['http://169.254.169.254/latest/meta-data', /link-local/],
    ['http://localhost:8080/h', /localhost/],
    ['http://api.localhost/h', /localhost/],
    ['http://0x7f000001/h', /loopback/],
  ];
  for (const [url, reason] of refused) {
    it(`refuses ${url}`, async () => {
      await assert.rejects(checkTargetUrl(url, strict, noDns), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INVALID_WEBHOOK_URL');
        assert.match(err.message, reason);
        return true;
      });
    });
  }

  it('refuses a name that resolves to a private address at registration', async () => {
    await assert.rejects(checkTargetUrl('https://internal.example/h', strict, async () => ['93.184.216.34', '10.0.0.5']), /resolves to 10\.0\.0\.5 \(private\)/);
  });

  it('accepts a name that does not resolve yet (the connect-time check still applies)', async () => {
    assert.equal(await checkTargetUrl('https://later.example/h', strict, async () => { throw new Error('ENOTFOUND'); }), 'https://later.example/h');
  });

  it('allows private targets when configured to', async () => {
    assert.equal(await checkTargetUrl('http://127.0.0.1:9000/h', { allowPrivate: true }, noDns), 'http://127.0.0.1:9000/h');
  });

  it('refuses a missing or empty url with a clear message', async () => {
    await assert.rejects(checkTargetUrl(undefined, strict, noDns), /needs a "url"/);
    await assert.rejects(checkTargetUrl('  ', strict, noDns), /needs a "url"/);
  });
});
