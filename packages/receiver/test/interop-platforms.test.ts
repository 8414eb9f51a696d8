/**
 * Cross-checks Discord, HubSpot and Slack against the platforms' own npm libraries. Where a
 * library only verifies (discord-interactions, @slack/bolt), requests are also signed
 * independently (tweetnacl, node:crypto) so both directions are covered: what the library
 * accepts we accept, what we sign the library accepts, and tampered requests fail on both sides.
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign as signEd25519 } from 'node:crypto';
import { describe, test } from 'node:test';
import { Signature } from '@hubspot/api-client';
import { isValidSlackRequest, verifySlackRequest } from '@slack/bolt';
import { verifyKey } from 'discord-interactions';
import nacl from 'tweetnacl';
import { type WebhookErrorCode, WebhookVerificationError } from '../src/errors.ts';
import { discordPublicKeyFromSeed, generateDiscordKeyPair } from '../src/schemes/discord.ts';
import { createHubspotScheme } from '../src/schemes/hubspot.ts';
import { sign } from '../src/sign.ts';
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

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('discord (discord-interactions verifyKey, tweetnacl keys)', () => {
  const body = JSON.stringify({ id: '1234567890123456789', type: 2, data: { name: 'ping' } });
  const seed = Buffer.alloc(32, 7);
  const pair = nacl.sign.keyPair.fromSeed(seed);
  const publicKey = hex(pair.publicKey);
  const tweetnaclSecretKey = hex(pair.secretKey); // 64 bytes: seed + public key

  function naclHeaders(content: string, timestamp: string): Record<string, string> {
    const signature = nacl.sign.detached(Buffer.from(timestamp + content), pair.secretKey);
    return { 'X-Signature-Ed25519': hex(signature), 'X-Signature-Timestamp': timestamp };
  }

  test('our key helpers agree with tweetnacl', () => {
    assert.equal(discordPublicKeyFromSeed(hex(seed)), publicKey);
    assert.equal(discordPublicKeyFromSeed(tweetnaclSecretKey), publicKey);
    const generated = generateDiscordKeyPair();
    const naclPair = nacl.sign.keyPair.fromSeed(Buffer.from(generated.privateKey, 'hex'));
    assert.equal(hex(naclPair.publicKey), generated.publicKey);
  });

  test('tweetnacl-signed -> verifyKey and verify() both accept', async () => {
    const timestamp = String(nowSeconds());
    const headers = naclHeaders(body, timestamp);
    assert.equal(await verifyKey(body, headers['X-Signature-Ed25519'] ?? '', timestamp, publicKey), true);
    const result = verify({ scheme: 'discord', body, headers, secret: publicKey });
    assert.equal(result.id, '1234567890123456789');
    assert.equal(result.timestamp, Number(timestamp));
  });

  test('sign() with the tweetnacl 64-byte key and with the seed -> verifyKey accepts; same signature', async () => {
    const timestamp = nowSeconds();
    const fromNaclKey = sign({ scheme: 'discord', body, secret: tweetnaclSecretKey, timestamp });
    const fromSeed = sign({ scheme: 'discord', body, secret: hex(seed), timestamp });
    assert.deepEqual(fromNaclKey.headers, fromSeed.headers);
    // Ed25519 is deterministic: our signature is byte-for-byte tweetnacl's.
    assert.deepEqual(fromSeed.headers, naclHeaders(body, String(timestamp)));
    const { headers } = fromSeed;
    assert.equal(
      await verifyKey(
        body,
        headers['X-Signature-Ed25519'] ?? '',
        headers['X-Signature-Timestamp'] ?? '',
        publicKey,
      ),
      true,
    );
  });

  test('node:crypto key pair signs, both sides accept', async () => {
    const { privateKey, publicKey: key } = generateKeyPairSync('ed25519');
    const rawPublic = hex(key.export({ format: 'der', type: 'spki' }).subarray(-32));
    const timestamp = String(nowSeconds());
    const signature = hex(signEd25519(null, Buffer.from(timestamp + body), privateKey));
    assert.equal(await verifyKey(body, signature, timestamp, rawPublic), true);
    const headers = { 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp };
    assert.equal(verify({ scheme: 'discord', body, headers, secret: rawPublic }).matchedSecretIndex, 0);
  });

  test('tampered body, timestamp, signature, wrong key: both sides reject', async () => {
    const timestamp = String(nowSeconds());
    const headers = naclHeaders(body, timestamp);
    const signature = headers['X-Signature-Ed25519'] ?? '';
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('00') ? '01' : '00'}`;
    const otherKey = hex(nacl.sign.keyPair.fromSeed(Buffer.alloc(32, 8)).publicKey);
    const later = String(Number(timestamp) + 1);
    const cases = [
      { body: `${body} `, signature, timestamp, key: publicKey },
      { body, signature, timestamp: later, key: publicKey },
      { body, signature: flipped, timestamp, key: publicKey },
      { body, signature, timestamp, key: otherKey },
    ];
    for (const c of cases) {
      assert.equal(await verifyKey(c.body, c.signature, c.timestamp, c.key), false);
      assertCode(
        () =>
          verify({
            scheme: 'discord',
            body: c.body,
            headers: { 'X-Signature-Ed25519': c.signature, 'X-Signature-Timestamp': c.timestamp },
            secret: c.key,
          }),
        'no_matching_signature',
      );
    }
  });

  test('stale timestamp: default 300 s tolerance; Infinity disables', () => {
    const timestamp = String(nowSeconds() - 301);
    const headers = naclHeaders(body, timestamp);
    assertCode(
      () => verify({ scheme: 'discord', body, headers, secret: publicKey }),
      'timestamp_out_of_tolerance',
    );
    assert.ok(verify({ scheme: 'discord', body, headers, secret: publicKey, tolerance: Infinity }));
  });

  test('a private key, a bot token or non-hex as the verify secret -> invalid_secret', () => {
    const headers = naclHeaders(body, String(nowSeconds()));
    for (const secret of [tweetnaclSecretKey, 'MTIzNDU2Nzg5.bot-token', `${publicKey.slice(0, 63)}g`]) {
      assertCode(() => verify({ scheme: 'discord', body, headers, secret }), 'invalid_secret');
    }
  });

  test('missing and malformed headers', () => {
    const headers = naclHeaders(body, String(nowSeconds()));
    assertCode(
      () =>
        verify({
          scheme: 'discord',
          body,
          headers: { 'X-Signature-Timestamp': headers['X-Signature-Timestamp'] ?? '' },
          secret: publicKey,
        }),
      'missing_header',
    );
    assertCode(
      () =>
        verify({
          scheme: 'discord',
          body,
          headers: { ...headers, 'X-Signature-Ed25519': (headers['X-Signature-Ed25519'] ?? '').slice(2) },
          secret: publicKey,
        }),
      'malformed_header',
    );
  });
});

describe('hubspot (@hubspot/api-client Signature)', () => {
  const clientSecret = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
  const requestBody =
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]';
  const url = 'https://www.example.com/webhook_uri';

  test('v1: their signature verifies; ours passes isValid; tampering fails', () => {
    const signature = Signature.getSignature('POST', 'v1', { signature: '', clientSecret, requestBody });
    // The SDK's own test vector.
    assert.equal(signature, '232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de');
    const headers = { 'X-HubSpot-Signature': signature, 'X-HubSpot-Signature-Version': 'v1' };
    assert.equal(
      verify({ scheme: 'hubspot', body: requestBody, headers, secret: clientSecret }).scheme,
      'hubspot',
    );
    const ours = sign({
      scheme: createHubspotScheme({ signVersion: 'v1' }),
      body: requestBody,
      secret: clientSecret,
    });
    assert.deepEqual(ours.headers, headers);
    assert.equal(
      Signature.isValid({ signature: ours.headers['X-HubSpot-Signature'] ?? '', clientSecret, requestBody }),
      true,
    );
    assertCode(
      () => verify({ scheme: 'hubspot', body: `${requestBody} `, headers, secret: clientSecret }),
      'no_matching_signature',
    );
    assertCode(
      () => verify({ scheme: 'hubspot', body: requestBody, headers, secret: `${clientSecret}x` }),
      'no_matching_signature',
    );
  });

  test('v2: GET without body and POST with body; needs url', () => {
    for (const [method, body] of [
      ['GET', ''],
      ['POST', '{"example_field":"example_value"}'],
    ] as const) {
      const signature = Signature.getSignature(method, 'v2', {
        signature: '',
        clientSecret,
        requestBody: body,
        url,
      });
      const headers = { 'X-HubSpot-Signature': signature, 'X-HubSpot-Signature-Version': 'v2' };
      assert.ok(verify({ scheme: 'hubspot', body, headers, secret: clientSecret, url, method }));
      const ours = sign({
        scheme: createHubspotScheme({ signVersion: 'v2' }),
        body,
        secret: clientSecret,
        url,
        method,
      });
      assert.equal(
        Signature.isValid({
          signature: ours.headers['X-HubSpot-Signature'] ?? '',
          clientSecret,
          requestBody: body,
          url,
          method,
          signatureVersion: 'v2',
        }),
        true,
      );
      const wrongMethod = method === 'GET' ? 'POST' : 'GET';
      assertCode(
        () => verify({ scheme: 'hubspot', body, headers, secret: clientSecret, url, method: wrongMethod }),
        'no_matching_signature',
      );
      assertCode(
        () => verify({ scheme: 'hubspot', body, headers, secret: clientSecret, url: `${url}?x=1`, method }),
        'no_matching_signature',
      );
      assertCode(
        () => verify({ scheme: 'hubspot', body, headers, secret: clientSecret, method }),
        'missing_option',
      );
    }
    // The SDK test vectors (HubSpot's documented examples).
    assert.equal(
      Signature.getSignature('GET', 'v2', { signature: '', clientSecret, requestBody: '', url }),
      'eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e',
    );
  });

  test('v3: both directions, tampering, stale timestamp', () => {
    const body = '{"example_field":"example_value"}';
    const timestamp = Date.now();
    const options = { signature: '', clientSecret, requestBody: body, url, timestamp };
    const signature = Signature.getSignature('POST', 'v3', options);
    const headers = {
      'X-HubSpot-Signature-v3': signature,
      'X-HubSpot-Request-Timestamp': String(timestamp),
      // HubSpot sends the older signature alongside; v3 wins when present.
      'X-HubSpot-Signature': '0'.repeat(64),
      'X-HubSpot-Signature-Version': 'v1',
    };
    const result = verify({ scheme: 'hubspot', body, headers, secret: clientSecret, url });
    assert.equal(result.timestamp, timestamp / 1000);

    const ours = sign({ scheme: 'hubspot', body, secret: clientSecret, url });
    assert.equal(
      Signature.isValid({
        signature: ours.headers['X-HubSpot-Signature-v3'] ?? '',
        clientSecret,
        requestBody: body,
        url,
        signatureVersion: 'v3',
        timestamp: Number(ours.headers['X-HubSpot-Request-Timestamp']),
      }),
      true,
    );

    const tampered = [
      { body: `${body} `, headers },
      { body, headers: { ...headers, 'X-HubSpot-Request-Timestamp': String(timestamp + 1) } },
      {
        body,
        headers: {
          ...headers,
          'X-HubSpot-Signature-v3': Signature.getSignature('POST', 'v3', {
            ...options,
            clientSecret: 'other',
          }),
        },
      },
    ];
    for (const c of tampered) {
      assertCode(
        () => verify({ scheme: 'hubspot', body: c.body, headers: c.headers, secret: clientSecret, url }),
        'no_matching_signature',
      );
    }
    assertCode(
      () => verify({ scheme: 'hubspot', body, headers, secret: 'other', url }),
      'no_matching_signature',
    );

    const stale = Date.now() - 301_000;
    const staleHeaders = {
      'X-HubSpot-Signature-v3': Signature.getSignature('POST', 'v3', { ...options, timestamp: stale }),
      'X-HubSpot-Request-Timestamp': String(stale),
    };
    assert.throws(() =>
      Signature.isValid({
        ...options,
        signature: staleHeaders['X-HubSpot-Signature-v3'],
        signatureVersion: 'v3',
        timestamp: stale,
      }),
    );
    assertCode(
      () => verify({ scheme: 'hubspot', body, headers: staleHeaders, secret: clientSecret, url }),
      'timestamp_out_of_tolerance',
    );
  });

  test('v3 with percent-escapes: HubSpot signs the URI with the listed escapes decoded', () => {
    const body = '';
    // As received (and as `url` is passed): escaped; HubSpot signed the decoded form of the listed
    // escapes (%40 %3A %2F %2C ...) but leaves others (%20, %26) as they are.
    const received =
      'https://app.example.com/hubspot/crm-card?email=ann%40example.com&tags=a%2Cb&path=%2Fx%3Ay&name=Ann%20Lee&q=a%26b';
    const signedUri =
      'https://app.example.com/hubspot/crm-card?email=ann@example.com&tags=a,b&path=/x:y&name=Ann%20Lee&q=a%26b';
    const timestamp = Date.now();
    const signature = Signature.getSignature('GET', 'v3', {
      signature: '',
      clientSecret,
      requestBody: body,
      url: signedUri,
      timestamp,
    });
    const headers = { 'X-HubSpot-Signature-v3': signature, 'X-HubSpot-Request-Timestamp': String(timestamp) };
    assert.ok(
      verify({ scheme: 'hubspot', body, headers, secret: clientSecret, url: received, method: 'GET' }),
    );
    // Lower-case escapes decode too.
    assert.ok(
      verify({
        scheme: 'hubspot',
        body,
        headers,
        secret: clientSecret,
        url: received.replace('%2C', '%2c'),
        method: 'GET',
      }),
    );
    // %26 must stay escaped: decoding it changes the signed URI.
    assertCode(
      () =>
        verify({
          scheme: 'hubspot',
          body,
          headers,
          secret: clientSecret,
          url: received.replace('%26', '&'),
          method: 'GET',
        }),
      'no_matching_signature',
    );
    // Our signature over the escaped URL is HubSpot's over the decoded one.
    const ours = sign({ scheme: 'hubspot', body, secret: clientSecret, url: received, method: 'GET' });
    assert.equal(
      Signature.isValid({
        signature: ours.headers['X-HubSpot-Signature-v3'] ?? '',
        clientSecret,
        requestBody: body,
        url: signedUri,
        method: 'GET',
        signatureVersion: 'v3',
        timestamp: Number(ours.headers['X-HubSpot-Request-Timestamp']),
      }),
      true,
    );
  });

  test('headers: none, unknown version, bad encodings', () => {
    const body = '{}';
    assertCode(
      () => verify({ scheme: 'hubspot', body, headers: {}, secret: clientSecret, url }),
      'missing_header',
    );
    assertCode(
      () =>
        verify({
          scheme: 'hubspot',
          body,
          headers: { 'X-HubSpot-Signature': '0'.repeat(64), 'X-HubSpot-Signature-Version': 'v9' },
          secret: clientSecret,
        }),
      'malformed_header',
    );
    assertCode(
      () =>
        verify({ scheme: 'hubspot', body, headers: { 'X-HubSpot-Signature': 'zz' }, secret: clientSecret }),
      'malformed_header',
    );
    assertCode(
      () =>
        verify({
          scheme: 'hubspot',
          body,
          headers: { 'X-HubSpot-Signature-v3': 'not base64!', 'X-HubSpot-Request-Timestamp': '1' },
          secret: clientSecret,
          url,
        }),
      'malformed_header',
    );
    assertCode(
      () =>
        verify({
          scheme: 'hubspot',
          body,
          headers: { 'X-HubSpot-Signature-v3': Buffer.alloc(32).toString('base64') },
          secret: clientSecret,
          url,
        }),
      'missing_header',
    );
  });
});

describe('slack (@slack/bolt verifySlackRequest)', () => {
  const signingSecret = '8f742231b10e8888abcd99yyyzzz85a5';
  const body = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fweather&text=94070';

  function boltHeaders(headers: Record<string, string>) {
    return {
      'x-slack-signature': headers['X-Slack-Signature'] ?? '',
      'x-slack-request-timestamp': Number(headers['X-Slack-Request-Timestamp']),
    };
  }

  test('sign() -> verifySlackRequest and isValidSlackRequest accept', () => {
    const { headers } = sign({ scheme: 'slack', body, secret: signingSecret });
    verifySlackRequest({ signingSecret, body, headers: boltHeaders(headers) });
    assert.equal(isValidSlackRequest({ signingSecret, body, headers: boltHeaders(headers) }), true);
  });

  test('what bolt accepts (signed per Slack docs with node:crypto) verify() accepts', () => {
    const timestamp = String(nowSeconds());
    const signature = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
    const headers = { 'X-Slack-Signature': signature, 'X-Slack-Request-Timestamp': timestamp };
    assert.equal(isValidSlackRequest({ signingSecret, body, headers: boltHeaders(headers) }), true);
    assert.equal(
      verify({ scheme: 'slack', body, headers, secret: signingSecret }).timestamp,
      Number(timestamp),
    );
  });

  test('tampered body, wrong secret, stale timestamp: both reject', () => {
    const { headers } = sign({ scheme: 'slack', body, secret: signingSecret });
    const stale = sign({
      scheme: 'slack',
      body,
      secret: signingSecret,
      timestamp: nowSeconds() - 600,
    }).headers;
    const cases: { body: string; headers: Record<string, string>; secret: string; code: WebhookErrorCode }[] =
      [
        { body: `${body}&x=1`, headers, secret: signingSecret, code: 'no_matching_signature' },
        { body, headers, secret: `${signingSecret}0`, code: 'no_matching_signature' },
        { body, headers: stale, secret: signingSecret, code: 'timestamp_out_of_tolerance' },
      ];
    for (const c of cases) {
      assert.equal(
        isValidSlackRequest({ signingSecret: c.secret, body: c.body, headers: boltHeaders(c.headers) }),
        false,
      );
      assert.throws(() =>
        verifySlackRequest({ signingSecret: c.secret, body: c.body, headers: boltHeaders(c.headers) }),
      );
      assertCode(
        () => verify({ scheme: 'slack', body: c.body, headers: c.headers, secret: c.secret }),
        c.code,
      );
    }
  });
});
