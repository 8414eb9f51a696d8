/**
 * `import { startHookline } from 'hookline'` (src/index.ts) and development mode
 * (`serve --dev`, HOOKLINE_DEV): private endpoints allowed, and only on a loopback host.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { describe, test } from 'node:test';
import { verify } from '@hookline/receiver';
import { ConfigError, loadConfig, startHookline } from '../src/index.ts';

describe('development mode', () => {
  test('allows private networks, on loopback hosts only', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.0.0.2']) {
      const config = loadConfig({ HOOKLINE_DEV: 'true', HOOKLINE_HOST: host });
      assert.equal(config.dev, true);
      assert.equal(config.allowPrivateNetworks, true, host);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'hooks.example.com']) {
      assert.throws(
        () => loadConfig({ HOOKLINE_DEV: 'true', HOOKLINE_HOST: host }),
        (error) => error instanceof ConfigError && /only runs on a loopback address/.test(error.message),
        host,
      );
      assert.throws(
        () => loadConfig({ HOOKLINE_HOST: host }, { dev: true }),
        ConfigError,
        `${host} (override)`,
      );
    }
    const production = loadConfig({ HOOKLINE_HOST: '0.0.0.0' });
    assert.equal(production.dev, false);
    assert.equal(production.allowPrivateNetworks, false);
  });
});

describe('startHookline', () => {
  test('starts a Hookline in this process that delivers to a receiver on localhost, and cleans up', async () => {
    const received: { headers: IncomingHttpHeaders; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.end();
      });
    });
    await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
    const hookline = await startHookline();
    const dbFile = hookline.hookline.config.databaseUrl.slice('sqlite:'.length);
    try {
      assert.match(hookline.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(hookline.hookline.config.dev, true);
      const call = async (method: string, path: string, body: unknown) => {
        const res = await fetch(`${hookline.url}/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${hookline.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        const text = await res.text();
        assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
        return JSON.parse(text) as Record<string, string>;
      };
      const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
      const { port } = receiver.address() as AddressInfo;
      await call('PUT', '/app/acme', { name: 'Acme' });
      await call('PUT', '/app/acme/endpoint/local', { url: `http://localhost:${port}/hook`, secret });
      const message = await call('POST', '/app/acme/msg', { eventType: 'user.created', payload: { id: 7 } });
      const deadline = Date.now() + 20_000;
      while (received.length === 0) {
        assert.ok(Date.now() < deadline, 'delivered within 20 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      const [delivery] = received;
      const result = verify({
        scheme: 'standard-webhooks',
        body: delivery!.body,
        headers: delivery!.headers,
        secret,
      });
      assert.equal(result.id, message.id);
    } finally {
      await hookline.close();
      await new Promise((ok) => receiver.close(ok));
    }
    assert.equal(existsSync(dirname(dbFile)), false, 'the temporary directory is gone');
  });

  test('a bad setting fails the start with the configuration error', async () => {
    await assert.rejects(startHookline({ host: '0.0.0.0' }), ConfigError);
  });
});
