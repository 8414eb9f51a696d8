/** The HTTP sender and the SSRF guard, against real sockets. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { queryObjects } from 'node:v8';
import { createSender } from '../src/delivery/sender.ts';
import { checkDestination, checkUrlShape, isPrivateAddress } from '../src/delivery/ssrf.ts';
import { startHookline, startReceiver, type TestReceiver, youngGeneration } from './helpers.ts';

const base = { connectTimeoutMs: 1000, timeoutMs: 2000, maxResponseBytes: 16, userAgent: 'Hookline/test' };

describe('SSRF guard', () => {
  test('classifies addresses', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '224.0.0.1',
      'not-an-ip',
      // IPv4-compatible (::/96) and other reserved IPv6 outside 2000::/3
      '::7f00:1',
      '::a00:1',
      '::a9fe:a9fe',
      '::808:808',
      '::1:7f00:1',
      '100::1',
      'fec0::1',
    ]) {
      assert.equal(isPrivateAddress(ip), true, ip);
    }
    for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111'])
      assert.equal(isPrivateAddress(ip), false, ip);
  });

  test('save-time check refuses private hosts unless allowed', async () => {
    const check = async (u: string, allow = false) => {
      const url = checkUrlShape(u);
      assert.ok(url instanceof URL, u);
      return checkDestination(url, allow);
    };
    assert.match((await check('http://127.0.0.1:8080/x'))!.reason, /private/);
    assert.match((await check('http://[::1]/x'))!.reason, /private/);
    assert.match((await check('http://[::7f00:1]/x'))!.reason, /private/);
    assert.match((await check('http://[::ffff:7f00:1]/x'))!.reason, /private/);
    assert.match((await check('http://localhost/x'))!.reason, /localhost/);
    assert.match((await check('http://169.254.169.254/latest/meta-data'))!.reason, /private/);
    assert.equal(await check('http://127.0.0.1:8080/x', true), null);
    assert.equal(await check('https://8.8.8.8/hook'), null);
    assert.deepEqual(checkUrlShape('https://user:pw@example.com'), {
      reason: 'must not contain credentials; use endpoint headers instead',
    });
  });

  test('the API refuses a private endpoint URL with a 422 by default', async () => {
    const server = await startHookline({ env: { HOOKLINE_ALLOW_PRIVATE_NETWORKS: 'false' } });
    try {
      await server.call('POST', '/api/v1/app', { name: 'A', uid: 'a' });
      const r = await server.call('POST', '/api/v1/app/a/endpoint', { url: 'http://10.0.0.5/hook' });
      assert.equal(r.status, 422);
      assert.match(r.body.detail[0].msg, /HOOKLINE_ALLOW_PRIVATE_NETWORKS/);
    } finally {
      await server.close();
    }
  });
});

describe('sender', () => {
  let receiver: TestReceiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());

  test('connect-time guard refuses names and literals that point to private addresses', async () => {
    const guarded = createSender({ ...base, allowPrivateNetworks: false });
    try {
      const port = new URL(receiver.url).port;
      const byName = await guarded.send({ url: `http://localhost:${port}/x`, headers: {}, body: '{}' });
      assert.equal(byName.ok, false);
      assert.equal(
        !byName.ok && byName.error,
        'private_address',
        'a name resolving to loopback is refused (DNS rebinding)',
      );
      const literal = await guarded.send({ url: `http://127.0.0.1:${port}/x`, headers: {}, body: '{}' });
      assert.equal(!literal.ok && literal.error, 'private_address');
      const compatible = await guarded.send({ url: `http://[::7f00:1]:${port}/x`, headers: {}, body: '{}' });
      assert.equal(!compatible.ok && compatible.error, 'private_address', 'IPv4-compatible IPv6 literal');
      assert.equal(receiver.requests.length, 0, 'nothing reached the receiver');
    } finally {
      await guarded.close();
    }
  });

  test('a finished request leaves no timer behind', async () => {
    // The request's deadline is cleared when it ends. (With `AbortSignal.timeout` each request
    // left its timer for the whole timeout: at thousands of deliveries a second, tens of
    // thousands of them alive, moved to the old generation and collected later.)
    const Timeout = setTimeout(() => {}, 0).constructor;
    const timers = () => queryObjects(Timeout, { format: 'count' }) as number;
    const sender = createSender({ ...base, timeoutMs: 60_000, allowPrivateNetworks: true });
    try {
      const post = async () => {
        receiver.queue({ status: 204 });
        const r = await sender.send({ url: `${receiver.url}/t`, headers: {}, body: '{}' });
        assert.ok(r.ok && r.statusCode === 204);
      };
      await post();
      const before = timers();
      for (let i = 0; i < 100; i++) await post();
      const left = timers() - before;
      assert.ok(left < 10, `${left} timers left behind by 100 finished requests`);
    } finally {
      await sender.close();
    }
  });

  test('a finished exchange leaves nothing for the young generation to copy', async () => {
    // What survives a young-generation collection is copied, and promoted at the next: with
    // undici's `request()` each finished exchange left ~5 KB that the collector still reached
    // (0.6-2.4 MB after these 500; 30-70 KB with the sender's own handler).
    const young = youngGeneration();
    // A receiver that keeps nothing of what it gets (the shared one records every request).
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{"ok":true}'));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const sender = createSender({ ...base, maxResponseBytes: 4096, allowPrivateNetworks: true });
    const body = JSON.stringify({ data: 'x'.repeat(1000) });
    const post = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = await sender.send({ url, headers: {}, body });
        assert.ok(r.ok && r.statusCode === 200);
      }
    };
    try {
      await post(100);
      young.collect('major');
      await post(500);
      await new Promise((r) => setImmediate(r));
      young.collect('minor');
      const survived = young.used();
      assert.ok(survived < 256 * 1024, `${Math.round(survived / 1024)} KB survived a young collection`);
    } finally {
      await sender.close();
      server.close();
    }
  });

  test('a request still waiting for a connection at its deadline is never sent', async () => {
    // All 64 connections to the origin are held by requests answered after 1 s; one more with a
    // 200 ms timeout waits for a connection, times out, and must not go out when one frees up.
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? '');
      req.resume();
      setTimeout(() => res.end('{}'), req.url === '/block' ? 1000 : 0);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const sender = createSender({ ...base, timeoutMs: 5000, allowPrivateNetworks: true });
    try {
      const blockers = Array.from({ length: 64 }, () =>
        sender.send({ url: `${origin}/block`, headers: {}, body: '{}' }),
      );
      const started = performance.now();
      const late = await sender.send({ url: `${origin}/late`, headers: {}, body: '{}', timeoutMs: 200 });
      assert.equal(!late.ok && late.error, 'timeout');
      assert.ok(performance.now() - started < 900, 'it timed out while the connections were held');
      const done = await Promise.all(blockers);
      assert.ok(done.every((r) => r.ok && r.statusCode === 200));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(seen.filter((u) => u === '/block').length, 64);
      assert.ok(!seen.includes('/late'), 'the timed-out request went out once a connection was free');
    } finally {
      await sender.close();
      server.close();
    }
  });

  test('posts the body, truncates the response, does not follow redirects, classifies failures', async () => {
    const sender = createSender({ ...base, allowPrivateNetworks: true });
    try {
      receiver.queue({ status: 200, body: 'x'.repeat(100) });
      const ok = await sender.send({
        url: `${receiver.url}/a`,
        headers: { 'x-custom': '1' },
        body: '{"a":1}',
      });
      assert.ok(ok.ok);
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.body, 'x'.repeat(16), 'response body cut at maxResponseBytes');
      const got = receiver.requests.at(-1)!;
      assert.equal(got.body.toString(), '{"a":1}');
      assert.equal(got.headers['x-custom'], '1');
      assert.equal(got.headers['user-agent'], 'Hookline/test');

      receiver.queue({ status: 302, headers: { location: `${receiver.url}/elsewhere` } });
      const redirect = await sender.send({ url: `${receiver.url}/b`, headers: {}, body: '{}' });
      assert.ok(redirect.ok && redirect.statusCode === 302);
      assert.equal(receiver.requests.at(-1)!.url, '/b', 'the redirect was not followed');

      receiver.queue({ reset: true });
      const reset = await sender.send({ url: `${receiver.url}/c`, headers: {}, body: '{}' });
      assert.equal(!reset.ok && reset.error, 'connection_reset');

      const refused = await sender.send({ url: 'http://127.0.0.1:1/x', headers: {}, body: '{}' });
      assert.equal(!refused.ok && refused.error, 'connection_refused');

      receiver.queue({ hang: true });
      const timeout = await sender.send({ url: `${receiver.url}/d`, headers: {}, body: '{}' });
      assert.equal(!timeout.ok && timeout.error, 'timeout');
    } finally {
      await sender.close();
    }
  });
});
