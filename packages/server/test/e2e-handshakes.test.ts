/**
 * Handshakes and allowlists at `/in/{source}`, end to end on a real Hookline over both stores:
 * providers' URL checks (Slack, Discord, Microsoft Graph, Dropbox, Zoom) are answered at once,
 * logged as `handshake` events and never forwarded; a Salesforce Outbound Message is
 * acknowledged after it is stored and forwarded as one message per notification, once; and a
 * source's IP allowlist refuses other clients before their body is read.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  buildSalesforceOutboundMessage,
  generateDiscordKeyPair,
  parseSalesforceOutboundMessage,
  sign,
} from '@hookline/receiver';
import { XMLParser } from 'fast-xml-parser';
import { headersOf, startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';
import { metricValue } from './prometheus.ts';

const ORG = '00D5e000001AbCdEAA';

/** A realistic Outbound Message: three notifications, two objects, a null field. */
const salesforceBody = (
  notifications: { id: string; type: string; recordId: string; name: string | null }[],
) =>
  buildSalesforceOutboundMessage({
    organizationId: ORG,
    actionId: '04k5e000000KyyGAAS',
    sessionId: null,
    notifications: notifications.map((n) => ({
      id: n.id,
      sObject: { type: n.type, id: n.recordId, fields: { Name: n.name, Industry: 'Energy' } },
    })),
  });
