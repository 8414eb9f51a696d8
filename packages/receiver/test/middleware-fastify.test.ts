import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createFastifyWebhookPlugin, type FastifyLikeRequest } from '../src/middleware/fastify.ts';
import { sign } from '../src/sign.ts';
import { post } from './helpers.ts';

const secret = 'shopify-app-secret';
const body = JSON.stringify({ id: 42, note: 'ünïcode' });

describe('fastify', () => {
  let app: FastifyInstance;
  let url: string;

  before(async () => {
    app = Fastify();
    app.register(async (scope) => {
      await scope.register(createFastifyWebhookPlugin({ scheme: 'shopify', secret }));
      scope.post('/webhooks/shopify', async (request) => {
        const { rawBody, webhook } = request as unknown as FastifyLikeRequest;
        return { webhook, raw: rawBody?.toString('utf8'), bodyIsBuffer: Buffer.isBuffer(request.body) };
      });
    });
    // Outside the webhook scope the normal JSON parser still applies.
    app.post('/api/json', async (request) => ({ parsed: request.body }));
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(() => app.close());

  test('verifies with the raw Buffer and sets request.webhook / request.rawBody', async () => {
    const { headers } = sign({ scheme: 'shopify', body, secret, id: 'evt-shopify-1' });
    const response = await post(`${url}/webhooks/shopify`, body, {
      ...headers,
      'content-type': 'application/json',
    });
    assert.equal(response.status, 200, response.text);
    const json = response.json as {
      webhook: { id: string; scheme: string };
      raw: string;
      bodyIsBuffer: boolean;
    };
    assert.equal(json.webhook.scheme, 'shopify');
    assert.equal(json.webhook.id, 'evt-shopify-1');
    assert.equal(json.raw, body);
    assert.equal(json.bodyIsBuffer, true);
  });

  test('any content type is kept raw (form bodies too)', async () => {
    const form = 'a=1&b=2';
    const { headers } = sign({ scheme: 'shopify', body: form, secret });
    const response = await post(`${url}/webhooks/shopify`, form, {
      ...headers,
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(response.status, 200, response.text);
  });

  test('tampered body -> 401 {code, detail}', async () => {
    const { headers } = sign({ scheme: 'shopify', body, secret });
    const response = await post(`${url}/webhooks/shopify`, body.replace('42', '43'), {
      ...headers,
      'content-type': 'application/json',
    });
    assert.equal(response.status, 401);
    assert.equal((response.json as { code: string }).code, 'no_matching_signature');
  });

  test('missing header -> 400', async () => {
    const response = await post(`${url}/webhooks/shopify`, body, { 'content-type': 'application/json' });
    assert.equal(response.status, 400);
    assert.equal((response.json as { code: string }).code, 'missing_header');
  });

  test('routes outside the scope keep the JSON parser', async () => {
    const response = await post(`${url}/api/json`, body, { 'content-type': 'application/json' });
    assert.deepEqual(response.json, { parsed: JSON.parse(body) });
  });
});
