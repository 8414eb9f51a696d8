import assert from 'node:assert/strict';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { createExpressWebhookMiddleware, type ExpressLikeRequest } from '../src/middleware/express.ts';
import { sign } from '../src/sign.ts';
import { listen, post } from './helpers.ts';

// express ships no types and @types/express is not installed: describe the few calls used here.
type Handler = (
  req: ExpressLikeRequest,
  res: ServerResponse & { json(body: unknown): void },
  next: (error?: unknown) => void,
) => void;
interface ExpressApp extends RequestListener {
  post(path: string, ...handlers: Handler[]): void;
  use(
    handler:
      | Handler
      | ((error: unknown, req: IncomingMessage, res: ServerResponse, next: () => void) => void),
  ): void;
}
interface ExpressModule {
  (): ExpressApp;
  json(): Handler;
  raw(options: { type: string }): Handler;
}
const express = createRequire(import.meta.url)('express') as ExpressModule;

const secret = 'whsec_express_test';
const body = JSON.stringify({ id: 'evt_express', type: 'charge.succeeded' });

describe('express', () => {
  let base: { url: string; close: () => Promise<void> };

  before(async () => {
    const app = express();
    const webhook = createExpressWebhookMiddleware({ scheme: 'stripe', secret }) as unknown as Handler;
    app.post('/stripe', webhook, (req, res) => {
      res.json({
        webhook: req.webhook,
        rawBody: req.rawBody?.toString('utf8'),
        bodyIsBuffer: Buffer.isBuffer(req.body),
      });
    });
    app.post('/after-raw', express.raw({ type: '*/*' }), webhook, (req, res) =>
      res.json({ id: req.webhook?.id }),
    );
    app.post('/after-json', express.json(), webhook, (_req, res) => res.json({ reached: true }));
    base = await listen(createServer(app) as Server);
  });
  after(() => base.close());

  const headers = () => ({
    ...sign({ scheme: 'stripe', body, secret }).headers,
    'content-type': 'application/json',
  });

  test('verifies and exposes req.rawBody and req.webhook', async () => {
    const response = await post(`${base.url}/stripe`, body, headers());
    assert.equal(response.status, 200, response.text);
    const json = response.json as {
      webhook: { scheme: string; id: string; matchedSecretIndex: number };
      rawBody: string;
      bodyIsBuffer: boolean;
    };
    assert.equal(json.webhook.scheme, 'stripe');
    assert.equal(json.webhook.id, 'evt_express');
    assert.equal(json.rawBody, body);
    assert.equal(json.bodyIsBuffer, true);
  });

  test('tampered body -> 401 {code, detail}', async () => {
    const response = await post(`${base.url}/stripe`, body.replace('succeeded', 'failed'), headers());
    assert.equal(response.status, 401);
    assert.equal((response.json as { code: string }).code, 'no_matching_signature');
  });

  test('stale timestamp -> 401 timestamp_out_of_tolerance', async () => {
    const stale = sign({
      scheme: 'stripe',
      body,
      secret,
      timestamp: Math.floor(Date.now() / 1000) - 600,
    }).headers;
    const response = await post(`${base.url}/stripe`, body, stale);
    assert.equal(response.status, 401);
    assert.equal((response.json as { code: string }).code, 'timestamp_out_of_tolerance');
  });

  test('missing header -> 400', async () => {
    const response = await post(`${base.url}/stripe`, body, { 'content-type': 'application/json' });
    assert.equal(response.status, 400);
    assert.deepEqual(Object.keys(response.json as object).sort(), ['code', 'detail']);
  });

  test('works after express.raw()', async () => {
    const response = await post(`${base.url}/after-raw`, body, headers());
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.json, { id: 'evt_express' });
  });

  test('after express.json() the parsed body is refused with invalid_body', async () => {
    const response = await post(`${base.url}/after-json`, body, headers());
    assert.equal(response.status, 400);
    const json = response.json as { code: string; detail: string };
    assert.equal(json.code, 'invalid_body');
    assert.match(json.detail, /raw bytes/);
  });
});
