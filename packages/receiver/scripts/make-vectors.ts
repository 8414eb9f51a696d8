/**
 * Regenerates `vectors.json`: positive and negative cases for every scheme, deterministic
 * (fixed secrets, times, ids and Ed25519 seed), anchored by the providers' published vectors.
 *
 *   node packages/receiver/scripts/make-vectors.ts
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { WebhookErrorCode } from '../src/errors.ts';
import type { Scheme } from '../src/scheme.ts';
import { discordPublicKeyFromSeed } from '../src/schemes/discord.ts';
import type { GenericHmacConfig } from '../src/schemes/generic-hmac.ts';
import { createHmacScheme } from '../src/schemes/generic-hmac.ts';
import { createGithubScheme } from '../src/schemes/github.ts';
import { createHubspotScheme } from '../src/schemes/hubspot.ts';
import type { SchemeName } from '../src/schemes/index.ts';
import { buildSalesforceOutboundMessage } from '../src/schemes/salesforce.ts';
import { sign } from '../src/sign.ts';
import { ed25519KeyPairFromSeed } from '../src/standard-webhooks.ts';

/** One vector. `scheme` is a built-in name, `github-sha1` (GitHub with allowSha1) or `hmac` (uses `hmac`). */
export interface VectorCase {
  description: string;
  scheme: SchemeName | 'github-sha1' | 'hmac';
  hmac?: GenericHmacConfig;
  secrets: string[];
  headers: Record<string, string>;
  body: string;
  url?: string;
  /** HTTP method for schemes that sign it (HubSpot v2/v3); default POST. */
  method?: string;
  receivedAt: number;
  tolerance?: number;
  expected: { ok: true; matchedSecretIndex: number; id?: string } | { ok: false; code: WebhookErrorCode };
}

/** The vectors file. */
export interface VectorFile {
  description: string;
  ed25519: { seed: string; secretKey: string; publicKey: string };
  cases: VectorCase[];
}

const NOW = 1_700_000_000;
const SW_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SW_OTHER = 'whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXkh';
const STRIPE_SECRET = 'whsec_test_hookline_vectors';
const GITHUB_SECRET = "It's a Secret to Everybody";
const SHOPIFY_SECRET = 'shpss_hookline_vectors';
const SLACK_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const TWILIO_TOKEN = '12345';
const PADDLE_SECRET = 'pdl_ntfset_01hookline_vectors';
const GENERIC_SECRET = 'generic-hmac-secret';
// HubSpot's documented examples use this client secret.
const HUBSPOT_SECRET = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
const SALESFORCE_ORG = '00D5g000004XyZaEAK';
const ED25519_SEED = createHash('sha256').update('hookline receiver vectors: ed25519 seed').digest();
const ED25519_OTHER_SEED = createHash('sha256')
  .update('hookline receiver vectors: other ed25519 seed')
  .digest();

const ACME: GenericHmacConfig = {
  name: 'acme',
  header: 'X-Acme-Signature',
  prefix: 'sha512=',
  algorithm: 'sha512',
  encoding: 'base64',
  template: '{id}.{timestamp}.{body}',
  timestampHeader: 'X-Acme-Timestamp',
  idHeader: 'X-Acme-Delivery',
  tolerance: 600,
};

function schemeFor(name: VectorCase['scheme'], hmac?: GenericHmacConfig): SchemeName | Scheme {
  if (name === 'github-sha1') return createGithubScheme({ allowSha1: true });
  if (name === 'hmac') return createHmacScheme(hmac ?? { header: 'X-Signature' });
  return name;
}

// Cases are built by spreading a base, so fix the key order the file shows (description first).
function inFileOrder(vector: VectorCase): VectorCase {
  const { description, scheme, hmac, secrets, headers, body, url, method, receivedAt, tolerance, expected } =
    vector;
  return JSON.parse(
    JSON.stringify({
      description,
      scheme,
      hmac,
      secrets,
      headers,
      body,
      url,
      method,
      receivedAt,
      tolerance,
      expected,
    }),
  ) as VectorCase;
}

