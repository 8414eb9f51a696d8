import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ERROR_CODES,
  WEBHOOK_ERROR_CODES,
  type WebhookErrorCode,
  WebhookVerificationError,
} from '../src/errors.ts';
import { discordPublicKeyFromSeed } from '../src/schemes/discord.ts';
import { createHmacScheme } from '../src/schemes/generic-hmac.ts';
import { createGithubScheme } from '../src/schemes/github.ts';
import { SCHEME_NAMES, type SchemeName } from '../src/schemes/index.ts';
import { sign } from '../src/sign.ts';
import { verify } from '../src/verify.ts';

const NOW = 1_700_000_000;

function rejection(run: () => unknown, code: WebhookErrorCode): WebhookVerificationError {
  let caught: unknown;
  assert.throws(run, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(
    caught instanceof WebhookVerificationError,
    `expected WebhookVerificationError, got ${String(caught)}`,
  );
  assert.equal(caught.code, code, caught.message);
  return caught;
}

const DISCORD_KEYS = [1, 2, 3].map((n) => {
  const privateKey = Buffer.alloc(32, n).toString('hex');
  return { privateKey, publicKey: discordPublicKeyFromSeed(privateKey) };
});

// One secret and one request shape per built-in signature scheme, so generic behaviour is checked
// on all of them. Salesforce has no signature (its envelope check is in salesforce.test.ts).
// `verifySecret`, `other` and `wrong` are for schemes that sign and verify with different keys.
const SAMPLES: Record<
  Exclude<SchemeName, 'salesforce'>,
  {
    secret: string;
    verifySecret?: string;
    other?: string;
    wrong?: string;
    url?: string;
    timestamped: boolean;
    signatureHeader: string;
  }
> = {
  'standard-webhooks': {
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    timestamped: true,
    signatureHeader: 'webhook-signature',
  },
  svix: {
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    timestamped: true,
    signatureHeader: 'svix-signature',
  },
  stripe: { secret: 'whsec_abc123', timestamped: true, signatureHeader: 'Stripe-Signature' },
  github: { secret: 'gh-secret', timestamped: false, signatureHeader: 'X-Hub-Signature-256' },
  shopify: { secret: 'shpss_secret', timestamped: false, signatureHeader: 'X-Shopify-Hmac-Sha256' },
  slack: { secret: 'slack-signing-secret', timestamped: true, signatureHeader: 'X-Slack-Signature' },
  twilio: {
    secret: '0123456789abcdef0123456789abcdef',
    url: 'https://example.com/sms',
    timestamped: false,
    signatureHeader: 'X-Twilio-Signature',
  },
  paddle: { secret: 'pdl_ntfset_secret', timestamped: true, signatureHeader: 'Paddle-Signature' },
  discord: {
    secret: DISCORD_KEYS[0]?.privateKey ?? '',
    verifySecret: DISCORD_KEYS[0]?.publicKey ?? '',
    other: DISCORD_KEYS[1]?.publicKey ?? '',
    wrong: DISCORD_KEYS[2]?.publicKey ?? '',
    timestamped: true,
    signatureHeader: 'X-Signature-Ed25519',
  },
  hubspot: {
    secret: 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy',
    url: 'https://example.com/hubspot?portal=62515&email=a%40b.example',
    timestamped: true,
    signatureHeader: 'X-HubSpot-Signature-v3',
  },
};

describe('every built-in scheme', () => {
  const body = 'a=1&b=%7B%22x%22%3A2%7D';
  for (const scheme of SCHEME_NAMES) {
    if (scheme === 'salesforce') continue;
    const sample = SAMPLES[scheme];
    const signed = sign({ scheme, body, secret: sample.secret, timestamp: NOW, url: sample.url });
    const secret = sample.verifySecret ?? sample.secret;
    const base = {
      scheme,
      body,
      headers: signed.headers,
      secret,
      url: sample.url,
      receivedAt: NOW,
    };

    describe(scheme, () => {
      test('sign -> verify round trip', () => {
        assert.equal(verify(base).scheme, scheme);
      });

      test('body as Buffer, Uint8Array, ArrayBuffer and string verify alike', () => {
        const bytes = Buffer.from(body);
        const copy = new Uint8Array(bytes);
        for (const variant of [bytes, copy, copy.buffer, body]) {
          assert.equal(verify({ ...base, body: variant }).matchedSecretIndex, 0);
        }
      });

      test('headers as fetch Headers, lower-case record and string[] values', () => {
        assert.ok(verify({ ...base, headers: new Headers(signed.headers) }));
        const lower = Object.fromEntries(
          Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v]),
        );
        assert.ok(verify({ ...base, headers: lower }));
        const arrays = Object.fromEntries(
          Object.entries(signed.headers).map(([k, v]) => [k.toUpperCase(), [v]]),
        );
        assert.ok(verify({ ...base, headers: arrays }));
      });

      test('rotation reports the matching secret', () => {
        const other =
          sample.other ??
          (secret.startsWith('whsec_') ? 'whsec_b3RoZXIgc2VjcmV0IG9mIGVub3VnaCBsZW5ndGg=' : `${secret}-old`);
        assert.equal(verify({ ...base, secret: [other, secret] }).matchedSecretIndex, 1);
        assert.equal(verify({ ...base, secret: other, secrets: [secret] }).matchedSecretIndex, 1);
      });

      test('tampered body -> no_matching_signature with advice', () => {
        const error = rejection(() => verify({ ...base, body: `${body}&c=3` }), 'no_matching_signature');
        assert.match(error.message, /re-serialized/);
        assert.match(error.message, /wrong secret/);
        assert.equal(error.scheme, scheme);
        assert.equal(error.status, 401);
      });

      test('wrong secret -> no_matching_signature', () => {
        const wrong =
          sample.wrong ??
          (secret.startsWith('whsec_') ? 'whsec_d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldA==' : `${secret}x`);
        rejection(() => verify({ ...base, secret: wrong }), 'no_matching_signature');
      });

      test('missing signature header -> missing_header naming it', () => {
        const headers = Object.fromEntries(
          Object.entries(signed.headers).filter(([k]) => k !== sample.signatureHeader),
        );
        const error = rejection(() => verify({ ...base, headers }), 'missing_header');
        assert.match(error.message, new RegExp(sample.signatureHeader, 'i'));
        assert.equal(error.status, 400);
      });

      test('parsed body -> invalid_body telling to pass the raw bytes', () => {
        const error = rejection(() => verify({ ...base, body: { a: 1 } as never }), 'invalid_body');
        assert.match(error.message, /parsed/);
        assert.match(error.message, /raw bytes/);
      });

      test('empty secret -> invalid_secret', () => {
        rejection(() => verify({ ...base, secret: '' }), 'invalid_secret');
        rejection(() => verify({ ...base, secret: [] }), 'invalid_secret');
      });

      if (sample.timestamped) {
        test('stale and future timestamps -> timestamp_out_of_tolerance; tolerance and receivedAt move the window', () => {
          const error = rejection(
            () => verify({ ...base, receivedAt: NOW + 3600 }),
            'timestamp_out_of_tolerance',
          );
          assert.match(error.message, /3600 s in the past/);
          assert.match(error.message, /receivedAt/);
          rejection(() => verify({ ...base, receivedAt: NOW - 3600 }), 'timestamp_out_of_tolerance');
          assert.ok(verify({ ...base, receivedAt: NOW + 3600, tolerance: 3600 }));
          assert.ok(verify({ ...base, receivedAt: new Date((NOW + 2) * 1000) }));
          assert.ok(verify({ ...base, receivedAt: NOW + 10 ** 8, tolerance: Number.POSITIVE_INFINITY }));
        });

        test('the default receivedAt is now', () => {
          rejection(() => verify({ ...base, receivedAt: undefined }), 'timestamp_out_of_tolerance');
          const fresh = sign({ scheme, body, secret: sample.secret, url: sample.url });
          assert.ok(verify({ ...base, headers: fresh.headers, receivedAt: undefined }));
        });
      } else {
        test('no timestamp: any receivedAt is accepted', () => {
          assert.ok(verify({ ...base, receivedAt: NOW + 10 ** 6 }));
        });
      }
    });
  }
});

