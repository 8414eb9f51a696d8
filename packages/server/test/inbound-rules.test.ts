/** The pure parts of the gateway: which headers are forwarded, dedupe keys and event types. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { buildSalesforceOutboundMessage } from '@hookline/receiver';
import { ConfigError, loadConfig } from '../src/config.ts';
import { ipRangeProblems } from '../src/core/ip-ranges.ts';
import type { ChallengeRule, Source, SourceScheme, SourceVerification } from '../src/core/types.ts';
import { forwardedHeaders } from '../src/delivery/headers.ts';
import { ipAllowed } from '../src/inbound/allowlist.ts';
import {
  CHALLENGE_PRESETS,
  challengeAnswer,
  challengeProblems,
  providerHandshake,
  providerReply,
} from '../src/inbound/handshakes.ts';
import {
  dedupeKey,
  discordWebhookEvent,
  eventTypeOf,
  jsonPathValue,
  lazyJson,
  salesforceMessage,
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
  ingest: null,
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

  test('the dedupe key comes from the rule, else the signed id, else the hash of the signed content', () => {
    const signed = { id: 'delivery-9', idSigned: true, contentHash: 'c0ffee' };
    const unsigned = { ...signed, idSigned: false };
    assert.equal(dedupeKey(source({}), headers, json, signed), 'delivery-9');
    assert.equal(
      dedupeKey(source({}), headers, json, unsigned),
      'sha256:c0ffee',
      'an id outside the signature can be changed by anyone replaying the request',
    );
    assert.equal(
      dedupeKey(source({}), headers, json, { id: undefined, idSigned: false, contentHash: 'c0ffee' }),
      'sha256:c0ffee',
    );
    assert.equal(
      dedupeKey(source({}), headers, json, { ...unsigned, contentHash: undefined }),
      'delivery-9',
      'a scheme that signs nothing keeps its id',
    );
    assert.equal(
      dedupeKey(
        source({ dedupe: { header: 'x-request-id', jsonPath: null, windowMs: 1 } }),
        headers,
        json,
        signed,
      ),
      'r-1',
    );
    assert.equal(
      dedupeKey(
        source({ dedupe: { header: null, jsonPath: 'data.object.id', windowMs: 1 } }),
        headers,
        json,
        signed,
      ),
      '42',
    );
    assert.equal(dedupeKey(source({ dedupe: null }), headers, json, signed), null);
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
    const v = (over: object): SourceVerification => ({
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

describe('handshakes, allowlists and provider event types', () => {
  const q = (s: string) => new URLSearchParams(s);
  const rule = (preset: string, over: Partial<ChallengeRule> = {}): ChallengeRule => ({
    ...CHALLENGE_PRESETS[preset]!,
    preset,
    secret: null,
    ...over,
  });

  test('challenge presets answer only their own requests', () => {
    const graph = rule('graph');
    assert.deepEqual(challengeAnswer(graph, 'POST', q('validationToken=a%20b'), lazyJson(Buffer.alloc(0))), {
      contentType: 'text/plain; charset=utf-8',
      body: 'a b',
    });
    assert.equal(challengeAnswer(graph, 'GET', q('validationToken=x'), lazyJson(Buffer.alloc(0))), null);
    assert.equal(challengeAnswer(graph, 'POST', q(''), lazyJson(Buffer.alloc(0))), null);
    assert.equal(
      challengeAnswer(rule('dropbox'), 'GET', q('challenge=c1'), lazyJson(Buffer.alloc(0)))?.body,
      'c1',
    );

    const zoom = rule('zoom', { secret: 'zs' });
    const body = (event: string) =>
      lazyJson(Buffer.from(JSON.stringify({ event, payload: { plainToken: 'pt' } })));
    assert.deepEqual(
      JSON.parse(challengeAnswer(zoom, 'POST', q(''), body('endpoint.url_validation'))!.body),
      {
        plainToken: 'pt',
        encryptedToken: createHmac('sha256', 'zs').update('pt').digest('hex'),
      },
    );
    assert.equal(
      challengeAnswer(zoom, 'POST', q(''), body('meeting.started')),
      null,
      'only when event matches',
    );
    assert.deepEqual(challengeProblems(zoom), []);
    assert.equal(challengeProblems({ ...zoom, secret: null })[0]?.field, 'secret');
  });

  test('provider handshakes: Slack url_verification and Discord PING, unless turned off', () => {
    const slack = source({
      verification: { scheme: 'slack', secrets: ['s'], tolerance: null, url: null, hmac: null },
    });
    const json = lazyJson(Buffer.from('{"type":"url_verification","challenge":"ch"}'));
    assert.equal(providerHandshake(slack, json)?.body, '{"challenge":"ch"}');
    assert.equal(
      providerHandshake({ ...slack, handshake: { ...slack.handshake, provider: false } }, json),
      null,
    );
    const discord = source({
      verification: { scheme: 'discord', secrets: ['k'], tolerance: null, url: null, hmac: null },
    });
    assert.equal(providerHandshake(discord, lazyJson(Buffer.from('{"type":1}')))?.body, '{"type":1}');
    assert.equal(providerHandshake(discord, lazyJson(Buffer.from('{"type":2}'))), null);
    const interaction = lazyJson(Buffer.from('{"id":"1","type":2,"version":1,"application_id":"9"}'));
    assert.equal(providerReply(discord, interaction)?.body, '{"type":5}');
    assert.equal(providerReply(slack, json), null);
  });

  test('Discord webhook events are told from interactions: PING 204, events forwarded with event.type', () => {
    const discord = source({
      verification: { scheme: 'discord', secrets: ['k'], tolerance: null, url: null, hmac: null },
    });
    const ping = lazyJson(Buffer.from('{"version":1,"application_id":"9","type":0}'));
    const event = lazyJson(
      Buffer.from(
        '{"version":1,"application_id":"9","type":1,"event":{"type":"ENTITLEMENT_CREATE","timestamp":"2024-10-18T14:42:53.064834","data":{}}}',
      ),
    );
    const interactionPing = lazyJson(Buffer.from('{"id":"1","application_id":"9","type":1,"version":1}'));
    assert.equal(discordWebhookEvent(ping()), 'ping');
    assert.equal(discordWebhookEvent(event()), 'event');
    assert.equal(discordWebhookEvent(interactionPing()), null);
    assert.equal(discordWebhookEvent({ version: 1, application_id: '9', type: 1 }), null, 'no event object');
    assert.equal(providerHandshake(discord, ping)?.status, 204);
    assert.equal(providerHandshake(discord, event), null, 'an event is no handshake');
    assert.equal(providerHandshake(discord, interactionPing)?.body, '{"type":1}');
    assert.equal(providerReply(discord, event)?.status, 204);
    assert.equal(eventTypeOf(discord, [], event), 'ENTITLEMENT_CREATE');
    assert.equal(eventTypeOf(discord, [], interactionPing), '1');
  });

  test('allowlists: v4, v6, v4-mapped clients; entries checked strictly', () => {
    const list = ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'];
    for (const [addr, ok] of [
      ['10.255.0.1', true],
      ['::ffff:10.0.0.1', true],
      ['11.0.0.1', false],
      ['2001:db8::1', true],
      ['2001:db9::1', false],
      ['192.0.2.7', true],
      ['192.0.2.8', false],
      ['not-an-ip', false],
    ] as const) {
      assert.equal(ipAllowed(list, addr, 'rules-test'), ok, addr);
    }
    assert.deepEqual(
      ipRangeProblems(['10.0.0.0/8', '10.1', '10.0.0.0/33', '::1/129', '::ffff:10.0.0.0/104']).map(
        (p) => p.index,
      ),
      [1, 2, 3],
    );
  });

  test('HOOKLINE_TRUST_PROXY: true, a hop count or proxy addresses', () => {
    assert.equal(loadConfig({}).trustProxy, false);
    assert.equal(loadConfig({ HOOKLINE_TRUST_PROXY: 'true' }).trustProxy, true);
    assert.equal(loadConfig({ HOOKLINE_TRUST_PROXY: '2' }).trustProxy, 2);
    assert.deepEqual(loadConfig({ HOOKLINE_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, [
      '10.0.0.0/8',
      '127.0.0.1',
    ]);
    assert.throws(() => loadConfig({ HOOKLINE_TRUST_PROXY: 'proxy.local' }), ConfigError);
  });

  test('event types: HubSpot subscriptionType, Discord interaction type, Salesforce sObject type', () => {
    const of = (scheme: SourceScheme, body: string) =>
      eventTypeOf(
        source({ verification: { scheme, secrets: ['s'], tolerance: null, url: null, hmac: null } }),
        [],
        lazyJson(Buffer.from(body)),
        scheme === 'salesforce' ? salesforceMessage(Buffer.from(body)) : null,
      );
    assert.equal(of('hubspot', '[{"subscriptionType":"contact.creation","objectId":1}]'), 'contact.creation');
    assert.equal(of('discord', '{"type":2}'), '2');
    const soap = buildSalesforceOutboundMessage({
      organizationId: '00D5e000001AbCdEAA',
      notifications: [
        { id: '04l5e00000A1aaaAAA', sObject: { type: 'Opportunity', id: '0065e00000Q1xyzAAA' } },
      ],
    });
    assert.equal(of('salesforce', soap), 'salesforce.Opportunity');
    assert.equal(of('salesforce', '<not-soap/>'), UNTYPED_EVENT);
  });
});
