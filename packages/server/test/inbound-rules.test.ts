/** The pure parts of the gateway: which headers are forwarded, dedupe keys and event types. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Source } from '../src/core/types.ts';
import { forwardedHeaders } from '../src/delivery/dispatcher.ts';
import {
  dedupeKey,
  eventTypeOf,
  jsonPathValue,
  lazyJson,
  UNTYPED_EVENT,
  verificationProblems,
} from '../src/inbound/rules.ts';

const source = (over: Partial<Source>): Source => ({
  id: 'src_x',
  name: 'x',
  appId: 'app_x',
  description: '',
  verification: { scheme: 'github', secrets: ['s'], tolerance: null, url: null, hmac: null },
  forwardSecrets: [{ key: 'whsec_x', expiresAt: null }],
  dedupe: { header: null, jsonPath: null, windowMs: 1000 },
  eventType: null,
  maxBodyBytes: null,
  handshake: { provider: true, discordResponse: { type: 5 }, challenge: null },
  allowedIps: null,
  destinations: [],
  createdAt: 0,
  updatedAt: 0,
  ...over,
});

describe('forwardedHeaders', () => {
  test('drops hop-by-hop, framing, proxy and signature headers, and those named by Connection', () => {
    const out = forwardedHeaders([
      ['Host', 'hookline.example'],
      ['Connection', 'keep-alive, X-Hop'],
      ['Keep-Alive', 'timeout=5'],
      ['X-Hop', 'dropped'],
      ['Transfer-Encoding', 'chunked'],
      ['Content-Length', '12'],
      ['Content-Type', 'application/json'],
      ['TE', 'trailers'],
      ['Upgrade', 'h2c'],
      ['Proxy-Authorization', 'Basic x'],
      ['X-Forwarded-For', '10.0.0.1'],
      ['webhook-signature', 'v1,provider'],
      ['svix-id', 'msg_provider'],
      ['User-Agent', 'GitHub-Hookshot/1'],
      ['X-GitHub-Event', 'push'],
      ['Accept', 'a'],
      ['accept', 'b'],
    ]);
    assert.deepEqual(out, { 'user-agent': 'GitHub-Hookshot/1', 'x-github-event': 'push', accept: 'a, b' });
  });
});

describe('dedupe keys and event types', () => {
  const headers: [string, string][] = [
    ['X-GitHub-Event', 'issues'],
    ['X-Request-Id', 'r-1'],
  ];
  const json = lazyJson(Buffer.from('{"id":"evt_1","type":"invoice.paid","data":{"object":{"id":42}}}'));

  test('jsonPathValue reads dotted paths to strings and numbers only', () => {
    const v = json();
    assert.equal(jsonPathValue(v, 'data.object.id'), '42');
    assert.equal(jsonPathValue(v, 'type'), 'invoice.paid');
    assert.equal(jsonPathValue(v, 'data.object'), undefined);
    assert.equal(jsonPathValue(v, 'data.missing.id'), undefined);
    assert.equal(jsonPathValue(v, '__proto__'), undefined);
    assert.equal(jsonPathValue(lazyJson(Buffer.from('not json'))(), 'id'), undefined);
  });

  test('the dedupe key comes from the rule, else from the id the scheme reported', () => {
    assert.equal(dedupeKey(source({}), headers, json, 'delivery-9'), 'delivery-9');
    assert.equal(
      dedupeKey(
        source({ dedupe: { header: 'x-request-id', jsonPath: null, windowMs: 1 } }),
        headers,
        json,
        'd',
      ),
      'r-1',
    );
    assert.equal(
      dedupeKey(
        source({ dedupe: { header: null, jsonPath: 'data.object.id', windowMs: 1 } }),
        headers,
        json,
        'd',
      ),
      '42',
    );
    assert.equal(dedupeKey(source({ dedupe: null }), headers, json, 'delivery-9'), null);
    assert.equal(dedupeKey(source({}), headers, json, undefined), null);
  });

  test("the event type comes from the source's field, else the provider's usual place", () => {
    assert.equal(eventTypeOf(source({}), headers, json), 'issues');
    const stripe = source({
      verification: { scheme: 'stripe', secrets: ['whsec_x'], tolerance: null, url: null, hmac: null },
    });
    assert.equal(eventTypeOf(stripe, headers, json), 'invoice.paid');
    assert.equal(
      eventTypeOf(source({ eventType: { header: null, jsonPath: 'id' } }), headers, json),
      'evt_1',
    );
    const none = source({
      verification: { scheme: 'none', secrets: [], tolerance: null, url: null, hmac: null },
    });
    assert.equal(eventTypeOf(none, headers, json), UNTYPED_EVENT);
  });

  test('verificationProblems names what is wrong with a definition', () => {
    const v = (over: object) => ({
      scheme: 'github',
      secrets: ['s'],
      tolerance: null,
      url: null,
      hmac: null,
      ...over,
    });
    assert.deepEqual(verificationProblems(v({})), []);
    assert.deepEqual(verificationProblems(v({ scheme: 'none', secrets: [] })), []);
    assert.equal(verificationProblems(v({ secrets: [] }))[0]?.field, 'secrets');
    assert.equal(verificationProblems(v({ scheme: 'nope' }))[0]?.field, 'scheme');
    assert.equal(verificationProblems(v({ scheme: 'twilio' }))[0]?.field, 'url');
    assert.equal(
      verificationProblems(v({ scheme: 'standard-webhooks', secrets: ['whsec_???'] }))[0]?.field,
      'secrets.0',
    );
    assert.equal(
      verificationProblems(
        v({ scheme: 'hmac', hmac: { header: 'X-Sig', template: '{timestamp}.{body}' } }),
      )[0]?.field,
      'hmac',
    );
  });
});