/** Builds the vectors; pure and deterministic. */
export function buildVectors(): VectorFile {
  const cases: VectorCase[] = [];
  const keys = ed25519KeyPairFromSeed(ED25519_SEED);
  const otherKeys = ed25519KeyPairFromSeed(ED25519_OTHER_SEED);

  const signed = (
    scheme: VectorCase['scheme'],
    body: string,
    secret: string | string[],
    extra: {
      timestamp?: number;
      id?: string;
      url?: string;
      contentType?: string;
      hmac?: GenericHmacConfig;
    } = {},
  ) =>
    sign({
      scheme: schemeFor(scheme, extra.hmac),
      body,
      secret,
      timestamp: extra.timestamp ?? NOW,
      id: extra.id,
      url: extra.url,
      contentType: extra.contentType,
    });

  const ok = (matchedSecretIndex = 0, id?: string): VectorCase['expected'] =>
    id === undefined ? { ok: true, matchedSecretIndex } : { ok: true, matchedSecretIndex, id };
  const fail = (code: WebhookErrorCode): VectorCase['expected'] => ({ ok: false, code });
  const without = (headers: Record<string, string>, name: string) =>
    Object.fromEntries(Object.entries(headers).filter(([key]) => key !== name));

  // Standard Webhooks v1: the libraries' shared published vector.
  {
    const body = '{"test": 2432232314}';
    const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };
    const at = 1614265330;
    const base = {
      scheme: 'standard-webhooks' as const,
      secrets: [SW_SECRET],
      headers,
      body,
      receivedAt: at,
    };
    cases.push(
      { ...base, description: 'standard-webhooks v1: published vector', expected: ok(0, id) },
      {
        ...base,
        description: 'standard-webhooks v1: secret without whsec_ prefix',
        secrets: [SW_SECRET.slice(6)],
        expected: ok(0, id),
      },
      {
        ...base,
        description: 'standard-webhooks v1: unbranded svix-* headers',
        headers: {
          'svix-id': id,
          'svix-timestamp': '1614265330',
          'svix-signature': headers['webhook-signature'],
        },
        expected: ok(0, id),
      },
      {
        ...base,
        description: 'standard-webhooks v1: rotation, second secret matches',
        secrets: [SW_OTHER, SW_SECRET],
        expected: ok(1, id),
      },
      {
        ...base,
        description: 'standard-webhooks v1: several signatures, one valid',
        headers: {
          ...headers,
          'webhook-signature': `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ${headers['webhook-signature']}`,
        },
        expected: ok(0, id),
      },
      {
        ...base,
        description: 'standard-webhooks v1: tampered body',
        body: '{"test": 2432232315}',
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'standard-webhooks v1: re-serialized body',
        body: '{"test":2432232314}',
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'standard-webhooks v1: wrong secret',
        secrets: [SW_OTHER],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'standard-webhooks v1: timestamp 301 s old',
        receivedAt: at + 301,
        expected: fail('timestamp_out_of_tolerance'),
      },
      {
        ...base,
        description: 'standard-webhooks v1: timestamp 301 s in the future',
        receivedAt: at - 301,
        expected: fail('timestamp_out_of_tolerance'),
      },
      {
        ...base,
        description: 'standard-webhooks v1: 300 s old is still inside the tolerance',
        receivedAt: at + 300,
        expected: ok(0, id),
      },
      {
        ...base,
        description: 'standard-webhooks v1: missing webhook-id',
        headers: without(headers, 'webhook-id'),
        expected: fail('missing_header'),
      },
      {
        ...base,
        description: 'standard-webhooks v1: missing webhook-timestamp',
        headers: without(headers, 'webhook-timestamp'),
        expected: fail('missing_header'),
      },
      {
        ...base,
        description: 'standard-webhooks v1: missing webhook-signature',
        headers: without(headers, 'webhook-signature'),
        expected: fail('missing_header'),
      },
      {
        ...base,
        description: 'standard-webhooks v1: signature header without version',
        headers: { ...headers, 'webhook-signature': 'g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' },
        expected: fail('malformed_header'),
      },
      {
        ...base,
        description: 'standard-webhooks v1: non-numeric timestamp',
        headers: { ...headers, 'webhook-timestamp': '2021-02-26T16:22:10Z' },
        expected: fail('malformed_header'),
      },
      {
        ...base,
        description: 'standard-webhooks v1: partial signature',
        headers: { ...headers, 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt' },
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'standard-webhooks v1: secret is not base64',
        secrets: ['whsec_not base64!'],
        expected: fail('invalid_secret'),
      },
    );
  }
  {
    const body = '';
    const result = signed('standard-webhooks', body, SW_SECRET, { id: 'msg_empty' });
    cases.push({
      description: 'standard-webhooks v1: empty body',
      scheme: 'standard-webhooks',
      secrets: [SW_SECRET],
      headers: result.headers,
      body,
      receivedAt: NOW,
      expected: ok(0, 'msg_empty'),
    });
  }

  // Standard Webhooks v1a (Ed25519), from a fixed seed: Ed25519 signatures are deterministic.
  {
    const body = '{"type":"invoice.paid","data":{"id":"in_1"}}';
    const id = 'msg_v1a_vector';
    const { headers } = signed('standard-webhooks', body, keys.secretKey, { id });
    const both = signed('standard-webhooks', body, [SW_SECRET, keys.secretKey], { id }).headers;
    const base = {
      scheme: 'standard-webhooks' as const,
      secrets: [keys.publicKey],
      headers,
      body,
      receivedAt: NOW,
    };
    cases.push(
      { ...base, description: 'standard-webhooks v1a: whpk_ public key', expected: ok(0, id) },
      {
        ...base,
        description: 'standard-webhooks v1a: whsk_ secret key also verifies',
        secrets: [keys.secretKey],
        expected: ok(0, id),
      },
      {
        ...base,
        description: 'standard-webhooks v1a: header with v1 and v1a, v1a key',
        headers: both,
        expected: ok(0, id),
      },
      {
        ...base,
        description: 'standard-webhooks v1a: header with v1 and v1a, v1 secret',
        headers: both,
        secrets: [SW_SECRET],
        expected: ok(0, id),
      },
      {
        ...base,
        description: 'standard-webhooks v1a: rotation to a new key pair',
        secrets: [otherKeys.publicKey, keys.publicKey],
        expected: ok(1, id),
      },
      {
        ...base,
        description: 'standard-webhooks v1a: tampered body',
        body: body.replace('in_1', 'in_2'),
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'standard-webhooks v1a: wrong public key',
        secrets: [otherKeys.publicKey],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'standard-webhooks v1a: v1 secret against a v1a-only header',
        secrets: [SW_SECRET],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'standard-webhooks v1a: stale timestamp',
        receivedAt: NOW + 301,
        expected: fail('timestamp_out_of_tolerance'),
      },
      {
        ...base,
        description: 'standard-webhooks v1a: public key of 31 bytes',
        secrets: [`whpk_${Buffer.alloc(31, 1).toString('base64')}`],
        expected: fail('invalid_secret'),
      },
    );
  }

  // Svix: same scheme, svix-* headers.
  {
    const body = '{"type":"user.created","data":{"id":"user_1"}}';
    const { headers } = signed('svix', body, SW_SECRET, { id: 'msg_svix' });
    const base = { scheme: 'svix' as const, secrets: [SW_SECRET], headers, body, receivedAt: NOW };
    cases.push(
      { ...base, description: 'svix: svix-* headers', expected: ok(0, 'msg_svix') },
      {
        ...base,
        description: 'svix: tampered body',
        body: body.replace('user_1', 'user_2'),
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'svix: missing svix-signature',
        headers: without(headers, 'svix-signature'),
        expected: fail('missing_header'),
      },
    );
  }

  // Stripe.
  {
    const body = '{"id":"evt_1","object":"event","type":"invoice.paid"}';
    const { headers } = signed('stripe', body, STRIPE_SECRET);
    const header = headers['Stripe-Signature'] ?? '';
    const base = { scheme: 'stripe' as const, secrets: [STRIPE_SECRET], headers, body, receivedAt: NOW };
    cases.push(
      { ...base, description: 'stripe: valid', expected: ok(0, 'evt_1') },
      {
        ...base,
        description: 'stripe: rotation, two v1 signatures',
        headers: signed('stripe', body, ['whsec_old', STRIPE_SECRET]).headers,
        secrets: ['whsec_old'],
        expected: ok(0, 'evt_1'),
      },
      {
        ...base,
        description: 'stripe: tampered body',
        body: body.replace('paid', 'void'),
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'stripe: wrong secret',
        secrets: ['whsec_other'],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'stripe: secret without whsec_ prefix',
        secrets: [STRIPE_SECRET.slice(6)],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'stripe: 301 s old',
        receivedAt: NOW + 301,
        expected: fail('timestamp_out_of_tolerance'),
      },
      {
        ...base,
        description: 'stripe: 301 s old with tolerance 600',
        receivedAt: NOW + 301,
        tolerance: 600,
        expected: ok(0, 'evt_1'),
      },
      {
        ...base,
        description: 'stripe: missing Stripe-Signature',
        headers: {},
        expected: fail('missing_header'),
      },
      {
        ...base,
        description: 'stripe: no t=',
        headers: { 'Stripe-Signature': header.replace(/^t=\d+,/, '') },
        expected: fail('malformed_header'),
      },
      {
        ...base,
        description: 'stripe: v0 only',
        headers: { 'Stripe-Signature': header.replace('v1=', 'v0=') },
        expected: fail('malformed_header'),
      },
      {
        ...base,
        description: 'stripe: signature not hex',
        headers: { 'Stripe-Signature': `${header}zz` },
        expected: fail('malformed_header'),
      },
    );
  }

  // GitHub: the docs' vector.
  {
    const body = 'Hello, World!';
    const headers = {
      'X-Hub-Signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
      'X-GitHub-Delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    };
    const base = { scheme: 'github' as const, secrets: [GITHUB_SECRET], headers, body, receivedAt: NOW };
    const sha1 = signed('github-sha1', body, GITHUB_SECRET).headers;
    cases.push(
      { ...base, description: 'github: docs vector', expected: ok(0, headers['X-GitHub-Delivery']) },
      {
        ...base,
        description: 'github: rotation',
        secrets: ['old secret', GITHUB_SECRET],
        expected: ok(1, headers['X-GitHub-Delivery']),
      },
      {
        ...base,
        description: 'github: tampered body',
        body: 'Hello, World?',
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'github: wrong secret',
        secrets: ["It's a secret to everybody"],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'github: missing X-Hub-Signature-256',
        headers: {},
        expected: fail('missing_header'),
      },
      {
        ...base,
        description: 'github: no sha256= prefix',
        headers: { 'X-Hub-Signature-256': headers['X-Hub-Signature-256'].slice(7) },
        expected: fail('malformed_header'),
      },
      {
        ...base,
        description: 'github: legacy sha1 ignored by default',
        headers: { 'X-Hub-Signature': sha1['X-Hub-Signature'] ?? '' },
        expected: fail('missing_header'),
      },
      {
        ...base,
        scheme: 'github-sha1',
        description: 'github: legacy sha1 with allowSha1',
        headers: { 'X-Hub-Signature': sha1['X-Hub-Signature'] ?? '' },
        expected: ok(0),
      },
      {
        ...base,
        scheme: 'github-sha1',
        description: 'github: allowSha1 prefers sha256 when both are sent',
        headers: { ...sha1, 'X-Hub-Signature': 'sha1=0000000000000000000000000000000000000000' },
        expected: ok(0),
      },
    );
  }

  // Shopify.
  {
    const body = '{"id":820982911946154508,"email":"jon@example.com"}';
    const { headers } = signed('shopify', body, SHOPIFY_SECRET, {
      id: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043',
    });
    const base = { scheme: 'shopify' as const, secrets: [SHOPIFY_SECRET], headers, body, receivedAt: NOW };
    cases.push(
      { ...base, description: 'shopify: valid', expected: ok(0, 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043') },
      {
        ...base,
        description: 'shopify: tampered body',
        body: body.replace('jon', 'jan'),
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'shopify: wrong secret',
        secrets: ['shpss_other'],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'shopify: missing X-Shopify-Hmac-Sha256',
        headers: without(headers, 'X-Shopify-Hmac-Sha256'),
        expected: fail('missing_header'),
      },
      {
        ...base,
        description: 'shopify: hex instead of base64',
        headers: { ...headers, 'X-Shopify-Hmac-Sha256': 'not base64!' },
        expected: fail('malformed_header'),
      },
    );
  }

  // Slack.
  {
    const body = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather&text=94070';
    const { headers } = signed('slack', body, SLACK_SECRET);
    const base = { scheme: 'slack' as const, secrets: [SLACK_SECRET], headers, body, receivedAt: NOW };
    cases.push(
      { ...base, description: 'slack: valid', expected: ok(0) },
      {
        ...base,
        description: 'slack: tampered body',
        body: body.replace('94070', '94071'),
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'slack: wrong secret',
        secrets: ['not-the-signing-secret'],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'slack: 301 s old',
        receivedAt: NOW + 301,
        expected: fail('timestamp_out_of_tolerance'),
      },
      {
        ...base,
        description: 'slack: missing X-Slack-Request-Timestamp',
        headers: without(headers, 'X-Slack-Request-Timestamp'),
        expected: fail('missing_header'),
      },
      {
        ...base,
        description: 'slack: missing X-Slack-Signature',
        headers: without(headers, 'X-Slack-Signature'),
        expected: fail('missing_header'),
      },
      {
        ...base,
        description: 'slack: signature without v0=',
        headers: { ...headers, 'X-Slack-Signature': (headers['X-Slack-Signature'] ?? '').slice(3) },
        expected: fail('malformed_header'),
      },
    );
  }

  // Twilio: the documented vector, then the JSON bodySHA256 form.
  {
    const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const body = new URLSearchParams({
      CallSid: 'CA1234567890ABCDE',
      Caller: '+12349013030',
      Digits: '1234',
      From: '+12349013030',
      To: '+18005551212',
    }).toString();
    const headers = { 'X-Twilio-Signature': '0/KCTR6DLpKmkAf8muzZqo1nDgQ=' };
    const base = { scheme: 'twilio' as const, secrets: [TWILIO_TOKEN], headers, body, url, receivedAt: NOW };
    cases.push(
      { ...base, description: 'twilio: documented vector', expected: ok(0) },
      {
        ...base,
        description: 'twilio: URL seen with the default port',
        url: 'https://mycompany.com:443/myapp.php?foo=1&bar=2',
        expected: ok(0),
      },
      {
        ...base,
        description: 'twilio: params in another order',
        body: body.split('&').reverse().join('&'),
        expected: ok(0),
      },
      {
        ...base,
        description: 'twilio: tampered parameter',
        body: body.replace('1234&', '1235&'),
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'twilio: wrong URL',
        url: 'https://mycompany.com/myapp.php?foo=1&bar=3',
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'twilio: wrong auth token',
        secrets: ['54321'],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'twilio: missing X-Twilio-Signature',
        headers: {},
        expected: fail('missing_header'),
      },
      { ...base, description: 'twilio: no url given', url: undefined, expected: fail('missing_option') },
    );
    const jsonBody = '{"event":"message.sent","sid":"SM123"}';
    const json = signed('twilio', jsonBody, TWILIO_TOKEN, {
      url: 'https://example.com/twilio/json?x=1',
      contentType: 'application/json',
    });
    const jsonBase = { ...base, headers: json.headers, body: jsonBody, url: json.url ?? '' };
    cases.push(
      { ...jsonBase, description: 'twilio: JSON body with bodySHA256', expected: ok(0) },
      {
        ...jsonBase,
        description: 'twilio: JSON body tampered (hash mismatch)',
        body: jsonBody.replace('SM123', 'SM124'),
        expected: fail('no_matching_signature'),
      },
      {
        ...jsonBase,
        description: 'twilio: JSON bodySHA256 param changed',
        url: (json.url ?? '').replace(
          /bodySHA256=[0-9a-f]+/,
          `bodySHA256=${createHash('sha256').update('x').digest('hex')}`,
        ),
        expected: fail('no_matching_signature'),
      },
    );
  }

  // Paddle Billing.
  {
    const body = '{"event_id":"evt_01h8bzsd1c0t2","event_type":"transaction.paid"}';
    const { headers } = signed('paddle', body, PADDLE_SECRET);
    const base = { scheme: 'paddle' as const, secrets: [PADDLE_SECRET], headers, body, receivedAt: NOW };
    cases.push(
      { ...base, description: 'paddle: valid', expected: ok(0, 'evt_01h8bzsd1c0t2') },
      {
        ...base,
        description: 'paddle: 5 s old is inside the default tolerance',
        receivedAt: NOW + 5,
        expected: ok(0, 'evt_01h8bzsd1c0t2'),
      },
      {
        ...base,
        description: 'paddle: 6 s old is outside the default 5 s',
        receivedAt: NOW + 6,
        expected: fail('timestamp_out_of_tolerance'),
      },
      {
        ...base,
        description: 'paddle: 6 s old with tolerance 60',
        receivedAt: NOW + 6,
        tolerance: 60,
        expected: ok(0, 'evt_01h8bzsd1c0t2'),
      },
      {
        ...base,
        description: 'paddle: tampered body',
        body: body.replace('paid', 'billed'),
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'paddle: wrong secret',
        secrets: ['pdl_ntfset_other'],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'paddle: missing Paddle-Signature',
        headers: {},
        expected: fail('missing_header'),
      },
      {
        ...base,
        description: 'paddle: comma instead of semicolon',
        headers: { 'Paddle-Signature': (headers['Paddle-Signature'] ?? '').replace(';', ',') },
        expected: fail('malformed_header'),
      },
    );
  }

  // Generic HMAC.
  {
    const body = '{"order":42}';
    const { headers } = signed('hmac', body, GENERIC_SECRET, { id: 'dlv_1', hmac: ACME });
    const base = {
      scheme: 'hmac' as const,
      hmac: ACME,
      secrets: [GENERIC_SECRET],
      headers,
      body,
      receivedAt: NOW,
    };
    const plain = { name: 'plain', header: 'X-Signature' } satisfies GenericHmacConfig;
    const plainSigned = signed('hmac', body, GENERIC_SECRET, { hmac: plain }).headers;
    cases.push(
      {
        ...base,
        description: 'hmac: sha512/base64/prefix/template with id and timestamp',
        expected: ok(0, 'dlv_1'),
      },
      {
        ...base,
        description: 'hmac: tampered body',
        body: '{"order":43}',
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'hmac: wrong secret',
        secrets: ['other'],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'hmac: 601 s old',
        receivedAt: NOW + 601,
        expected: fail('timestamp_out_of_tolerance'),
      },
      {
        ...base,
        description: 'hmac: missing id header used by the template',
        headers: without(headers, 'X-Acme-Delivery'),
        expected: fail('missing_header'),
      },
      {
        ...base,
        description: 'hmac: missing prefix',
        headers: { ...headers, 'X-Acme-Signature': (headers['X-Acme-Signature'] ?? '').slice(7) },
        expected: fail('malformed_header'),
      },
      {
        ...base,
        hmac: plain,
        headers: plainSigned,
        description: 'hmac: defaults (sha256, hex, body only)',
        expected: ok(0),
      },
      {
        ...base,
        hmac: plain,
        headers: { 'X-Signature': (plainSigned['X-Signature'] ?? '').toUpperCase() },
        description: 'hmac: upper-case hex',
        expected: ok(0),
      },
      {
        ...base,
        hmac: plain,
        headers: {},
        description: 'hmac: missing header',
        expected: fail('missing_header'),
      },
    );
  }

  // Discord: Ed25519 from the fixed seed (hex, as Discord tooling prints keys).
  {
    const body = '{"id":"1100000000000000001","type":1,"application_id":"1000000000000000001"}';
    const privateKey = ED25519_SEED.toString('hex');
    const publicKey = discordPublicKeyFromSeed(privateKey);
    const otherPublicKey = discordPublicKeyFromSeed(ED25519_OTHER_SEED.toString('hex'));
    const { headers } = signed('discord', body, privateKey);
    const signature = headers['X-Signature-Ed25519'] ?? '';
    const id = '1100000000000000001';
    const base = { scheme: 'discord' as const, secrets: [publicKey], headers, body, receivedAt: NOW };
    cases.push(
      { ...base, description: 'discord: valid PING', expected: ok(0, id) },
      {
        ...base,
        description: 'discord: rotation to a new application key',
        secrets: [otherPublicKey, publicKey],
        expected: ok(1, id),
      },
      {
        ...base,
        description: 'discord: upper-case hex public key',
        secrets: [publicKey.toUpperCase()],
        expected: ok(0, id),
      },
      {
        ...base,
        description: 'discord: tampered body',
        body: body.replace('"type":1', '"type":2'),
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'discord: tampered timestamp',
        headers: { ...headers, 'X-Signature-Timestamp': String(NOW + 1) },
        receivedAt: NOW + 1,
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'discord: wrong public key',
        secrets: [otherPublicKey],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'discord: 301 s old (default tolerance 300 s)',
        receivedAt: NOW + 301,
        expected: fail('timestamp_out_of_tolerance'),
      },
      {
        ...base,
        description: 'discord: signature of 63 bytes',
        headers: { ...headers, 'X-Signature-Ed25519': signature.slice(2) },
        expected: fail('malformed_header'),
      },
      {
        ...base,
        description: 'discord: missing X-Signature-Timestamp',
        headers: without(headers, 'X-Signature-Timestamp'),
        expected: fail('missing_header'),
      },
      {
        ...base,
        description: 'discord: the private key is not a verify secret',
        secrets: [privateKey + publicKey],
        expected: fail('invalid_secret'),
      },
    );
  }

  // HubSpot v1 and v2: HubSpot's documented examples; v3 signed here, with percent-escapes in the URI.
  {
    const v1Body =
      '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]';
    const v1 = {
      scheme: 'hubspot' as const,
      secrets: [HUBSPOT_SECRET],
      headers: {
        'X-HubSpot-Signature': '232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de',
        'X-HubSpot-Signature-Version': 'v1',
      },
      body: v1Body,
      receivedAt: NOW,
    };
    const url = 'https://www.example.com/webhook_uri';
    const v2 = {
      ...v1,
      headers: {
        'X-HubSpot-Signature': 'eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e',
        'X-HubSpot-Signature-Version': 'v2',
      },
      body: '',
      url,
      method: 'GET',
    };
    const v2Post = sign({
      scheme: createHubspotScheme({ signVersion: 'v2' }),
      body: '{"example_field":"example_value"}',
      secret: HUBSPOT_SECRET,
      url,
      timestamp: NOW,
    });
    const v3Url = 'https://app.example.com/hubspot/card?email=ann%40example.com&tags=a%2Cb&name=Ann%20Lee';
    const v3Body = '{"example_field":"example_value"}';
    const v3 = {
      ...v1,
      headers: signed('hubspot', v3Body, HUBSPOT_SECRET, { url: v3Url }).headers,
      body: v3Body,
      url: v3Url,
    };
    cases.push(
      { ...v1, description: 'hubspot v1: documented example', expected: ok(0) },
      {
        ...v1,
        description: 'hubspot v1: no version header means v1',
        headers: without(v1.headers, 'X-HubSpot-Signature-Version'),
        expected: ok(0),
      },
      {
        ...v1,
        description: 'hubspot v1: tampered body',
        body: v1Body.replace('"objectId":123', '"objectId":124'),
        expected: fail('no_matching_signature'),
      },
      {
        ...v1,
        description: 'hubspot v1: wrong secret',
        secrets: ['xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'],
        expected: fail('no_matching_signature'),
      },
      { ...v2, description: 'hubspot v2: documented GET example', expected: ok(0) },
      {
        ...v2,
        description: 'hubspot v2: POST with body',
        headers: v2Post.headers,
        body: '{"example_field":"example_value"}',
        method: 'POST',
        expected: ok(0),
      },
      {
        ...v2,
        description: 'hubspot v2: signed for GET, verified as POST',
        method: 'POST',
        expected: fail('no_matching_signature'),
      },
      {
        ...v2,
        description: 'hubspot v2: other URL',
        url: `${url}?portalId=1`,
        expected: fail('no_matching_signature'),
      },
      { ...v2, description: 'hubspot v2: no url given', url: undefined, expected: fail('missing_option') },
      { ...v3, description: 'hubspot v3: escaped URI as received', expected: ok(0) },
      {
        ...v3,
        description: 'hubspot v3: the decoded URI signs alike',
        url: 'https://app.example.com/hubspot/card?email=ann@example.com&tags=a,b&name=Ann%20Lee',
        expected: ok(0),
      },
      {
        ...v3,
        description: 'hubspot v3: %20 is not decoded by HubSpot',
        url: v3Url.replace('%20', ' '),
        expected: fail('no_matching_signature'),
      },
      {
        ...v3,
        description: 'hubspot v3: tampered body',
        body: v3Body.replace('example_value', 'other_value'),
        expected: fail('no_matching_signature'),
      },
      {
        ...v3,
        description: 'hubspot v3: tampered timestamp',
        headers: { ...v3.headers, 'X-HubSpot-Request-Timestamp': String(NOW * 1000 + 1) },
        expected: fail('no_matching_signature'),
      },
      {
        ...v3,
        description: 'hubspot v3: 301 s old',
        receivedAt: NOW + 301,
        expected: fail('timestamp_out_of_tolerance'),
      },
      {
        ...v3,
        description: 'hubspot v3: v3 wins over a bogus v1 header',
        headers: {
          ...v3.headers,
          'X-HubSpot-Signature': '0'.repeat(64),
          'X-HubSpot-Signature-Version': 'v1',
        },
        expected: ok(0),
      },
      {
        ...v3,
        description: 'hubspot v3: missing timestamp header',
        headers: without(v3.headers, 'X-HubSpot-Request-Timestamp'),
        expected: fail('missing_header'),
      },
      { ...v3, description: 'hubspot v3: no url given', url: undefined, expected: fail('missing_option') },
    );
  }

  // Salesforce Outbound Messaging: no signature; the envelope's OrganizationId is checked.
  {
    const body = buildSalesforceOutboundMessage({
      organizationId: SALESFORCE_ORG,
      actionId: '04k5g000000KzQmAAK',
      notifications: [
        {
          id: '04l5g00000AbCdEAAX',
          sObject: {
            type: 'Account',
            id: '0015g00000QxYzAAAA',
            fields: { Name: 'Acme & Sons', Phone: null, NumberOfEmployees: '42' },
          },
        },
        {
          id: '04l5g00000AbCdFAAX',
          sObject: {
            type: 'Account',
            id: '0015g00000QxZ0AAAA',
            fields: { Name: 'Globex', Phone: '+1 555 0100' },
          },
        },
      ],
    });
    const { headers } = signed('salesforce', body, SALESFORCE_ORG);
    const base = { scheme: 'salesforce' as const, secrets: [SALESFORCE_ORG], headers, body, receivedAt: NOW };
    cases.push(
      { ...base, description: 'salesforce: 18-character org id', expected: ok(0) },
      {
        ...base,
        description: 'salesforce: 15-character org id matches the 18-character one',
        secrets: [SALESFORCE_ORG.slice(0, 15)],
        expected: ok(0),
      },
      {
        ...base,
        description: 'salesforce: other org id',
        secrets: ['00D5g000004XyZbEAK'],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'salesforce: org ids are case-sensitive',
        secrets: [SALESFORCE_ORG.slice(0, 15).toUpperCase()],
        expected: fail('no_matching_signature'),
      },
      {
        ...base,
        description: 'salesforce: not XML',
        body: '{"OrganizationId":"00D5g000004XyZaEAK"}',
        expected: fail('malformed_body'),
      },
      {
        ...base,
        description: 'salesforce: XML without notifications',
        body: '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>',
        expected: fail('malformed_body'),
      },
      {
        ...base,
        description: 'salesforce: org id of 16 characters',
        secrets: [`${SALESFORCE_ORG.slice(0, 15)}E`],
        expected: fail('invalid_secret'),
      },
    );
  }

  return {
    description:
      'Webhook signature vectors for @hookline/receiver. Regenerate with: node packages/receiver/scripts/make-vectors.ts. receivedAt is unix seconds; bodies are UTF-8.',
    ed25519: { seed: ED25519_SEED.toString('hex'), ...keys },
    cases: cases.map(inFileOrder),
  };
}

/** Builds a vector's scheme argument for `verify()`. */
export function vectorScheme(vector: VectorCase): SchemeName | Scheme {
  return schemeFor(vector.scheme, vector.hmac);
}

/** Path of the vectors file. */
export const VECTORS_PATH = new URL('../vectors.json', import.meta.url);

if (import.meta.main) {
  writeFileSync(VECTORS_PATH, `${JSON.stringify(buildVectors(), null, 2)}\n`);
  console.log(`wrote ${buildVectors().cases.length} cases to ${VECTORS_PATH.pathname}`);
}
