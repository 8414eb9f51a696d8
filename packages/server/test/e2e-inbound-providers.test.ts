/**
 * `/in/{source}` as providers really use it, end to end on a real Hookline over both stores:
 * Twilio's JSON webhooks (signed over the URL it calls, `bodySHA256` included), Discord's webhook
 * events next to its interactions, captured requests resent under a new unsigned id, Salesforce's
 * 100-notification limit, `HEAD` requests, and destinations edited by URL keeping their history.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildSalesforceOutboundMessage, generateDiscordKeyPair, sign } from '@hookline/receiver';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import { XMLParser } from 'fast-xml-parser';
import { Webhook } from 'standardwebhooks';
import twilio from 'twilio';
import { headersOf, startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const sha256 = (b: string) => createHash('sha256').update(b).digest('hex');
const xml = new XMLParser({ removeNSPrefix: true, parseTagValue: false });

for (const kind of await testStores()) {
  describe(`inbound providers at /in/{source} (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    const receivers: TestReceiver[] = [];
    const drain = () => server.hookline.dispatcher!.drain();

    before(async () => {
      db = await kind.open('inbound_providers');
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
    const send = (path: string, body: string, headers: Record<string, string> = {}, method = 'POST') =>
      fetch(`${server.url}/in/${path}`, { method, headers, ...(method === 'POST' ? { body } : {}) });
    async function events(sourceId: string, status?: string) {
      const res = await server.call(
        'GET',
        `/api/v1/source/${sourceId}/event${status ? `?status=${status}` : ''}`,
      );
      assert.equal(res.status, 200);
      return res.body.data as any[];
    }

    test('Twilio: a JSON webhook signed over the URL it called (with bodySHA256) is accepted behind a proxy; form ones too', async () => {
      const dest = await destination();
      const token = randomBytes(16).toString('hex');
      // The URL configured in Twilio; a proxy forwards it to this Hookline under another host.
      const publicUrl = 'https://hooks.example.com/in/twilio-sms';
      const source = await createSource({
        name: 'twilio-sms',
        verification: { scheme: 'twilio', secrets: [token], url: publicUrl },
        destinations: [{ url: dest.url }],
      });

      // What Twilio does for a JSON body, with twilio's own helpers: the body's hex SHA-256
      // goes into the URL it calls as bodySHA256, and that whole URL is what it signs.
      const json = JSON.stringify({ MessageSid: 'SM1', MessageStatus: 'delivered', To: '+15558675310' });
      const called = `${publicUrl}?bodySHA256=${sha256(json)}`;
      const signature = twilio.getExpectedTwilioSignature(token, called, {});
      assert.equal(twilio.validateRequestWithBody(token, signature, called, json), true);
      const headers = {
        'content-type': 'application/json',
        'x-twilio-signature': signature,
        'i-twilio-idempotency-token': 'idem-1',
      };
      const accepted = await send(`twilio-sms?bodySHA256=${sha256(json)}`, json, headers);
      assert.equal(accepted.status, 200, await accepted.clone().text());
      const { id, status } = (await accepted.json()) as { id: string; status: string };
      assert.equal(status, 'accepted');

      // The same request captured and resent under a new (unsigned) idempotency token.
      const resent = await send(`twilio-sms?bodySHA256=${sha256(json)}`, json, {
        ...headers,
        'i-twilio-idempotency-token': 'idem-2',
      });
      const dup = (await resent.json()) as { status: string; duplicateOf: string };
      assert.equal(dup.status, 'duplicate');
      assert.equal(dup.duplicateOf, id);

      const tampered = json.replace('delivered', 'failed');
      const refused = await send(`twilio-sms?bodySHA256=${sha256(json)}`, tampered, headers);
      assert.equal(refused.status, 401);
      assert.equal(((await refused.json()) as { code: string }).code, 'no_matching_signature');
      const rehashed = await send(`twilio-sms?bodySHA256=${sha256(tampered)}`, tampered, headers);
      assert.equal(rehashed.status, 401, 'the query string is part of the signed URL');

      // A form-encoded webhook (no query string): signed over the URL and the sorted parameters.
      const params = { AccountSid: 'AC1', Body: 'hello', From: '+15017122661', MessageSid: 'SM2' };
      const form = new URLSearchParams(params).toString();
      const formAnswer = await send('twilio-sms', form, {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilio.getExpectedTwilioSignature(token, publicUrl, params),
      });
      assert.equal(formAnswer.status, 200);
      assert.equal(((await formAnswer.json()) as { status: string }).status, 'accepted');

      await drain();
      assert.deepEqual(
        dest.requests.map((r) => r.body.toString()),
        [json, form],
        'each event forwarded once, byte for byte',
      );
      assert.deepEqual(
        (await events(source.id)).map((e) => e.status),
        ['accepted', 'rejected', 'rejected', 'duplicate', 'accepted'],
      );
    });

    test('GitHub: a captured delivery resent with a new X-GitHub-Delivery is a duplicate; signed ids still tell events apart', async () => {
      const dest = await destination();
      const secret = 'gh-replay-secret-1';
      const source = await createSource({
        name: 'gh-replay',
        verification: { scheme: 'github', secrets: [secret] },
        destinations: [{ url: dest.url }],
      });
      const body = JSON.stringify({ action: 'created', comment: { id: 1, body: 'ship it' } });
      const headers = {
        'content-type': 'application/json',
        'x-github-event': 'issue_comment',
        'x-hub-signature-256': await octokitSign(secret, body),
      };
      const first = await send('gh-replay', body, { ...headers, 'x-github-delivery': 'd-1' });
      const { id } = (await first.json()) as { id: string };
      const replay = await send('gh-replay', body, { ...headers, 'x-github-delivery': 'd-2' });
      assert.equal(replay.status, 200);
      assert.equal(((await replay.json()) as { duplicateOf: string }).duplicateOf, id);
      assert.equal(replay.headers.get('hookline-duplicate-of'), id);
      const redelivery = await send('gh-replay', body, { ...headers, 'x-github-delivery': 'd-1' });
      assert.equal(((await redelivery.json()) as { status: string }).status, 'duplicate');
      const otherBody = body.replace('ship it', 'wait');
      const other = await send('gh-replay', otherBody, {
        ...headers,
        'x-hub-signature-256': await octokitSign(secret, otherBody),
        'x-github-delivery': 'd-2',
      });
      assert.equal(((await other.json()) as { status: string }).status, 'accepted');
      await drain();
      assert.equal(dest.requests.length, 2);
      const [acceptedEvent] = await events(source.id, 'accepted');
      assert.match(acceptedEvent.dedupeKey, /^sha256:[0-9a-f]{64}$/);

      // Standard Webhooks signs its id: two events with the same body are two events.
      const whsec = `whsec_${randomBytes(24).toString('base64')}`;
      await createSource({
        name: 'sw-ids',
        verification: { scheme: 'standard-webhooks', secrets: [whsec] },
        destinations: [{ url: dest.url }],
      });
      const same = '{"type":"ping"}';
      for (const msgId of ['msg_a', 'msg_b']) {
        const at = new Date();
        const res = await send('sw-ids', same, {
          'content-type': 'application/json',
          'webhook-id': msgId,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': new Webhook(whsec).sign(msgId, at, same),
        });
        assert.equal(((await res.json()) as { status: string }).status, 'accepted', msgId);
      }
    });

    test('Discord webhook events: the PING gets 204, events are answered 204 and forwarded by event.type; interactions as before', async () => {
      const all = await destination();
      const entitlements = await destination();
      const app = generateDiscordKeyPair();
      const source = await createSource({
        name: 'discord-events',
        verification: { scheme: 'discord', secrets: [app.publicKey] },
        destinations: [{ url: all.url }, { url: entitlements.url, eventTypes: ['ENTITLEMENT_CREATE'] }],
      });
      const signed = (body: string, timestamp = Math.floor(Date.now() / 1000)) => ({
        'content-type': 'application/json',
        ...sign({ scheme: 'discord', body, secret: app.privateKey, timestamp }).headers,
      });

      const ping = JSON.stringify({ version: 1, application_id: '1234560123453231555', type: 0 });
      const pong = await send('discord-events', ping, signed(ping));
      assert.equal(pong.status, 204);
      assert.equal(await pong.text(), '');
      assert.equal(pong.headers.get('content-type'), null);
      const pingId = pong.headers.get('hookline-event-id');
      assert.ok(pingId);

      const event = JSON.stringify({
        version: 1,
        application_id: '1234560123453231555',
        type: 1,
        event: {
          type: 'APPLICATION_AUTHORIZED',
          timestamp: '2024-10-18T14:42:53.064834',
          data: { integration_type: 1, scopes: ['applications.commands'], user: { id: '53908232506183680' } },
        },
      });
      const answered = await send('discord-events', event, signed(event));
      assert.equal(answered.status, 204);
      assert.equal(await answered.text(), '');
      // Discord resends an event that got no 204, signed anew: still one event.
      const resent = await send('discord-events', event, signed(event, Math.floor(Date.now() / 1000) - 5));
      assert.equal(resent.status, 204);

      const forged = await send('discord-events', event, {
        ...signed(event),
        'x-signature-ed25519': '00'.repeat(64),
      });
      assert.equal(forged.status, 401);

      const interactionPing = JSON.stringify({
        id: '1190011122233344455',
        application_id: '1',
        type: 1,
        version: 1,
      });
      const interactionPong = await send('discord-events', interactionPing, signed(interactionPing));
      assert.deepEqual(await interactionPong.json(), { type: 1 });

      await drain();
      assert.deepEqual(
        all.requests.map((r) => r.body.toString()),
        [event],
        'the event is forwarded once; PINGs never',
      );
      assert.equal(entitlements.requests.length, 0, 'routed by event.type');
      const [accepted] = await events(source.id, 'accepted');
      assert.equal(accepted.eventType, 'APPLICATION_AUTHORIZED');
      assert.equal(headersOf(all.requests[0]!)['webhook-id'], accepted.id);
      assert.deepEqual(
        (await events(source.id)).map((e) => e.status),
        ['handshake', 'rejected', 'duplicate', 'accepted', 'handshake'],
      );
      assert.equal((await events(source.id, 'handshake')).at(-1).id, pingId);
    });

    test('Salesforce: more than 100 notifications in one message are refused with a SOAP fault; 100 are forwarded', async () => {
      const dest = await destination();
      const org = '00D5e000001AbCdEAA';
      const source = await createSource({
        name: 'salesforce-cap',
        verification: { scheme: 'salesforce', secrets: [org] },
        destinations: [{ url: dest.url }],
      });
      const message = (count: number, offset = 0) =>
        buildSalesforceOutboundMessage({
          organizationId: org,
          actionId: '04k5e000000KyyGAAS',
          sessionId: null,
          notifications: Array.from({ length: count }, (_, i) => ({
            id: `04l5e00000B${String(offset + i).padStart(4, '0')}AAA`,
            sObject: { type: 'Account', id: `0015e00000Q${String(i).padStart(4, '0')}AAA`, fields: {} },
          })),
        });
      const headers = { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' };

      const tooMany = await send('salesforce-cap', message(101), headers);
      assert.equal(tooMany.status, 413);
      assert.match(tooMany.headers.get('content-type') ?? '', /^text\/xml/);
      const fault = xml.parse(await tooMany.text()).Envelope.Body;
      assert.equal(fault.notificationsResponse, undefined, 'no Ack');
      assert.match(fault.Fault.faultstring, /^too_many_notifications: .*101.*100/);
      const [rejected] = await events(source.id, 'rejected');
      assert.equal(rejected.verification.code, 'too_many_notifications');

      const hundred = await send('salesforce-cap', message(100, 1000), headers);
      assert.equal(hundred.status, 200);
      assert.match(await hundred.text(), /<Ack>true<\/Ack>/);
      await drain();
      assert.equal(dest.requests.length, 100, 'nothing of the refused message went out');
    });

    test('HEAD is GET without a body: refused unless it is the challenge, never stored as an event', async () => {
      const dest = await destination();
      const plain = await createSource({
        name: 'head-plain',
        verification: { scheme: 'none' },
        destinations: [{ url: dest.url }],
      });
      const head = await send('head-plain', '', {}, 'HEAD');
      assert.equal(head.status, 405);
      const get = await send('head-plain', '', {}, 'GET');
      assert.equal(get.status, 405);
      assert.equal(((await get.json()) as { code: string }).code, 'method_not_allowed');

      const dropbox = await createSource({
        name: 'head-dropbox',
        verification: { scheme: 'none' },
        handshake: { challenge: { preset: 'dropbox' } },
        destinations: [{ url: dest.url }],
      });
      const challenged = await send('head-dropbox?challenge=abc123', '', {}, 'HEAD');
      assert.equal(challenged.status, 200);
      assert.match(challenged.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(await challenged.text(), '', 'HEAD has no body');
      const noChallenge = await send('head-dropbox', '', {}, 'HEAD');
      assert.equal(noChallenge.status, 405);

      await drain();
      assert.equal(dest.requests.length, 0);
      assert.deepEqual(await events(plain.id), []);
      assert.deepEqual(
        (await events(dropbox.id)).map((e) => [e.status, e.method]),
        [['handshake', 'HEAD']],
      );
    });

    test("destinations edited by URL keep their ids and the earlier events' forwarding attempts", async () => {
      const dest = await destination();
      const source = await createSource({
        name: 'edit-by-url',
        verification: { scheme: 'none' },
        destinations: [{ url: `${dest.url}/app` }, { url: `${dest.url}/audit` }],
      });
      const [app, audit] = source.destinations as { id: string; url: string }[];
      const posted = await send('edit-by-url', '{"n":1}', { 'content-type': 'application/json' });
      const { id: eventId } = (await posted.json()) as { id: string };
      await drain();
      const attempts = async () =>
        (await server.call('GET', `/api/v1/source/${source.id}/event/${eventId}/attempt`)).body.data.map(
          (a: { endpointId: string }) => a.endpointId,
        );
      assert.deepEqual((await attempts()).sort(), [app!.id, audit!.id].sort());

      // As the README does it: the whole list, by URL, one changed and one added.
      const patched = await server.call('PATCH', `/api/v1/source/${source.id}`, {
        destinations: [{ url: `${dest.url}/app`, headers: { 'x-team': 'core' } }, { url: `${dest.url}/new` }],
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const [kept, added] = patched.body.destinations;
      assert.equal(kept.id, app!.id, 'same URL, same destination');
      assert.deepEqual(kept.headers, { 'x-team': 'core' });
      assert.notEqual(added.id, audit!.id);
      assert.deepEqual(await attempts(), [app!.id], "the kept destination's attempts are still there");

      // PUT too; an id given explicitly is never taken twice by a URL match.
      const put = await server.call('PUT', `/api/v1/source/${source.id}`, {
        name: 'edit-by-url',
        verification: { scheme: 'none' },
        destinations: [{ url: `${dest.url}/app` }, { id: app!.id, url: `${dest.url}/app-v2` }],
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(put.body.destinations[1].id, app!.id);
      assert.notEqual(put.body.destinations[0].id, app!.id);
      assert.notEqual(put.body.destinations[0].id, added.id);
    });
  });
}
