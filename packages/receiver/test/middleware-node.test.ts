import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import twilio from 'twilio';
import { createNodeWebhookHandler, verifyNodeRequest } from '../src/middleware/node.ts';
import { sign } from '../src/sign.ts';
import { listen, post } from './helpers.ts';

const secret = 'gh-node-secret';
const body = JSON.stringify({ action: 'opened', emoji: 'é✓' });

describe('node:http', () => {
  let base: { url: string; close: () => Promise<void> };
  const errors: unknown[] = [];

  before(async () => {
    const handler = createNodeWebhookHandler(
      { scheme: 'github', secret, limit: 1024, onError: (error) => errors.push(error) },
      (_req, res, { body: raw, webhook }) => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({ id: webhook.id, bytes: raw.length, parsed: JSON.parse(raw.toString('utf8')) }),
        );
      },
    );
    const twilioHandler = createNodeWebhookHandler({ scheme: 'twilio', secret: 'tok' }, (_req, res) =>
      res.end('ok'),
    );
    // Behind a proxy: the public URL is configured, the path here differs.
    const twilioBehindProxy = createNodeWebhookHandler(
      { scheme: 'twilio', secret: 'tok', url: 'https://hooks.example.com/public/twilio#rc=3' },
      (_req, res) => res.end('ok'),
    );
    const misconfigured = createNodeWebhookHandler(
      { scheme: 'standard-webhooks', secret: 'whsec_not base64', onError: (e) => errors.push(e) },
      (_req, res) => res.end('ok'),
    );
    const direct = async (req: Parameters<typeof handler>[0], res: Parameters<typeof handler>[1]) => {
      try {
        const verified = await verifyNodeRequest(req, { scheme: 'github', secret });
        res.end(verified.body);
      } catch (error) {
        res.statusCode = 418;
        res.end((error as { code?: string }).code);
      }
    };
    base = await listen(
      createServer((req, res) => {
        if (req.url?.startsWith('/twilio')) void twilioHandler(req, res);
        else if (req.url?.startsWith('/proxied-twilio')) void twilioBehindProxy(req, res);
        else if (req.url === '/misconfigured') void misconfigured(req, res);
        else if (req.url === '/direct') void direct(req, res);
        else void handler(req, res);
      }),
    );
  });
  after(() => base.close());

  test('a signed request reaches the handler with the exact bytes', async () => {
    const { headers } = sign({ scheme: 'github', body, secret, id: 'delivery-7' });
    const response = await post(`${base.url}/hook`, body, headers);
    assert.equal(response.status, 200);
    assert.deepEqual(response.json, {
      id: 'delivery-7',
      bytes: Buffer.byteLength(body),
      parsed: JSON.parse(body),
    });
  });

  test('tampered body -> 401 {code, detail}', async () => {
    const { headers } = sign({ scheme: 'github', body, secret });
    const response = await post(`${base.url}/hook`, body.replace('opened', 'closed'), headers);
    assert.equal(response.status, 401);
    const json = response.json as { code: string; detail: string };
    assert.equal(json.code, 'no_matching_signature');
    assert.match(json.detail, /re-serialized/);
  });

  test('missing header -> 400', async () => {
    const response = await post(`${base.url}/hook`, body, {});
    assert.equal(response.status, 400);
    assert.equal((response.json as { code: string }).code, 'missing_header');
  });

  test('body over the limit -> 413', async () => {
    const big = 'x'.repeat(2048);
    const { headers } = sign({ scheme: 'github', body: big, secret });
    const response = await post(`${base.url}/hook`, big, headers);
    assert.equal(response.status, 413);
    assert.equal((response.json as { code: string }).code, 'body_too_large');
  });

  test('Twilio URL defaults to http://host + path', async () => {
    const form = 'Body=hello&From=%2B1555';
    const { headers } = sign({ scheme: 'twilio', body: form, secret: 'tok', url: `${base.url}/twilio?x=1` });
    const response = await post(`${base.url}/twilio?x=1`, form, {
      ...headers,
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(response.status, 200);
    assert.equal(response.text, 'ok');
  });

  test("Twilio JSON with a configured url: the request's query string (bodySHA256) is what Twilio signed", async () => {
    // What Twilio does for a JSON body, with twilio's own helpers: it appends the body's hex
    // SHA-256 to the URL it calls and signs that URL (the #rc=3 connection override is neither
    // sent nor signed).
    const json = '{"EventType":"onMessageAdded","ConversationSid":"CH1"}';
    const hash = createHash('sha256').update(json).digest('hex');
    const called = `https://hooks.example.com/public/twilio?bodySHA256=${hash}`;
    const signature = twilio.getExpectedTwilioSignature('tok', called, {});
    assert.equal(twilio.validateRequestWithBody('tok', signature, called, json), true);
    const headers = { 'X-Twilio-Signature': signature, 'content-type': 'application/json' };

    const response = await post(`${base.url}/proxied-twilio?bodySHA256=${hash}`, json, headers);
    assert.equal(response.status, 200, response.text);
    assert.equal(response.text, 'ok');

    const tampered = await post(`${base.url}/proxied-twilio?bodySHA256=${hash}`, `${json} `, headers);
    assert.equal(tampered.status, 401);
    assert.match((tampered.json as { detail: string }).detail, /bodySHA256/);
    const otherQuery = await post(`${base.url}/proxied-twilio?bodySHA256=${hash}&x=1`, json, headers);
    assert.equal(otherQuery.status, 401, 'the query string is signed');
  });

  test('our misconfiguration -> 500 without details, reported to onError', async () => {
    errors.length = 0;
    const response = await post(`${base.url}/misconfigured`, body, {
      'webhook-id': 'm',
      'webhook-timestamp': '1',
      'webhook-signature': 'v1,AAAA',
    });
    assert.equal(response.status, 500);
    assert.deepEqual(response.json, {
      code: 'invalid_secret',
      detail: 'the webhook receiver is misconfigured; see the server logs',
    });
    assert.equal(errors.length, 1);
  });

  test('verifyNodeRequest returns the raw body and throws coded errors', async () => {
    const { headers } = sign({ scheme: 'github', body, secret });
    assert.equal((await post(`${base.url}/direct`, body, headers)).text, body);
    const bad = await post(`${base.url}/direct`, body, {});
    assert.equal(bad.status, 418);
    assert.equal(bad.text, 'missing_header');
  });
});
