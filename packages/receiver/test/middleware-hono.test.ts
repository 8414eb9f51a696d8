import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Hono } from 'hono';
import { createHonoWebhookMiddleware, type HonoWebhookVariables } from '../src/middleware/hono.ts';
import { sign } from '../src/sign.ts';

const secret = 'slack-signing-secret';
const body = JSON.stringify({ type: 'event_callback', event_id: 'Ev123', event: { type: 'app_mention' } });

function createApp() {
  const app = new Hono<{ Variables: HonoWebhookVariables }>();
  app.post('/slack', createHonoWebhookMiddleware({ scheme: 'slack', secret, limit: 4096 }), async (c) => {
    const parsed = await c.req.json();
    return c.json({ webhook: c.get('webhook'), rawLength: c.get('rawBody').length, type: parsed.type });
  });
  return app;
}

describe('hono', () => {
  const app = createApp();

  test('verifies; c.get("webhook") and c.req.json() both work afterwards', async () => {
    const { headers } = sign({ scheme: 'slack', body, secret });
    const response = await app.request('/slack', {
      method: 'POST',
      body,
      headers: { ...headers, 'content-type': 'application/json' },
    });
    assert.equal(response.status, 200);
    const json = (await response.json()) as {
      webhook: { id: string; scheme: string };
      rawLength: number;
      type: string;
    };
    assert.equal(json.webhook.scheme, 'slack');
    assert.equal(json.webhook.id, 'Ev123');
    assert.equal(json.rawLength, Buffer.byteLength(body));
    assert.equal(json.type, 'event_callback');
  });

  test('stale timestamp -> 401 timestamp_out_of_tolerance', async () => {
    const { headers } = sign({
      scheme: 'slack',
      body,
      secret,
      timestamp: Math.floor(Date.now() / 1000) - 301,
    });
    const response = await app.request('/slack', { method: 'POST', body, headers });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { code: string }).code, 'timestamp_out_of_tolerance');
  });

  test('wrong secret -> 401 no_matching_signature', async () => {
    const { headers } = sign({ scheme: 'slack', body, secret: 'another-secret' });
    const response = await app.request('/slack', { method: 'POST', body, headers });
    assert.equal(response.status, 401);
    const json = (await response.json()) as { code: string; detail: string };
    assert.equal(json.code, 'no_matching_signature');
    assert.match(json.detail, /wrong secret/);
  });

  test('missing header -> 400', async () => {
    const response = await app.request('/slack', { method: 'POST', body });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, 'missing_header');
  });

  test('body over the limit -> 413', async () => {
    const big = 'x'.repeat(5000);
    const { headers } = sign({ scheme: 'slack', body: big, secret });
    const response = await app.request('/slack', { method: 'POST', body: big, headers });
    assert.equal(response.status, 413);
  });
});