const SF_HEADERS = { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' };
const three = [
  { id: '04l5e00000A1aaaAAA', type: 'Account', recordId: '0015e00000Q1xyzAAA', name: 'Acme' },
  { id: '04l5e00000A1aabAAA', type: 'Contact', recordId: '0035e00000Q1xyzAAA', name: null },
  { id: '04l5e00000A1aacAAA', type: 'Account', recordId: '0015e00000Q1xzzAAA', name: 'Globex' },
];

const xml = new XMLParser({ removeNSPrefix: true, parseTagValue: false });
const ackOf = (text: string) =>
  xml.parse(text)?.Envelope?.Body?.notificationsResponse?.Ack as string | undefined;

for (const kind of await testStores()) {
  describe(`handshakes and allowlists at /in/{source} (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    const receivers: TestReceiver[] = [];
    const drain = () => server.hookline.dispatcher!.drain();

    before(async () => {
      db = await kind.open('handshakes');
      server = await startHookline({ env: { HOOKLINE_RETRY_SCHEDULE: '0.05', ...db.env } });
    });
    after(async () => {
      await server?.close();
      for (const r of receivers) await r.close();
      await db?.drop();
    });

    async function destination() {
      const r = await startReceiver();
      receivers.push(r);
      return r;
    }
    async function createSource(body: Record<string, unknown>) {
      const res = await server.call('POST', '/api/v1/source', body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    }
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/in/${path}`, { method: 'POST', headers, body });
    async function events(sourceId: string, status?: string) {
      const res = await server.call(
        'GET',
        `/api/v1/source/${sourceId}/event${status ? `?status=${status}` : ''}`,
      );
      assert.equal(res.status, 200);
      return res.body.data as any[];
    }

    test('Slack url_verification: signed gets its challenge back, is logged as a handshake and never forwarded', async () => {
      const dest = await destination();
      const secret = 'slack-signing-secret-77aa';
      const source = await createSource({
        name: 'slack-hs',
        verification: { scheme: 'slack', secrets: [secret] },
        destinations: [{ url: dest.url }],
      });
      const body = JSON.stringify({
        token: 'x',
        challenge: 'c-3eZbrw1aBm2rZgRNFdxV2595E9CY',
        type: 'url_verification',
      });
      const ok = await post('slack-hs', body, {
        'content-type': 'application/json',
        ...sign({ scheme: 'slack', body, secret }).headers,
      });
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await ok.json(), { challenge: 'c-3eZbrw1aBm2rZgRNFdxV2595E9CY' });
      const eventId = ok.headers.get('hookline-event-id');
      assert.ok(eventId);

      const unsigned = await post('slack-hs', body, { 'content-type': 'application/json' });
      assert.equal(unsigned.status, 401);
      assert.equal(((await unsigned.json()) as { code: string }).code, 'missing_header');

      await drain();
      assert.equal(dest.requests.length, 0, 'a handshake is never forwarded');
      const logged = await events(source.id);
      assert.deepEqual(logged.map((e) => e.status).sort(), ['handshake', 'rejected']);
      assert.deepEqual(
        (await events(source.id, 'handshake')).map((e) => e.id),
        [eventId],
      );
      const detail = await server.call('GET', `/api/v1/source/${source.id}/event/${eventId}`);
      assert.equal(detail.status, 200);
      assert.equal(detail.body.status, 'handshake');
      assert.equal(detail.body.body, body);
      assert.deepEqual(detail.body.attempts, []);
      // A handshake is no message: replay refuses it like a rejected request would be refused.
      const replay = await server.call('POST', `/api/v1/source/${source.id}/event/${eventId}/replay`, {});
      assert.equal(replay.status, 404);
    });

    test('Discord: a signed PING gets {"type":1}, a forged one 401, an interaction is forwarded and answered deferred', async () => {
      const dest = await destination();
      const app = generateDiscordKeyPair();
      const source = await createSource({
        name: 'discord-hs',
        verification: { scheme: 'discord', secrets: [app.publicKey] },
        destinations: [{ url: dest.url }],
      });
      const signed = (body: string, key = app.privateKey) => ({
        'content-type': 'application/json',
        ...sign({ scheme: 'discord', body, secret: key }).headers,
      });
      const ping = JSON.stringify({
        id: '1190011122233344455',
        application_id: '11900',
        type: 1,
        version: 1,
      });
      const pong = await post('discord-hs', ping, signed(ping));
      assert.equal(pong.status, 200);
      assert.match(pong.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(await pong.json(), { type: 1 });

      const other = generateDiscordKeyPair();
      const forged = await post('discord-hs', ping, signed(ping, other.privateKey));
      assert.equal(forged.status, 401);
      assert.equal(((await forged.json()) as { code: string }).code, 'no_matching_signature');

      const command = JSON.stringify({
        id: '1190011122233344456',
        application_id: '11900',
        type: 2,
        token: 'aW50ZXJhY3Rpb24tdG9rZW4',
        data: { name: 'deploy', options: [{ name: 'env', value: 'prod' }] },
      });
      const deferred = await post('discord-hs', command, signed(command));
      assert.equal(deferred.status, 200);
      assert.deepEqual(await deferred.json(), { type: 5 }, 'the default answer: deferred');
      await drain();
      assert.equal(dest.requests.length, 1, 'only the interaction is forwarded');
      assert.equal(dest.requests[0]!.body.toString(), command);
      const accepted = await events(source.id, 'accepted');
      assert.equal(accepted.length, 1);
      assert.equal(accepted[0].eventType, '2', "Discord's event type is the interaction type");
      assert.equal(headersOf(dest.requests[0]!)['webhook-id'], accepted[0].id);
      assert.equal((await events(source.id, 'handshake')).length, 1);

      // The answer is configurable (for example an immediate message).
      const patched = await server.call('PATCH', `/api/v1/source/${source.id}`, {
        handshake: { discordResponse: { type: 4, data: { content: 'on it' } } },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const command2 = command.replace('1190011122233344456', '1190011122233344457');
      const immediate = await post('discord-hs', command2, signed(command2));
      assert.deepEqual(await immediate.json(), { type: 4, data: { content: 'on it' } });
    });

    test('Salesforce: three notifications are acknowledged once stored and forwarded as three events, once; a wrong org gets a fault', async () => {
      const all = await destination();
      const contacts = await destination();
      const source = await createSource({
        name: 'salesforce-hs',
        verification: { scheme: 'salesforce', secrets: [ORG] },
        destinations: [{ url: all.url }, { url: contacts.url, eventTypes: ['salesforce.Contact'] }],
      });
      const body = salesforceBody(three);
      const res = await post('salesforce-hs', body, SF_HEADERS);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/xml/);
      assert.equal(ackOf(await res.text()), 'true');
      const eventId = res.headers.get('hookline-event-id')!;

      await drain();
      assert.equal(all.requests.length, 3, 'one forwarded event per notification');
      assert.equal(contacts.requests.length, 1, 'routed by the sObject type of each notification');
      const forwarded = all.requests.map((r) => ({
        id: headersOf(r)['webhook-id'],
        body: JSON.parse(r.body.toString()),
      }));
      assert.equal(new Set(forwarded.map((f) => f.id)).size, 3, 'each has its own webhook-id');
      const byNotification = new Map(forwarded.map((f) => [f.body.notificationId, f.body]));
      for (const n of three) {
        const got = byNotification.get(n.id);
        assert.ok(got, `notification ${n.id} forwarded`);
        assert.equal(got.organizationId, ORG);
        assert.equal(got.actionId, '04k5e000000KyyGAAS');
        assert.deepEqual(got.sObject, {
          type: n.type,
          id: n.recordId,
          fields: { Id: n.recordId, Name: n.name, Industry: 'Energy' },
        });
      }
      assert.equal(JSON.parse(contacts.requests[0]!.body.toString()).sObject.type, 'Contact');

      // The raw SOAP request is stored once, with the messages it became.
      const [stored] = await events(source.id);
      assert.equal(stored.id, eventId);
      assert.equal(stored.status, 'accepted');
      assert.equal(stored.eventType, 'salesforce.Account');
      assert.deepEqual([...stored.messageIds].sort(), forwarded.map((f) => f.id).sort());
      const detail = await server.call('GET', `/api/v1/source/${source.id}/event/${eventId}`);
      assert.equal(detail.body.body, body, 'the SOAP request byte for byte');
      assert.equal(detail.body.attempts.length, 4, "the attempts of all the request's messages");
      for (const id of stored.messageIds) {
        const msg = await server.call('GET', `/api/v1/app/${source.appId}/msg/${id}`);
        assert.equal(msg.status, 200);
        assert.match(msg.body.eventType, /^salesforce\.(Account|Contact)$/);
      }

      // Salesforce resends (no Ack seen, or a retry): acknowledged again, nothing forwarded twice.
      const again = await post('salesforce-hs', body, SF_HEADERS);
      assert.equal(again.status, 200);
      assert.equal(ackOf(await again.text()), 'true');
      // A later message repeating one notification and adding one: only the new one goes out.
      const mixed = await post(
        'salesforce-hs',
        salesforceBody([
          three[1]!,
          { id: '04l5e00000A1aadAAA', type: 'Contact', recordId: '0035e00000Q2xyzAAA', name: 'Ann' },
        ]),
        SF_HEADERS,
      );
      assert.equal(ackOf(await mixed.text()), 'true');
      await drain();
      assert.equal(all.requests.length, 4);
      assert.equal(contacts.requests.length, 2);
      assert.equal(JSON.parse(all.requests[3]!.body.toString()).notificationId, '04l5e00000A1aadAAA');
      const statuses = (await events(source.id)).map((e) => e.status);
      assert.deepEqual(statuses, ['accepted', 'duplicate', 'accepted']);
      const [mixedEvent, dupEvent] = await events(source.id);
      assert.equal(dupEvent.duplicateOf, eventId);
      assert.equal(mixedEvent.messageIds.length, 1);
      const replay = await server.call('POST', `/api/v1/source/${source.id}/event/${eventId}/replay`, {});
      assert.equal(replay.status, 202);
      assert.equal(replay.body.deliveries, 4, 'a replay resends every message of the request');

      // Another organization: a SOAP fault with 401, no Ack, nothing forwarded.
      const foreign = body.replaceAll(ORG, '00D5e000009ZzZzZZZ');
      const refused = await post('salesforce-hs', foreign, SF_HEADERS);
      assert.equal(refused.status, 401);
      assert.match(refused.headers.get('content-type') ?? '', /^text\/xml/);
      const fault = await refused.text();
      assert.equal(ackOf(fault), undefined);
      assert.match(xml.parse(fault).Envelope.Body.Fault.faultstring, /^no_matching_signature: /);
      await drain();
      assert.equal(all.requests.length, 4 + 3, 'only the replay was sent');
      assert.equal((await events(source.id, 'rejected')).length, 1);
      // What Hookline forwarded parses back to what was sent.
      assert.equal(parseSalesforceOutboundMessage(body).notifications.length, 3);
    });

    test('HubSpot: a signed batch becomes one forwarded event per HubSpot event, typed and deduplicated on eventId', async () => {
      const all = await destination();
      const deals = await destination();
      const secret = 'hubspot-client-secret-7f3c';
      const url = `${server.url}/in/hubspot-crm`;
      const source = await createSource({
        name: 'hubspot-crm',
        verification: { scheme: 'hubspot', secrets: [secret], url },
        destinations: [{ url: all.url }, { url: deals.url, eventTypes: ['deal.creation'] }],
      });
      const batch = (events: { eventId: number; subscriptionType: string; objectId: number }[]) =>
        JSON.stringify(
          events.map((e) => ({
            ...e,
            portalId: 62515,
            appId: 1160452,
            occurredAt: 1764200000000,
            attemptNumber: 0,
          })),
        );
      const send = (body: string) => {
        const signed = sign({
          scheme: 'hubspot',
          body,
          secret,
          url,
          method: 'POST',
          timestamp: Math.floor(Date.now() / 1000),
        });
        return post('hubspot-crm', body, { 'content-type': 'application/json', ...signed.headers });
      };
      const first = [
        { eventId: 101, subscriptionType: 'contact.creation', objectId: 5101 },
        { eventId: 102, subscriptionType: 'deal.creation', objectId: 9044 },
        { eventId: 103, subscriptionType: 'contact.propertyChange', objectId: 5101 },
      ];
      const res = await send(batch(first));
      assert.equal(res.status, 200);
      const answer = (await res.json()) as { status: string; messageIds: string[] };
      assert.equal(answer.status, 'accepted');
      assert.equal(answer.messageIds.length, 3);
      await drain();
      assert.equal(all.requests.length, 3, 'one forwarded request per HubSpot event');
      assert.deepEqual(
        all.requests.map((r) => JSON.parse(r.body.toString()).eventId).sort(),
        [101, 102, 103],
      );
      assert.equal(deals.requests.length, 1, 'routed by subscriptionType');
      assert.equal(JSON.parse(deals.requests[0]!.body.toString()).objectId, 9044);
      assert.equal(new Set(all.requests.map((r) => headersOf(r)['webhook-id'])).size, 3);

      // HubSpot retries a batch with the same eventIds: only events not seen before go out.
      const retry = await send(
        batch([first[2]!, { eventId: 104, subscriptionType: 'deal.creation', objectId: 9045 }]),
      );
      assert.equal(((await retry.json()) as { messageIds: string[] }).messageIds.length, 1);
      const repeat = await send(batch(first));
      assert.equal(((await repeat.json()) as { status: string }).status, 'duplicate');
      await drain();
      assert.equal(all.requests.length, 4);
      assert.equal(deals.requests.length, 2);

      // A forged batch: 401, nothing forwarded.
      const forged = await post('hubspot-crm', batch(first), { 'content-type': 'application/json' });
      assert.equal(forged.status, 401);
      await drain();
      assert.equal(all.requests.length, 4);
      assert.deepEqual(
        (await events(source.id)).map((e) => e.status),
        ['rejected', 'duplicate', 'accepted', 'accepted'],
      );
    });

    test('challenge rules: Microsoft Graph validationToken, Dropbox GET challenge, Zoom url_validation', async () => {
      const dest = await destination();
      const graph = await createSource({
        name: 'graph-hs',
        verification: { scheme: 'none' },
        handshake: { challenge: { preset: 'graph' } },
        destinations: [{ url: dest.url }],
      });
      assert.equal(graph.handshake.challenge.query, 'validationToken');
      const token = 'Validation: Testing client application reachability for subscription Request-Id: 4f5c';
      const validated = await fetch(
        `${server.url}/in/graph-hs?validationToken=${encodeURIComponent(token)}`,
        {
          method: 'POST',
        },
      );
      assert.equal(validated.status, 200);
      assert.match(validated.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(await validated.text(), token);
      // A change notification itself (no validationToken) is accepted and forwarded.
      const change = JSON.stringify({ value: [{ subscriptionId: 's1', changeType: 'created' }] });
      const accepted = await post('graph-hs', change, { 'content-type': 'application/json' });
      assert.equal(accepted.status, 200);
      assert.equal(((await accepted.json()) as { status: string }).status, 'accepted');

      const dropbox = await createSource({
        name: 'dropbox-hs',
        verification: { scheme: 'none' },
        handshake: { challenge: { preset: 'dropbox' } },
        destinations: [{ url: dest.url }],
      });
      const echoed = await fetch(`${server.url}/in/dropbox-hs?challenge=KD8sZ2w0a3Jx`);
      assert.equal(echoed.status, 200);
      assert.match(echoed.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(echoed.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(await echoed.text(), 'KD8sZ2w0a3Jx');
      const plainGet = await fetch(`${server.url}/in/dropbox-hs`);
      assert.equal(plainGet.status, 405);
      assert.equal(((await plainGet.json()) as { code: string }).code, 'method_not_allowed');
      const noRule = await fetch(`${server.url}/in/graph-hs?validationToken=x`);
      assert.equal(noRule.status, 405, 'graph answers its challenge on POST only');

      const zoomSecret = 'zoom-secret-token-Qx81';
      const zoom = await createSource({
        name: 'zoom-hs',
        verification: {
          scheme: 'hmac',
          secrets: [zoomSecret],
          hmac: {
            header: 'x-zm-signature',
            prefix: 'v0=',
            template: 'v0:{timestamp}:{body}',
            timestampHeader: 'x-zm-request-timestamp',
          },
        },
        handshake: { challenge: { preset: 'zoom', secret: zoomSecret } },
        destinations: [{ url: dest.url }],
      });
      assert.equal(zoom.handshake.challenge.hasSecret, true);
      assert.equal(zoom.handshake.challenge.secret, undefined, 'the challenge secret is never returned');
      const zoomSigned = (body: string, secret = zoomSecret) => {
        const ts = String(Math.floor(Date.now() / 1000));
        const sig = createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
        return {
          'content-type': 'application/json',
          'x-zm-signature': `v0=${sig}`,
          'x-zm-request-timestamp': ts,
        };
      };
      const validation = JSON.stringify({
        payload: { plainToken: 'qgg8vlvZRS6UYooatFL8Aw' },
        event_ts: 1654503849680,
        event: 'endpoint.url_validation',
      });
      const zoomOk = await post('zoom-hs', validation, zoomSigned(validation));
      assert.equal(zoomOk.status, 200);
      assert.deepEqual(await zoomOk.json(), {
        plainToken: 'qgg8vlvZRS6UYooatFL8Aw',
        encryptedToken: createHmac('sha256', zoomSecret).update('qgg8vlvZRS6UYooatFL8Aw').digest('hex'),
      });
      const zoomForged = await post('zoom-hs', validation, zoomSigned(validation, 'wrong'));
      assert.equal(zoomForged.status, 401, 'Zoom signs its challenge: it is verified first');
      // PATCH without the secret keeps it; a PATCH of another handshake setting keeps the rule.
      const kept = await server.call('PATCH', `/api/v1/source/${zoom.id}`, { description: 'zoom app' });
      assert.equal(kept.body.handshake.challenge.hasSecret, true);
      const other = await server.call('PATCH', `/api/v1/source/${zoom.id}`, {
        handshake: { provider: false },
      });
      assert.equal(other.body.handshake.provider, false);
      assert.equal(other.body.handshake.challenge.preset, 'zoom');
      assert.equal(other.body.handshake.challenge.hasSecret, true);
      const zoomAgain = await post('zoom-hs', validation, zoomSigned(validation));
      assert.equal(zoomAgain.status, 200);

      await drain();
      assert.equal(dest.requests.length, 1, 'only the Graph change notification is forwarded');
      for (const s of [graph, dropbox, zoom]) {
        const hs = await events(s.id, 'handshake');
        assert.equal(hs.length, s === zoom ? 2 : 1, `${s.name}: challenges are logged as handshakes`);
        assert.equal(hs[0].method, s === dropbox ? 'GET' : 'POST');
      }
    });

    test('challenge settings are validated with coded errors', async () => {
      const base = { verification: { scheme: 'none' }, destinations: [{ url: 'http://127.0.0.1:1/x' }] };
      const bad = [
        [{ challenge: { respond: 'json', query: 'c' } }, ['body', 'handshake', 'challenge', 'field']],
        [
          { challenge: { respond: 'json', query: 'c', field: 'c', hmacField: 'h' } },
          ['body', 'handshake', 'challenge', 'secret'],
        ],
        [{ challenge: { query: 'c', jsonPath: 'a.b' } }, ['body', 'handshake', 'challenge', 'query']],
        [{ challenge: { respond: 'text' } }, ['body', 'handshake', 'challenge', 'query']],
      ] as const;
      for (const [handshake, loc] of bad) {
        const res = await server.call('POST', '/api/v1/source', { ...base, name: 'bad-hs', handshake });
        assert.equal(res.status, 422, JSON.stringify(handshake));
        assert.deepEqual(res.body.detail[0].loc, loc);
      }
      const preset = await server.call('POST', '/api/v1/source', {
        ...base,
        name: 'bad-hs',
        handshake: { challenge: { preset: 'teams' } },
      });
      assert.equal(preset.status, 422);
    });

    test('allowlists: outside addresses get 403 before anything is stored; v4 and v6 ranges; bad CIDRs refused', async () => {
      const dest = await destination();
      const source = await createSource({
        name: 'allow-hs',
        verification: { scheme: 'none' },
        allowedIps: ['10.0.0.0/8'],
        destinations: [{ url: dest.url }],
      });
      assert.deepEqual(source.allowedIps, ['10.0.0.0/8']);
      const refused = await post('allow-hs', '{"a":1}', { 'content-type': 'application/json' });
      assert.equal(refused.status, 403);
      assert.equal(((await refused.json()) as { code: string }).code, 'ip_not_allowed');
      // Without HOOKLINE_TRUST_PROXY a forwarded address is ignored (anyone can send the header).
      const spoofed = await post('allow-hs', '{"a":1}', { 'x-forwarded-for': '10.1.2.3' });
      assert.equal(spoofed.status, 403);
      assert.deepEqual(await events(source.id), [], 'nothing is stored');

      for (const allowedIps of [['127.0.0.0/8'], ['192.0.2.7', '127.0.0.1']]) {
        const res = await server.call('PATCH', `/api/v1/source/${source.id}`, { allowedIps });
        assert.equal(res.status, 200);
        const ok = await post('allow-hs', '{"a":1}', { 'content-type': 'application/json' });
        assert.equal(ok.status, 200, JSON.stringify(allowedIps));
      }
      // IPv6: an IPv4 client does not match ::1/128; a client on ::1 does.
      await server.call('PATCH', `/api/v1/source/${source.id}`, { allowedIps: ['::1/128'] });
      assert.equal((await post('allow-hs', '{}')).status, 403);
      const v6 = await startHookline({ env: { HOOKLINE_HOST: '::1', ...db!.env } });
      try {
        const created = await v6.call('POST', '/api/v1/source', {
          name: 'allow-v6-hs',
          verification: { scheme: 'none' },
          allowedIps: ['::1/128'],
          destinations: [{ url: 'http://127.0.0.1:1/x' }],
        });
        assert.equal(created.status, 201);
        const res = await fetch(`${v6.url}/in/allow-v6-hs`, { method: 'POST', body: '{}' });
        assert.equal(res.status, 200);
        await v6.call('PATCH', `/api/v1/source/${created.body.id}`, { allowedIps: ['127.0.0.0/8'] });
        assert.equal((await fetch(`${v6.url}/in/allow-v6-hs`, { method: 'POST', body: '{}' })).status, 403);
      } finally {
        await v6.close();
      }
      const invalid = await server.call('PATCH', `/api/v1/source/${source.id}`, {
        allowedIps: ['10.0.0.0/8', '10.0.0.0/33', 'not-an-ip'],
      });
      assert.equal(invalid.status, 422);
      assert.deepEqual(
        invalid.body.detail.map((d: { loc: unknown[] }) => d.loc),
        [
          ['body', 'allowedIps', 1],
          ['body', 'allowedIps', 2],
        ],
      );
      const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text());
      assert.match(metrics, /hookline_inbound_requests_total\{status="ip_not_allowed"\} [1-9]/);
      // The requests let in were stored by the inbound group commit (two in this test alone).
      const stored = metricValue(metrics, 'hookline_write_batch_size_sum', { kind: 'inbound' });
      assert.ok((stored ?? 0) >= 2, `inbound requests in group commits: ${stored}`);
    });

    test('with HOOKLINE_TRUST_PROXY the forwarded client address is checked', async () => {
      const proxied = await startHookline({ env: { HOOKLINE_TRUST_PROXY: '127.0.0.1', ...db!.env } });
      try {
        await proxied.call('POST', '/api/v1/source', {
          name: 'proxied-hs',
          verification: { scheme: 'none' },
          allowedIps: ['10.0.0.0/8', '2001:db8::/32'],
          destinations: [{ url: 'http://127.0.0.1:1/x' }],
        });
        const via = (xff?: string) =>
          fetch(`${proxied.url}/in/proxied-hs`, {
            method: 'POST',
            body: '{}',
            headers: xff ? { 'x-forwarded-for': xff } : {},
          }).then((r) => r.status);
        assert.equal(await via('10.1.2.3'), 200);
        assert.equal(await via('2001:db8::5'), 200);
        assert.equal(await via('192.0.2.1'), 403);
        assert.equal(await via(), 403, 'the proxy itself (127.0.0.1) is not allowed');
        // Only the trusted proxy's hop counts: the client cannot smuggle in an address before it.
        assert.equal(await via('10.1.2.3, 192.0.2.1'), 403);
      } finally {
        await proxied.close();
      }
    });
  });
}
