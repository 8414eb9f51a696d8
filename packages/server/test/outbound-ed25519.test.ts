/**
 * Outbound Ed25519 (Standard Webhooks `v1a`): endpoints that sign with a `whsk_` key, the public
 * key from the API, rotation between key kinds, and forwarding from a source signed the same way.
 * Every delivery is checked with `@hookline/receiver`, as a receiving application would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ed25519PublicKeyFor, generateEd25519KeyPair, verify } from '@hookline/receiver';
import {
  headersOf,
  type ReceivedRequest,
  startHookline,
  startReceiver,
  type TestReceiver,
  type TestServer,
} from './helpers.ts';

describe('outbound Ed25519 signatures (v1a)', () => {
  let server: TestServer;
  let recv: TestReceiver;
  let appId: string;
  const drain = () => server.hookline.dispatcher!.drain();

  before(async () => {
    server = await startHookline();
    recv = await startReceiver();
    appId = (await server.call('POST', '/api/v1/app', { name: 'ed' })).body.id;
  });
  after(async () => {
    await server?.close();
    await recv?.close();
  });

  const check = (r: ReceivedRequest, secret: string) =>
    verify({ scheme: 'standard-webhooks', body: r.body, headers: headersOf(r), secret });
  const signatures = (r: ReceivedRequest) => String(r.headers['webhook-signature']).split(' ');

  async function send(epFilter: string): Promise<ReceivedRequest> {
    const before = recv.requests.length;
    const msg = await server.call('POST', `/api/v1/app/${appId}/msg`, {
      eventType: epFilter,
      payload: { n: before },
    });
    assert.equal(msg.status, 202);
    await recv.waitFor(before + 1);
    await drain();
    const r = recv.requests[before]!;
    assert.equal(r.headers['webhook-id'], msg.body.id);
    return r;
  }

  test('an endpoint created with secretType ed25519 signs v1a; its whpk_ public key verifies', async () => {
    const ep = await server.call('POST', `/api/v1/app/${appId}/endpoint`, {
      url: `${recv.url}/a`,
      secretType: 'ed25519',
      filterTypes: null,
      channels: ['a'],
    });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    const secret = (await server.call('GET', `/api/v1/app/${appId}/endpoint/${ep.body.id}/secret`)).body.key;
    assert.match(secret, /^whsk_[A-Za-z0-9+/]{43}=$/);
    const pub = await server.call('GET', `/api/v1/app/${appId}/endpoint/${ep.body.id}/public-key`);
    assert.equal(pub.status, 200);
    assert.equal(pub.body.key, ed25519PublicKeyFor(secret));
    assert.deepEqual(pub.body.activeKeys, [pub.body.key]);

    const before = recv.requests.length;
    await server.call('POST', `/api/v1/app/${appId}/msg`, {
      eventType: 'x.y',
      payload: { a: 1 },
      channels: ['a'],
    });
    await recv.waitFor(before + 1);
    await drain();
    const r = recv.requests[before]!;
    assert.equal(signatures(r).length, 1);
    assert.match(signatures(r)[0]!, /^v1a,[A-Za-z0-9+/]{86}==$/);
    assert.equal(check(r, pub.body.key).matchedSecretIndex, 0);
    assert.throws(() => check(r, generateEd25519KeyPair().publicKey), { code: 'no_matching_signature' });
    const tampered = { ...r, body: Buffer.from(r.body.toString().replace('1', '2')) };
    assert.throws(() => check(tampered, pub.body.key), { code: 'no_matching_signature' });
    await server.call('DELETE', `/api/v1/app/${appId}/endpoint/${ep.body.id}`);
  });

  test('HMAC endpoints have no public key; rotating to Ed25519 sends v1 and v1a during the grace period', async () => {
    const ep = await server.call('POST', `/api/v1/app/${appId}/endpoint`, { url: `${recv.url}/b` });
    const oldSecret = (await server.call('GET', `/api/v1/app/${appId}/endpoint/${ep.body.id}/secret`)).body
      .key;
    assert.match(oldSecret, /^whsec_/);
    const none = await server.call('GET', `/api/v1/app/${appId}/endpoint/${ep.body.id}/public-key`);
    assert.equal(none.status, 409);
    assert.equal(none.body.code, 'no_public_key');

    const rotated = await server.call('POST', `/api/v1/app/${appId}/endpoint/${ep.body.id}/secret/rotate`, {
      secretType: 'ed25519',
    });
    assert.equal(rotated.status, 204);
    const pub = (await server.call('GET', `/api/v1/app/${appId}/endpoint/${ep.body.id}/public-key`)).body;
    const r = await send('after.rotation');
    const sigs = signatures(r);
    assert.deepEqual(
      sigs.map((s) => s.split(',')[0]).sort(),
      ['v1', 'v1a'],
      'one signature per active secret',
    );
    check(r, oldSecret); // receivers that still have the old HMAC secret keep working
    check(r, pub.key); // and those that switched to the public key already work

    // A supplied whsk_ key (say, from another Hookline) replaces it; grace 0 drops the others.
    const pair = generateEd25519KeyPair();
    await server.call('POST', `/api/v1/app/${appId}/endpoint/${ep.body.id}/secret/rotate`, {
      key: pair.secretKey,
      gracePeriodSeconds: 0,
    });
    const r2 = await send('after.second.rotation');
    assert.equal(signatures(r2).length, 1);
    check(r2, pair.publicKey);
    assert.throws(() => check(r2, oldSecret));
    await server.call('DELETE', `/api/v1/app/${appId}/endpoint/${ep.body.id}`);
  });

  test('a source can forward with an Ed25519 key too', async () => {
    const pair = generateEd25519KeyPair();
    const src = await server.call('POST', '/api/v1/source', {
      name: 'ed-src',
      verification: { scheme: 'none' },
      forwardSecret: pair.secretKey,
      destinations: [{ url: `${recv.url}/fwd` }],
    });
    assert.equal(src.status, 201, JSON.stringify(src.body));
    assert.equal(src.body.forwardSecretType, 'ed25519');
    const before = recv.requests.length;
    const res = await fetch(`${server.url}/in/ed-src`, { method: 'POST', body: 'plain text event' });
    assert.equal(res.status, 200);
    await recv.waitFor(before + 1);
    await drain();
    const r = recv.requests[before]!;
    assert.equal(r.body.toString(), 'plain text event');
    check(r, pair.publicKey);
  });

  test("rotating a source's forwarding secret to Ed25519 signs forwards with both during the grace period", async () => {
    const src = await server.call('POST', '/api/v1/source', {
      name: 'rotating-src',
      verification: { scheme: 'none' },
      destinations: [{ url: `${recv.url}/rot` }],
    });
    assert.equal(src.status, 201);
    const old = (await server.call('GET', '/api/v1/source/rotating-src/secret')).body;
    assert.match(old.key, /^whsec_/);
    assert.equal(old.publicKey, null);
    const rot = await server.call('POST', '/api/v1/source/rotating-src/secret/rotate', {
      secretType: 'ed25519',
    });
    assert.equal(rot.status, 204);
    const current = (await server.call('GET', '/api/v1/source/rotating-src/secret')).body;
    assert.match(current.key, /^whsk_/);
    assert.equal(current.publicKey, ed25519PublicKeyFor(current.key));
    const before = recv.requests.length;
    assert.equal((await fetch(`${server.url}/in/rotating-src`, { method: 'POST', body: 'e1' })).status, 200);
    await recv.waitFor(before + 1);
    await drain();
    const r = recv.requests[before]!;
    assert.deepEqual(
      signatures(r)
        .map((x) => x.split(',')[0])
        .sort(),
      ['v1', 'v1a'],
    );
    check(r, old.key);
    check(r, current.publicKey);
  });

  test('malformed keys are refused', async () => {
    const bad = await server.call('POST', `/api/v1/app/${appId}/endpoint`, {
      url: recv.url,
      secret: 'whsk_short',
    });
    assert.equal(bad.status, 422);
    const badType = await server.call('POST', `/api/v1/app/${appId}/endpoint`, {
      url: recv.url,
      secretType: 'rsa',
    });
    assert.equal(badType.status, 422);
  });
});