describe('verify() options and messages', () => {
  test('unknown scheme -> unsupported_scheme listing the built-ins', () => {
    const error = rejection(
      () => verify({ scheme: 'mailchimp' as SchemeName, body: '', headers: {}, secret: 'x' }),
      'unsupported_scheme',
    );
    assert.match(error.message, /stripe/);
  });

  test('receivedAt in milliseconds is a programming error', () => {
    const { headers } = sign({ scheme: 'stripe', body: '{}', secret: 'whsec_x', timestamp: NOW });
    assert.throws(
      () => verify({ scheme: 'stripe', body: '{}', headers, secret: 'whsec_x', receivedAt: NOW * 1000 }),
      /milliseconds/,
    );
  });

  test('a hex signature with trailing garbage is malformed, not accepted', () => {
    const { headers } = sign({ scheme: 'github', body: 'x', secret: 's' });
    const error = rejection(
      () =>
        verify({
          scheme: 'github',
          body: 'x',
          headers: { 'X-Hub-Signature-256': `${headers['X-Hub-Signature-256']}zz` },
          secret: 's',
        }),
      'malformed_header',
    );
    assert.match(error.message, /not valid hex/);
  });

  test('Stripe secret without whsec_: the message says the secret looks decoded', () => {
    const { headers } = sign({ scheme: 'stripe', body: '{}', secret: 'whsec_abc', timestamp: NOW });
    const error = rejection(
      () => verify({ scheme: 'stripe', body: '{}', headers, secret: 'abc', receivedAt: NOW }),
      'no_matching_signature',
    );
    assert.match(error.message, /base64-decoded/);
  });

  test('a base64-looking secret for a text-secret scheme gets the base64 hint', () => {
    const { headers } = sign({ scheme: 'github', body: 'x', secret: 'plain secret' });
    const error = rejection(
      () =>
        verify({
          scheme: 'github',
          body: 'x',
          headers,
          secret: Buffer.from('plain secret!!').toString('base64'),
        }),
      'no_matching_signature',
    );
    assert.match(error.message, /looks base64-encoded but this scheme uses it as text/);
  });

  test('whitespace around a secret is called out', () => {
    const { headers } = sign({ scheme: 'github', body: 'x', secret: 'abc' });
    const error = rejection(
      () => verify({ scheme: 'github', body: 'x', headers, secret: 'abc\n' }),
      'no_matching_signature',
    );
    assert.match(error.message, /whitespace/);
  });

  test('invalid_secret and unsupported_scheme answer 500', () => {
    assert.equal(new WebhookVerificationError('invalid_secret', 'x').status, 500);
    assert.equal(ERROR_CODES.unsupported_scheme.status, 500);
    for (const code of WEBHOOK_ERROR_CODES) assert.ok(ERROR_CODES[code].description.length > 20);
  });

  test('Twilio without url -> missing_option', () => {
    rejection(
      () => verify({ scheme: 'twilio', body: '', headers: { 'X-Twilio-Signature': 'AAAA' }, secret: 'x' }),
      'missing_option',
    );
  });
});

