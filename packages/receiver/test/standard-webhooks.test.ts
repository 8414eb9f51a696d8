import assert from 'node:assert/strict';
import { createPublicKey, sign as cryptoSign } from 'node:crypto';
import { describe, test } from 'node:test';
import { WebhookVerificationError } from '../src/errors.ts';
import { sign } from '../src/sign.ts';
import {
  ed25519KeyPairFromSeed,
  ed25519PublicKeyFor,
  generateEd25519KeyPair,
  generateStandardWebhooksSecret,
} from '../src/standard-webhooks.ts';
import { verify } from '../src/verify.ts';

const NOW = 1_700_000_000;
const body = '{"type":"invoice.paid"}';

describe('Standard Webhooks v1', () => {
  test('published vector signs to the published signature', () => {
    const { headers } = sign({
      scheme: 'standard-webhooks',
      body: '{"test": 2432232314}',
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: 1614265330,
    });
    assert.equal(headers['webhook-signature'], 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  test('invalid base64 secret -> invalid_secret saying the scheme decodes it', () => {
    const { headers } = sign({
      scheme: 'standard-webhooks',
      body,
      secret: generateStandardWebhooksSecret(),
      timestamp: NOW,
    });
    assert.throws(
      () =>
        verify({
          scheme: 'standard-webhooks',
          body,
          headers,
          secret: 'whsec_my plain secret',
          receivedAt: NOW,
        }),
      (error: unknown) =>
        error instanceof WebhookVerificationError &&
        error.code === 'invalid_secret' &&
        /not valid base64/.test(error.message),
    );
  });

  test('repeated signature headers joined with ", " still verify', () => {
    const secret = generateStandardWebhooksSecret();
    const { headers } = sign({ scheme: 'standard-webhooks', body, secret, timestamp: NOW, id: 'msg_1' });
    const joined = { ...headers, 'webhook-signature': ['v1,AAAA', headers['webhook-signature'] ?? ''] };
    assert.equal(
      verify({ scheme: 'standard-webhooks', body, headers: joined, secret, receivedAt: NOW }).id,
      'msg_1',
    );
  });

  test('generated secrets are whsec_ + base64 of the requested size', () => {
    const secret = generateStandardWebhooksSecret(24);
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{32}$/);
    assert.throws(() => generateStandardWebhooksSecret(16), RangeError);
  });
});

describe('Standard Webhooks v1a (Ed25519)', () => {
  test('generateEd25519KeyPair: whsk_/whpk_ + base64 of 32 raw bytes, and they work together', () => {
    const keys = generateEd25519KeyPair();
    assert.match(keys.secretKey, /^whsk_[A-Za-z0-9+/]{43}=$/);
    assert.match(keys.publicKey, /^whpk_[A-Za-z0-9+/]{43}=$/);
    assert.equal(ed25519PublicKeyFor(keys.secretKey), keys.publicKey);
    const { headers } = sign({
      scheme: 'standard-webhooks',
      body,
      secret: keys.secretKey,
      timestamp: NOW,
      id: 'msg_a',
    });
    assert.match(headers['webhook-signature'] ?? '', /^v1a,[A-Za-z0-9+/]{86}==$/);
    assert.equal(
      verify({ scheme: 'standard-webhooks', body, headers, secret: keys.publicKey, receivedAt: NOW }).id,
      'msg_a',
    );
  });

  test('the public key is the raw key node derives, and the signature is plain Ed25519 over id.ts.body', () => {
    const seed = Buffer.alloc(32, 7);
    const keys = ed25519KeyPairFromSeed(seed);
    assert.deepEqual(ed25519KeyPairFromSeed(seed), keys);
    const raw = Buffer.from(keys.publicKey.slice(5), 'base64');
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
      format: 'jwk',
    });
    const { headers } = sign({
      scheme: 'standard-webhooks',
      body,
      secret: keys.secretKey,
      timestamp: NOW,
      id: 'msg_b',
    });
    const signature = Buffer.from((headers['webhook-signature'] ?? '').slice('v1a,'.length), 'base64');
    const privateJwk = {
      kty: 'OKP',
      crv: 'Ed25519',
      d: seed.toString('base64url'),
      x: raw.toString('base64url'),
    };
    const expected = cryptoSign(null, Buffer.from(`msg_b.${NOW}.${body}`), {
      key: privateJwk,
      format: 'jwk',
    });
    assert.deepEqual(signature, expected);
    assert.equal(publicKey.asymmetricKeyType, 'ed25519');
  });

  test('a whpk_ public key cannot sign', () => {
    const keys = generateEd25519KeyPair();
    assert.throws(
      () => sign({ scheme: 'standard-webhooks', body, secret: keys.publicKey }),
      (error: unknown) => error instanceof WebhookVerificationError && error.code === 'invalid_secret',
    );
  });

  test('v1 secret against a v1a-only header: the message says which versions were sent', () => {
    const keys = generateEd25519KeyPair();
    const { headers } = sign({ scheme: 'standard-webhooks', body, secret: keys.secretKey, timestamp: NOW });
    assert.throws(
      () =>
        verify({
          scheme: 'standard-webhooks',
          body,
          headers,
          secret: generateStandardWebhooksSecret(),
          receivedAt: NOW,
        }),
      (error: unknown) =>
        error instanceof WebhookVerificationError &&
        error.code === 'no_matching_signature' &&
        /only v1a signatures/.test(error.message),
    );
  });

  test('a truncated v1a signature does not verify', () => {
    const keys = generateEd25519KeyPair();
    const { headers } = sign({ scheme: 'standard-webhooks', body, secret: keys.secretKey, timestamp: NOW });
    const signature = Buffer.from((headers['webhook-signature'] ?? '').slice(4), 'base64').subarray(0, 48);
    assert.throws(
      () =>
        verify({
          scheme: 'standard-webhooks',
          body,
          headers: { ...headers, 'webhook-signature': `v1a,${signature.toString('base64')}` },
          secret: keys.publicKey,
          receivedAt: NOW,
        }),
      (error: unknown) => error instanceof WebhookVerificationError && error.code === 'no_matching_signature',
    );
  });

  test('seeds must be 32 bytes', () => {
    assert.throws(() => ed25519KeyPairFromSeed(new Uint8Array(31)), RangeError);
  });
});
