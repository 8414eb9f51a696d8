/**
 * What an app-scoped token (the app portal) may see and do beyond route scoping: the portal link
 * it is handed, and event types behind feature flags, which a token without the flag must not
 * be able to find, subscribe to or read messages of — through any route.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startHookline, type TestServer } from './helpers.ts';

/** A POST with a Host header of the caller's choosing (fetch does not let one set it). */
function postWithHost(url: string, host: string, token: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { host, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
        );
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

describe('the app portal link', () => {
  let withPublicUrl: TestServer;
  let without: TestServer;
  before(async () => {
    withPublicUrl = await startHookline({ env: { HOOKLINE_PUBLIC_URL: 'https://hooks.example.com/' } });
    without = await startHookline();
    for (const s of [withPublicUrl, without])
      await s.call('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' });
  });
  after(async () => {
    await withPublicUrl?.close();
    await without?.close();
  });

  test('uses HOOKLINE_PUBLIC_URL, whatever Host the request carries', async () => {
    const r = await postWithHost(
      `${withPublicUrl.url}/api/v1/auth/app-portal-access/acme`,
      'attacker.example',
      withPublicUrl.token,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.url, /^https:\/\/hooks\.example\.com\/apps\/app_[0-9A-Za-z]+#key=hl_app_/);
  });

  test('without a public URL, the server as the client reached it', async () => {
    const r = await postWithHost(
      `${without.url}/api/v1/auth/app-portal-access/acme`,
      'portal.test:8080',
      without.token,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.url, /^http:\/\/portal\.test:8080\/apps\/app_/);
  });
});
