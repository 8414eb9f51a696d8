/**
 * Replays under a new id: GitHub's `X-GitHub-Delivery`, Shopify's `X-Shopify-Event-Id` and
 * Twilio's `I-Twilio-Idempotency-Token` are not signed, so a captured request resent with another
 * id still verifies. `idSigned` says whether the id can be trusted, `contentHash` identifies what
 * the signature covers, and the idempotency guard dedupes on both. Requests are signed with the
 * providers' own libraries where there is one.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import Stripe from 'stripe';
import twilio from 'twilio';
import { createIdempotencyGuard, createMemoryIdempotencyStore } from '../src/idempotency.ts';
import { discordPublicKeyFromSeed } from '../src/schemes/discord.ts';
import { createHmacScheme } from '../src/schemes/generic-hmac.ts';
import { buildSalesforceOutboundMessage } from '../src/schemes/salesforce.ts';
import { sign } from '../src/sign.ts';
import { verify } from '../src/verify.ts';

const guard = () => createIdempotencyGuard({ store: createMemoryIdempotencyStore(), windowMs: 60_000 });
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('ids a signature does not cover', () => {
  test('GitHub: a delivery resent under a new X-GitHub-Delivery has the same contentHash and is a duplicate', async () => {
    const secret = 'gh-replay-secret';
    const body = '{"action":"opened","number":7}';
    const headers = {
      'X-Hub-Signature-256': await octokitSign(secret, body),
      'X-GitHub-Delivery': 'a5c1b2e0-0001',
    };
    const first = verify({ scheme: 'github', body, headers, secret });
    const resent = verify({
      scheme: 'github',
      body,
      headers: { ...headers, 'X-GitHub-Delivery': 'a5c1b2e0-0002' },
      secret,
    });
    assert.equal(first.idSigned, false);
    assert.notEqual(first.id, resent.id, 'the resend verifies with its new id');
    assert.equal(first.contentHash, createHash('sha256').update(body).digest('hex'));
    assert.equal(resent.contentHash, first.contentHash);

    const g = guard();
    let calls = 0;
    assert.deepEqual(await g.run(first, () => ++calls), { duplicate: false, value: 1 });
    assert.deepEqual(await g.run(resent, () => ++calls), { duplicate: true });
    // GitHub's own redelivery (same id, same body) stays a duplicate too.
    assert.deepEqual(await g.run(first, () => ++calls), { duplicate: true });
    assert.equal(calls, 1);
    // A request found to be a duplicate leaves no claim behind on its own id.
    const other = verify({
      scheme: 'github',
      body: '{"action":"closed","number":7}',
      headers: {
        'X-Hub-Signature-256': await octokitSign(secret, '{"action":"closed","number":7}'),
        'X-GitHub-Delivery': 'a5c1b2e0-0002',
      },
      secret,
    });
    assert.equal(await g.claim(other), true, "a new event under the rejected resend's id is processed");
  });

  test('Shopify: X-Shopify-Event-Id is not signed', () => {
    const secret = 'shpss_replay';
    const body = '{"id":820982911946154500}';
    const { headers } = sign({ scheme: 'shopify', body, secret, id: 'evt-1' });
    const a = verify({ scheme: 'shopify', body, headers, secret });
    const b = verify({
      scheme: 'shopify',
      body,
      headers: { ...headers, 'X-Shopify-Event-Id': 'evt-2' },
      secret,
    });
    assert.equal(a.idSigned, false);
    assert.equal(b.contentHash, a.contentHash);
  });

  test('Twilio: reordered parameters, the default port and a new idempotency token keep one contentHash', async () => {
    const token = '12345';
    const params = { CallSid: 'CA1', From: '+12349013030', To: '+18005551212' };
    const url = 'https://mycompany.com/voice?x=1';
    const signature = twilio.getExpectedTwilioSignature(token, url, params);
    const headers = { 'X-Twilio-Signature': signature, 'I-Twilio-Idempotency-Token': 'tok-1' };
    const body = new URLSearchParams(params).toString();
    const first = verify({ scheme: 'twilio', body, headers, secret: token, url });
    assert.equal(first.id, 'tok-1');
    assert.equal(first.idSigned, false);
    const replayed = verify({
      scheme: 'twilio',
      body: body.split('&').reverse().join('&'),
      headers: { ...headers, 'I-Twilio-Idempotency-Token': 'tok-2' },
      secret: token,
      url: 'https://mycompany.com:443/voice?x=1',
    });
    assert.equal(replayed.contentHash, first.contentHash);
    const g = guard();
    assert.equal(await g.claim(first), true);
    assert.equal(await g.claim(replayed), false);

    // JSON: the signed URL holds the body's hash.
    const json = '{"sid":"SM1"}';
    const signedUrl = `https://mycompany.com/status?bodySHA256=${createHash('sha256').update(json).digest('hex')}`;
    const jsonSignature = twilio.getExpectedTwilioSignature(token, signedUrl, {});
    const a = verify({
      scheme: 'twilio',
      body: json,
      headers: { 'X-Twilio-Signature': jsonSignature },
      secret: token,
      url: signedUrl,
    });
    assert.notEqual(a.contentHash, first.contentHash);
    assert.equal(a.idSigned, false);
  });
});

describe('ids a signature covers', () => {
  test('Standard Webhooks: webhook-id is signed; a re-signed retry with the same id is a duplicate', async () => {
    const secret = `whsec_${Buffer.alloc(24, 3).toString('base64')}`;
    const body = '{"type":"user.created"}';
    const wh = new StandardWebhook(secret);
    const headersAt = (id: string, at: Date) => ({
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': wh.sign(id, at, body),
    });
    const now = new Date();
    const first = verify({ scheme: 'standard-webhooks', body, headers: headersAt('msg_1', now), secret });
    const retry = verify({
      scheme: 'standard-webhooks',
      body,
      headers: headersAt('msg_1', new Date(now.getTime() - 60_000)),
      secret,
    });
    assert.equal(first.idSigned, true);
    assert.notEqual(retry.contentHash, first.contentHash, 'the timestamp is signed content');
    const g = guard();
    assert.equal(await g.claim(first), true);
    assert.equal(await g.claim(retry), false, 'keyed on the signed id alone');
    const another = verify({ scheme: 'standard-webhooks', body, headers: headersAt('msg_2', now), secret });
    assert.equal(await g.claim(another), true, 'the same body under another signed id is another event');
  });

  test('Stripe: the id is in the signed body', () => {
    const secret = 'whsec_stripe_replay';
    const body = JSON.stringify({ id: 'evt_1', type: 'invoice.paid' });
    const header = new Stripe('sk_test_x').webhooks.generateTestHeaderString({ payload: body, secret });
    const result = verify({ scheme: 'stripe', body, headers: { 'Stripe-Signature': header }, secret });
    assert.equal(result.id, 'evt_1');
    assert.equal(result.idSigned, true);
  });

  test('generic HMAC: the id is signed only when the template has {id}', () => {
    const body = '{"a":1}';
    for (const [template, signed] of [
      ['{id}.{body}', true],
      ['{body}', false],
    ] as const) {
      const scheme = createHmacScheme({ header: 'X-Sig', idHeader: 'X-Id', template });
      const { headers } = sign({ scheme, body, secret: 's', id: 'd-1' });
      const result = verify({ scheme, body, headers, secret: 's' });
      assert.equal(result.id, 'd-1');
      assert.equal(result.idSigned, signed, template);
    }
  });

  test('Discord: interactions keep their id; webhook events get the hash of their body', () => {
    const privateKey = createHash('sha256').update('discord replay seed').digest('hex');
    const publicKey = discordPublicKeyFromSeed(privateKey);
    const interaction = JSON.stringify({
      id: '1190011122233344456',
      type: 2,
      version: 1,
      application_id: '1',
    });
    const webhookEvent = JSON.stringify({
      version: 1,
      application_id: '1234560123453231555',
      type: 1,
      event: { type: 'APPLICATION_AUTHORIZED', timestamp: '2024-10-18T14:42:53.064834', data: {} },
    });
    const at = (body: string, timestamp: number) =>
      verify({
        scheme: 'discord',
        body,
        headers: sign({ scheme: 'discord', body, secret: privateKey, timestamp }).headers,
        secret: publicKey,
      });
    assert.equal(at(interaction, nowSeconds()).id, '1190011122233344456');
    const event = at(webhookEvent, nowSeconds());
    assert.equal(event.id, `sha256:${createHash('sha256').update(webhookEvent).digest('hex')}`);
    assert.equal(event.idSigned, true);
    const resent = at(webhookEvent, nowSeconds() - 30);
    assert.equal(resent.id, event.id, "Discord's resend (a new signed timestamp) keeps the id");
    assert.notEqual(resent.contentHash, event.contentHash);
  });

  test('Salesforce signs nothing: no contentHash', () => {
    const org = '00D5e000001AbCdEAA';
    const body = buildSalesforceOutboundMessage({
      organizationId: org,
      actionId: '04k5e000000KyyGAAS',
      sessionId: null,
      notifications: [{ id: '04l5e00000A1aaaAAA', sObject: { type: 'Account', id: '001', fields: {} } }],
    });
    const result = verify({ scheme: 'salesforce', body, headers: {}, secret: org });
    assert.equal(result.contentHash, undefined);
  });
});
