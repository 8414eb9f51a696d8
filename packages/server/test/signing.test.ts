/**
 * Hookline's signer against the Standard Webhooks published vector and the `standardwebhooks`
 * (and `svix`) verifiers, and the request `prepareRequest` builds for one attempt.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { generateSecret, signatureHeader, signV1 } from '../src/core/signing.ts';
import type { EndpointSecret } from '../src/core/types.ts';
import { prepareRequest } from '../src/delivery/dispatcher.ts';
import { isForbiddenCustomHeader } from '../src/delivery/headers.ts';
import type { ClaimedDelivery } from '../src/store/store.ts';

// The vector shared by the Standard Webhooks JS, Go, Java, Python, PHP, Ruby and C# libraries.
const VECTOR = {
  key: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  ts: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('signV1 and signatureHeader', () => {
  test('match the Standard Webhooks published vector', () => {
    assert.equal(signV1(VECTOR.key, VECTOR.id, VECTOR.ts, VECTOR.body), VECTOR.signature);
    // The reference library agrees on the vector, so the comparison above is meaningful.
    assert.equal(
      new Webhook(VECTOR.key).sign(VECTOR.id, new Date(VECTOR.ts * 1000), VECTOR.body),
      VECTOR.signature,
    );
  });

  test('sign the same for a Buffer body and for a key without the whsec_ prefix', () => {
    const bare = VECTOR.key.slice('whsec_'.length);
    assert.equal(signV1(bare, VECTOR.id, VECTOR.ts, VECTOR.body), VECTOR.signature);
    assert.equal(signV1(VECTOR.key, VECTOR.id, VECTOR.ts, Buffer.from(VECTOR.body)), VECTOR.signature);
  });

  test('any change to key, id, timestamp or body changes the signature', () => {
    const other = generateSecret();
    assert.notEqual(signV1(other, VECTOR.id, VECTOR.ts, VECTOR.body), VECTOR.signature);
    assert.notEqual(signV1(VECTOR.key, `${VECTOR.id}x`, VECTOR.ts, VECTOR.body), VECTOR.signature);
    assert.notEqual(signV1(VECTOR.key, VECTOR.id, VECTOR.ts + 1, VECTOR.body), VECTOR.signature);
    assert.notEqual(signV1(VECTOR.key, VECTOR.id, VECTOR.ts, '{"test": 2432232315}'), VECTOR.signature);
  });

  test('agree with standardwebhooks on random keys and bodies (including non-ASCII)', () => {
    for (let i = 0; i < 20; i++) {
      const key = `whsec_${randomBytes(16 + i).toString('base64')}`;
      const id = `msg_${randomBytes(8).toString('hex')}`;
      const ts = 1_700_000_000 + i * 977;
      const body = JSON.stringify({ i, s: 'zoë ✓ 𝄞', r: randomBytes(12).toString('base64') });
      assert.equal(signV1(key, id, ts, body), new Webhook(key).sign(id, new Date(ts * 1000), body));
    }
  });

  test('a multi-secret header holds one v1 signature per secret, in order, each verifiable', () => {
    const secrets = [generateSecret(), generateSecret(), VECTOR.key];
    const ts = Math.floor(Date.now() / 1000);
    const body = '{"hello":"world"}';
    const header = signatureHeader(secrets, 'msg_multi', ts, body);
    const parts = header.split(' ');
    assert.equal(parts.length, 3);
    assert.deepEqual(
      parts,
      secrets.map((s) => signV1(s, 'msg_multi', ts, body)),
    );
    const headers = {
      'webhook-id': 'msg_multi',
      'webhook-timestamp': String(ts),
      'webhook-signature': header,
    };
    for (const s of secrets) assert.deepEqual(new Webhook(s).verify(body, headers), { hello: 'world' });
    assert.throws(() => new Webhook(generateSecret()).verify(body, headers), /No matching signature/);
    assert.equal(signatureHeader([], 'msg_multi', ts, body), '');
  });
});

describe('prepareRequest', () => {
  const NOW = Date.now();

  function delivery(
    overrides: { secrets?: EndpointSecret[]; headers?: Record<string, string>; svixHeaders?: boolean } = {},
  ): ClaimedDelivery {
    return {
      id: 'dlv_1',
      msgId: 'msg_2mTzvDbu3YMEvNLhxkTVdSdQB7c',
      appId: 'app_1',
      endpointId: 'ep_1',
      attempts: 0,
      triggerType: 0,
      eventType: 'invoice.paid',
      payload: '{"type":"invoice.paid","amount":4200,"note":"ünïcode"}',
      msgCreatedAt: NOW,
      leaseUntil: NOW + 30_000,
      endpoint: {
        url: 'https://example.com/hooks?x=1',
        disabled: false,
        headers: overrides.headers ?? {},
        secrets: overrides.secrets ?? [{ key: VECTOR.key, expiresAt: null }],
        svixHeaders: overrides.svixHeaders ?? false,
        kind: 'http',
        template: null,
        uid: null,
        description: '',
        timeoutMs: null,
        fifo: false,
      },
    };
  }

  test('builds a request standardwebhooks verifies, with the message id as webhook-id', () => {
    const d = delivery();
    const req = prepareRequest(d, NOW);
    assert.equal(req.url, 'https://example.com/hooks?x=1');
    assert.equal(req.body, d.payload);
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['webhook-id'], d.msgId);
    assert.equal(req.headers['webhook-timestamp'], String(Math.floor(NOW / 1000)));
    assert.equal(
      req.headers['webhook-signature'],
      signV1(VECTOR.key, d.msgId, Math.floor(NOW / 1000), d.payload),
    );
    assert.deepEqual(new Webhook(VECTOR.key).verify(req.body, req.headers), JSON.parse(d.payload));
    for (const name of ['svix-id', 'svix-timestamp', 'svix-signature'])
      assert.equal(req.headers[name], undefined, `${name} is only sent when svixHeaders is set`);
    // Sent as given: tampering with the body breaks verification.
    assert.throws(() =>
      new Webhook(VECTOR.key).verify(String(req.body).replace('4200', '4201'), req.headers),
    );
  });

  test('svixHeaders adds svix-* copies that verify on their own', () => {
    const req = prepareRequest(delivery({ svixHeaders: true }), NOW);
    assert.equal(req.headers['svix-id'], req.headers['webhook-id']);
    assert.equal(req.headers['svix-timestamp'], req.headers['webhook-timestamp']);
    assert.equal(req.headers['svix-signature'], req.headers['webhook-signature']);
    const svixOnly = {
      'svix-id': req.headers['svix-id']!,
      'svix-timestamp': req.headers['svix-timestamp']!,
      'svix-signature': req.headers['svix-signature']!,
    };
    // standardwebhooks reads the unbranded names; the svix verifier reads svix-* directly.
    const renamed = {
      'webhook-id': svixOnly['svix-id'],
      'webhook-timestamp': svixOnly['svix-timestamp'],
      'webhook-signature': svixOnly['svix-signature'],
    };
    assert.ok(new Webhook(VECTOR.key).verify(req.body, renamed));
    assert.doesNotThrow(() => new SvixWebhook(VECTOR.key).verify(req.body, svixOnly));
  });

  test('signs with every active secret and drops expired ones', () => {
    const current = generateSecret();
    const rotated = generateSecret();
    const expired = generateSecret();
    const expiringNow = generateSecret();
    const req = prepareRequest(
      delivery({
        secrets: [
          { key: current, expiresAt: null },
          { key: rotated, expiresAt: NOW + 60_000 },
          { key: expired, expiresAt: NOW - 1 },
          { key: expiringNow, expiresAt: NOW },
        ],
      }),
      NOW,
    );
    const parts = req.headers['webhook-signature']!.split(' ');
    assert.equal(parts.length, 2);
    assert.ok(parts.every((p) => p.startsWith('v1,')));
    assert.ok(new Webhook(current).verify(req.body, req.headers));
    assert.ok(new Webhook(rotated).verify(req.body, req.headers));
    assert.throws(() => new Webhook(expired).verify(req.body, req.headers), /No matching signature/);
    assert.throws(() => new Webhook(expiringNow).verify(req.body, req.headers), /No matching signature/);
  });

  test('keeps custom headers (lower-cased) and drops the ones Hookline owns', () => {
    const req = prepareRequest(
      delivery({
        svixHeaders: false,
        headers: {
          'X-Tenant': 'acme',
          authorization: 'Bearer downstream',
          'Content-Type': 'text/plain',
          'webhook-signature': 'v1,forged',
          'Webhook-Id': 'msg_forged',
          'svix-signature': 'v1,forged',
          Host: 'evil.example',
          'content-length': '1',
          'Transfer-Encoding': 'chunked',
          'user-agent': 'spoofed',
        },
      }),
      NOW,
    );
    assert.equal(req.headers['x-tenant'], 'acme');
    assert.equal(req.headers['authorization'], 'Bearer downstream');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['webhook-id'], 'msg_2mTzvDbu3YMEvNLhxkTVdSdQB7c');
    assert.ok(!req.headers['webhook-signature']!.includes('forged'));
    for (const name of ['svix-signature', 'host', 'content-length', 'transfer-encoding', 'user-agent'])
      assert.equal(req.headers[name], undefined, `${name} must not be set from custom headers`);
    assert.ok(!Object.keys(req.headers).some((k) => k !== k.toLowerCase()));
    assert.ok(new Webhook(VECTOR.key).verify(req.body, req.headers));
  });

  test('isForbiddenCustomHeader ignores case and allows ordinary headers', () => {
    for (const name of ['Webhook-Signature', 'SVIX-ID', 'Content-Type', 'HOST', 'Connection'])
      assert.equal(isForbiddenCustomHeader(name), true, name);
    for (const name of ['x-api-key', 'Authorization', 'X-Webhook-Source'])
      assert.equal(isForbiddenCustomHeader(name), false, name);
  });
});
