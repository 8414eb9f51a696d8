/**
 * Cross-checks against the providers' own libraries, both directions: they sign and we
 * verify, we sign and they verify.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { sign as octokitSign, verify as octokitVerify, verifyWithFallback } from '@octokit/webhooks-methods';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { Webhook as SvixWebhook } from 'svix';
import twilio from 'twilio';
import { type WebhookErrorCode, WebhookVerificationError } from '../src/errors.ts';
import { sign } from '../src/sign.ts';
import { generateStandardWebhooksSecret } from '../src/standard-webhooks.ts';
import { verify } from '../src/verify.ts';

const nowSeconds = () => Math.floor(Date.now() / 1000);

function assertCode(run: () => unknown, code: WebhookErrorCode): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(
      error instanceof WebhookVerificationError,
      `expected WebhookVerificationError, got ${String(error)}`,
    );
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('stripe (stripe@23)', () => {
  const stripe = new Stripe('sk_test_dummy');
  const secret = 'whsec_test_secret';
  const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'invoice.paid' });

  test('generateTestHeaderString -> verify', () => {
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret });
    const result = verify({
      scheme: 'stripe',
      body: payload,
      headers: { 'Stripe-Signature': header },
      secret,
    });
    assert.equal(result.id, 'evt_1');
    assert.equal(result.matchedSecretIndex, 0);
  });

  test('their signature: tampered body, wrong secret, stale, missing header', () => {
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret });
    const headers = { 'stripe-signature': header };
    assertCode(
      () => verify({ scheme: 'stripe', body: `${payload} `, headers, secret }),
      'no_matching_signature',
    );
    assertCode(
      () => verify({ scheme: 'stripe', body: payload, headers, secret: 'whsec_other' }),
      'no_matching_signature',
    );
    const stale = stripe.webhooks.generateTestHeaderString({
      payload,
      secret,
      timestamp: nowSeconds() - 301,
    });
    assertCode(
      () => verify({ scheme: 'stripe', body: payload, headers: { 'stripe-signature': stale }, secret }),
      'timestamp_out_of_tolerance',
    );
    assertCode(() => verify({ scheme: 'stripe', body: payload, headers: {}, secret }), 'missing_header');
  });

  test('sign -> constructEvent (also with receivedAt and rotation)', () => {
    const { headers } = sign({ scheme: 'stripe', body: payload, secret });
    const event = stripe.webhooks.constructEvent(payload, headers['Stripe-Signature'] ?? '', secret);
    assert.equal(event.type, 'invoice.paid');
    const rotated = sign({ scheme: 'stripe', body: payload, secret: ['whsec_new', secret] });
    assert.equal(
      stripe.webhooks.constructEvent(payload, rotated.headers['Stripe-Signature'] ?? '', secret).id,
      'evt_1',
    );
  });

  test('sign -> constructEvent rejects our stale and tampered signatures', () => {
    const stale = sign({ scheme: 'stripe', body: payload, secret, timestamp: nowSeconds() - 301 });
    assert.throws(
      () => stripe.webhooks.constructEvent(payload, stale.headers['Stripe-Signature'] ?? '', secret),
      /tolerance/,
    );
    const fresh = sign({ scheme: 'stripe', body: payload, secret });
    assert.throws(() =>
      stripe.webhooks.constructEvent(`${payload} `, fresh.headers['Stripe-Signature'] ?? '', secret),
    );
  });
});

describe('github (@octokit/webhooks-methods@6)', () => {
  const secret = "It's a Secret to Everybody";
  const payload = JSON.stringify({ action: 'opened', number: 1 });

  test('sign -> verify, with rotation', async () => {
    const signature = await octokitSign(secret, payload);
    const headers = { 'x-hub-signature-256': signature, 'x-github-delivery': 'd-1' };
    const result = verify({ scheme: 'github', body: payload, headers, secrets: ['newer secret', secret] });
    assert.equal(result.matchedSecretIndex, 1);
    assert.equal(result.id, 'd-1');
  });

  test('their signature: tampered body, wrong secret, missing header', async () => {
    const headers = { 'X-Hub-Signature-256': await octokitSign(secret, payload) };
    assertCode(
      () => verify({ scheme: 'github', body: payload.replace('1', '2'), headers, secret }),
      'no_matching_signature',
    );
    assertCode(
      () => verify({ scheme: 'github', body: payload, headers, secret: 'nope' }),
      'no_matching_signature',
    );
    assertCode(() => verify({ scheme: 'github', body: payload, headers: {}, secret }), 'missing_header');
  });

  test('sign -> verify / verifyWithFallback', async () => {
    const { headers } = sign({ scheme: 'github', body: payload, secret });
    const signature = headers['X-Hub-Signature-256'] ?? '';
    assert.equal(await octokitVerify(secret, payload, signature), true);
    assert.equal(await octokitVerify('other', payload, signature), false);
    assert.equal(await verifyWithFallback('other', payload, signature, [secret]), true);
  });
});

describe('standard webhooks (standardwebhooks@1.1.1)', () => {
  const secret = generateStandardWebhooksSecret(24);
  const body = '{"type":"user.created"}';

  test('Webhook.sign -> verify', () => {
    const wh = new StandardWebhook(secret);
    const id = 'msg_interop';
    const ts = new Date();
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
      'webhook-signature': wh.sign(id, ts, body),
    };
    assert.equal(verify({ scheme: 'standard-webhooks', body, headers, secret }).id, id);
    assertCode(
      () => verify({ scheme: 'standard-webhooks', body: `${body} `, headers, secret }),
      'no_matching_signature',
    );
    const stale = new Date(ts.getTime() - 301_000);
    const staleHeaders = {
      ...headers,
      'webhook-timestamp': String(Math.floor(stale.getTime() / 1000)),
      'webhook-signature': wh.sign(id, stale, body),
    };
    assertCode(
      () => verify({ scheme: 'standard-webhooks', body, headers: staleHeaders, secret }),
      'timestamp_out_of_tolerance',
    );
  });

  test('sign -> Webhook.verify, including a multi-signature header and the prefix-less secret', () => {
    const { headers } = sign({
      scheme: 'standard-webhooks',
      body,
      secret: [generateStandardWebhooksSecret(), secret],
    });
    assert.equal(headers['webhook-signature']?.split(' ').length, 2);
    assert.deepEqual(new StandardWebhook(secret).verify(body, headers), { type: 'user.created' });
    assert.deepEqual(new StandardWebhook(secret.slice('whsec_'.length)).verify(body, headers), {
      type: 'user.created',
    });
    assert.throws(
      () => new StandardWebhook(generateStandardWebhooksSecret()).verify(body, headers),
      /No matching signature/,
    );
  });

  test('sign with a stale timestamp -> Webhook.verify rejects it', () => {
    const { headers } = sign({ scheme: 'standard-webhooks', body, secret, timestamp: nowSeconds() - 301 });
    assert.throws(() => new StandardWebhook(secret).verify(body, headers), /too old/);
  });
});

describe('svix (svix@2)', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const body = '{"type":"user.created","data":{"id":"user_1"}}';

  test('Webhook.sign -> verify under svix-* and webhook-* names', () => {
    const wh = new SvixWebhook(secret);
    const id = `msg_${Date.now()}`;
    const ts = new Date();
    const signature = wh.sign(id, ts, body);
    const timestamp = String(Math.floor(ts.getTime() / 1000));
    const svixHeaders = { 'svix-id': id, 'svix-timestamp': timestamp, 'svix-signature': signature };
    assert.equal(verify({ scheme: 'svix', body, headers: svixHeaders, secret }).id, id);
    const branded = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
    assert.equal(verify({ scheme: 'svix', body, headers: branded, secret }).id, id);
    assertCode(
      () => verify({ scheme: 'svix', body, headers: { ...svixHeaders, 'svix-id': 'msg_other' }, secret }),
      'no_matching_signature',
    );
    assertCode(
      () => verify({ scheme: 'svix', body, headers: { 'svix-id': id, 'svix-timestamp': timestamp }, secret }),
      'missing_header',
    );
  });

  test('sign -> Webhook.verify (returns undefined in v2, throws on failure)', () => {
    const { headers } = sign({ scheme: 'svix', body, secret });
    assert.ok(headers['svix-signature']);
    assert.equal(new SvixWebhook(secret).verify(body, headers), undefined);
    assert.throws(() => new SvixWebhook(secret).verify(body.replace('user_1', 'user_2'), headers));
  });
});

describe('twilio (twilio@6)', () => {
  const token = '12345';
  const params = {
    CallSid: 'CA1234567890ABCDE',
    Caller: '+12349013030',
    Digits: '1234',
    From: '+12349013030',
    To: '+18005551212',
  };
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';

  test('getExpectedTwilioSignature -> verify (form params)', () => {
    const signature = twilio.getExpectedTwilioSignature(token, url, params);
    assert.equal(signature, '0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
    const body = new URLSearchParams(params).toString();
    const headers = { 'X-Twilio-Signature': signature };
    assert.equal(verify({ scheme: 'twilio', body, headers, secret: token, url }).matchedSecretIndex, 0);
    assertCode(
      () => verify({ scheme: 'twilio', body: body.replace('1234&', '4321&'), headers, secret: token, url }),
      'no_matching_signature',
    );
    assertCode(
      () => verify({ scheme: 'twilio', body, headers, secret: 'abcdef', url }),
      'no_matching_signature',
    );
    assertCode(() => verify({ scheme: 'twilio', body, headers: {}, secret: token, url }), 'missing_header');
  });

  test('getExpectedTwilioSignature with repeated params -> verify', () => {
    const repeated = { To: '+18005551212', Media: ['b', 'a'] };
    const signature = twilio.getExpectedTwilioSignature(token, url, repeated);
    const body = 'To=%2B18005551212&Media=b&Media=a';
    assert.equal(
      verify({ scheme: 'twilio', body, headers: { 'x-twilio-signature': signature }, secret: token, url })
        .scheme,
      'twilio',
    );
  });

  test('JSON body with bodySHA256: their signature -> verify', () => {
    const body = '{"event":"sent"}';
    const hash = createHash('sha256').update(body).digest('hex');
    const signedUrl = `https://example.com/hook?bodySHA256=${hash}`;
    const signature = twilio.getExpectedTwilioSignature(token, signedUrl, {});
    const headers = { 'X-Twilio-Signature': signature };
    assert.equal(verify({ scheme: 'twilio', body, headers, secret: token, url: signedUrl }).scheme, 'twilio');
    assertCode(
      () => verify({ scheme: 'twilio', body: '{"event":"lost"}', headers, secret: token, url: signedUrl }),
      'no_matching_signature',
    );
  });

  test('sign -> validateRequest and validateRequestWithBody', () => {
    const form = sign({ scheme: 'twilio', body: new URLSearchParams(params).toString(), secret: token, url });
    assert.equal(form.headers['X-Twilio-Signature'], '0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
    assert.equal(twilio.validateRequest(token, form.headers['X-Twilio-Signature'] ?? '', url, params), true);
    assert.equal(
      twilio.validateRequest('other', form.headers['X-Twilio-Signature'] ?? '', url, params),
      false,
    );

    const body = '{"event":"sent","sid":"SM1"}';
    const json = sign({
      scheme: 'twilio',
      body,
      secret: token,
      url: 'https://example.com/hook?x=1',
      contentType: 'application/json',
    });
    assert.match(json.url ?? '', /[?&]bodySHA256=[0-9a-f]{64}$/);
    const signature = json.headers['X-Twilio-Signature'] ?? '';
    assert.equal(twilio.validateRequestWithBody(token, signature, json.url ?? '', body), true);
    assert.equal(twilio.validateRequestWithBody(token, signature, json.url ?? '', `${body} `), false);
  });
});