describe('github legacy sha1', () => {
  test('allowSha1 signs both headers; each verifies alone', () => {
    const scheme = createGithubScheme({ allowSha1: true });
    const { headers } = sign({ scheme, body: 'payload', secret: 's', id: 'delivery-1' });
    assert.match(headers['X-Hub-Signature'] ?? '', /^sha1=[0-9a-f]{40}$/);
    assert.match(headers['X-Hub-Signature-256'] ?? '', /^sha256=[0-9a-f]{64}$/);
    const sha1Only = {
      'X-Hub-Signature': headers['X-Hub-Signature'] ?? '',
      'X-GitHub-Delivery': 'delivery-1',
    };
    assert.equal(verify({ scheme, body: 'payload', headers: sha1Only, secret: 's' }).id, 'delivery-1');
    rejection(
      () => verify({ scheme: 'github', body: 'payload', headers: sha1Only, secret: 's' }),
      'missing_header',
    );
    rejection(
      () => verify({ scheme, body: 'tampered', headers: sha1Only, secret: 's' }),
      'no_matching_signature',
    );
  });
});

describe('createHmacScheme', () => {
  test('milliseconds timestamps, url/method placeholders, base64 secret', () => {
    const scheme = createHmacScheme({
      name: 'hubspot-like',
      header: 'X-Sig',
      encoding: 'base64',
      template: '{method}{url}{body}{timestamp}',
      timestampHeader: 'X-Ts',
      timestampUnit: 'milliseconds',
      secretEncoding: 'base64',
    });
    const secret = Buffer.from('raw key bytes').toString('base64');
    const request = { body: '{"a":1}', url: 'https://example.com/hook?x=1', method: 'POST' };
    const { headers } = sign({ scheme, ...request, secret, timestamp: NOW });
    assert.equal(headers['X-Ts'], String(NOW * 1000));
    const result = verify({ scheme, ...request, headers, secret, receivedAt: NOW + 1 });
    assert.equal(result.timestamp, NOW);
    rejection(
      () => verify({ scheme, ...request, method: 'PUT', headers, secret, receivedAt: NOW }),
      'no_matching_signature',
    );
    rejection(
      () => verify({ scheme, ...request, url: undefined, headers, secret, receivedAt: NOW }),
      'missing_option',
    );
    rejection(
      () => verify({ scheme, ...request, headers, secret: 'not base64 !', receivedAt: NOW }),
      'invalid_secret',
    );
  });

  test('a template that needs a header that is not configured is rejected up front', () => {
    assert.throws(
      () => createHmacScheme({ header: 'X-Sig', template: '{timestamp}.{body}' }),
      /timestampHeader/,
    );
    assert.throws(() => createHmacScheme({ header: 'X-Sig', template: '{id}.{body}' }), /idHeader/);
  });

  test('sha1 and sha512 produce digests of the right size', () => {
    for (const [algorithm, hexLength] of [
      ['sha1', 40],
      ['sha512', 128],
    ] as const) {
      const scheme = createHmacScheme({ header: 'X-Sig', algorithm });
      const { headers } = sign({ scheme, body: 'b', secret: 's' });
      assert.equal(headers['X-Sig']?.length, hexLength);
      assert.ok(verify({ scheme, body: 'b', headers, secret: 's' }));
    }
  });
});

describe('sign()', () => {
  test('single-signature schemes refuse several secrets', () => {
    assert.throws(() => sign({ scheme: 'github', body: 'x', secret: ['a', 'b'] }), /one secret/);
  });

  test('Paddle and Stripe write one signature per secret', () => {
    const paddle = sign({ scheme: 'paddle', body: 'x', secret: ['a', 'b'], timestamp: NOW });
    assert.match(paddle.headers['Paddle-Signature'] ?? '', /^ts=1700000000;h1=[0-9a-f]{64};h1=[0-9a-f]{64}$/);
    const stripe = sign({ scheme: 'stripe', body: 'x', secret: ['a', 'b'], timestamp: NOW });
    assert.match(stripe.headers['Stripe-Signature'] ?? '', /^t=1700000000,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
  });
});
