/**
 * The inbound gateway end to end: requests signed by the providers' own libraries (`stripe`,
 * `@octokit/webhooks-methods`, `standardwebhooks`) are posted to a real Hookline on `/in/{source}`;
 * duplicates are dropped, forged requests refused and kept, and every accepted event reaches a
 * real destination byte for byte, through two failures, with a Hookline signature it can verify.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sign, verify } from '@hookline/receiver';
import { sign as octokitSign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import {
  headersOf,
  type ReceivedRequest,
  startHookline,
  startReceiver,
  type TestReceiver,
  type TestServer,
} from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Checks a forwarded request as the application would: Hookline's signature, with the source's secret. */
function verifyForward(r: ReceivedRequest, forwardSecret: string, eventId: string) {
  const headers = headersOf(r);
  assert.equal(headers['webhook-id'], eventId);
  verify({ scheme: 'standard-webhooks', body: r.body, headers, secret: forwardSecret });
  // The provider's library-independent check: the reference Standard Webhooks library agrees.
  new Webhook(forwardSecret).verify(r.body.toString('utf8'), headers);
}

for (const kind of await testStores()) {
  describe(`inbound gateway: /in/{source} (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    const receivers: TestReceiver[] = [];
    const drain = () => server.hookline.dispatcher!.drain();

    before(async () => {
      db = await kind.open('inbound');
      server = await startHookline({ env: { HOOKLINE_RETRY_SCHEDULE: '0.05,0.05,0.05', ...db.env } });
    });
    after(async () => {
      await server?.close();
      for (const r of receivers) await r.close();
      await db?.drop();
    });

    /** A destination that fails twice, then succeeds. */
    async function flakyDestination(): Promise<TestReceiver> {
      const r = await startReceiver();
      receivers.push(r);
      r.queue({ status: 500, body: 'down' }, { status: 503, body: 'still down' });
      return r;
    }

    async function createSource(body: Record<string, unknown>) {
      const res = await server.call('POST', '/api/v1/source', body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const secret = await server.call('GET', `/api/v1/source/${res.body.id}/secret`);
      return { source: res.body, forwardSecret: secret.body.key as string };
    }

    const post = (name: string, body: string | Buffer, headers: Record<string, string>) =>
      fetch(`${server.url}/in/${name}`, { method: 'POST', headers, body });

    async function events(sourceId: string, status?: string) {
      const res = await server.call(
        'GET',
        `/api/v1/source/${sourceId}/event${status ? `?status=${status}` : ''}`,
      );
      assert.equal(res.status, 200);
      return res.body.data as any[];
    }

    /** Posts genuine, duplicate and forged copies of one event; checks answers, forwarding and the log. */
    async function scenario(opts: {
      name: string;
      scheme: string;
      secret: string;
      body: string;
      contentType: string;
      signed: (body: string) => Promise<Record<string, string>> | Record<string, string>;
      providerHeaders: string[];
      eventType: string;
    }) {
      const dest = await flakyDestination();
      const { source, forwardSecret } = await createSource({
        name: opts.name,
        verification: { scheme: opts.scheme, secrets: [opts.secret] },
        destinations: [{ url: dest.url, headers: { 'x-app-key': 'k1' } }],
      });
      assert.equal(source.ingestPath, `/in/${opts.name}`);
      assert.equal(source.verification.secretCount, 1);
      assert.equal(source.verification.secrets, undefined, 'verification secrets are never returned');

      const headers: Record<string, string> = {
        'content-type': opts.contentType,
        ...(await opts.signed(opts.body)),
      };
      const first = await post(opts.name, opts.body, headers);
      assert.equal(first.status, 200);
      const accepted = (await first.json()) as { id: string; status: string };
      assert.equal(accepted.status, 'accepted');

      // The provider retries: same request, same id.
      const again = await post(opts.name, opts.body, headers);
      assert.equal(again.status, 200);
      const dup = (await again.json()) as { status: string; duplicateOf: string };
      assert.equal(dup.status, 'duplicate');
      assert.equal(dup.duplicateOf, accepted.id);
      assert.equal(again.headers.get('hookline-duplicate-of'), accepted.id);

      // Someone forges one: the body changed after signing.
      const forgedBody = opts.body.replace('"', '"x');
      const forged = await post(opts.name, forgedBody, headers);
      assert.equal(forged.status, 401);
      const refusal = (await forged.json()) as { code: string; detail: string };
      assert.equal(refusal.code, 'no_matching_signature');
      assert.ok(refusal.detail.length > 0);
      const unsigned = await post(opts.name, opts.body, { 'content-type': opts.contentType });
      assert.equal(unsigned.status, 401);
      assert.equal(((await unsigned.json()) as { code: string }).code, 'missing_header');

      await dest.waitFor(3);
      await drain();
      assert.equal(
        dest.requests.length,
        3,
        'two failures and one success; nothing for the duplicate or the forgeries',
      );
      for (const r of dest.requests) {
        assert.equal(sha256(r.body), sha256(opts.body), 'forwarded byte for byte');
        assert.equal(r.headers['content-type'], opts.contentType);
        assert.equal(r.headers['x-app-key'], 'k1', "the destination's own header");
        for (const h of opts.providerHeaders)
          assert.equal(r.headers[h], headers[h], `provider header ${h} kept`);
        verifyForward(r, forwardSecret, accepted.id);
      }

      // The log: one accepted (forwarded), one duplicate, two rejected kept for inspection.
      assert.equal((await events(source.id)).length, 4);
      const [acc] = await events(source.id, 'accepted');
      assert.equal(acc.id, accepted.id);
      assert.equal(acc.eventType, opts.eventType);
      assert.equal((await events(source.id, 'duplicate'))[0].duplicateOf, accepted.id);
      const rejected = await events(source.id, 'rejected');
      assert.deepEqual(rejected.map((e) => e.verification.code).sort(), [
        'missing_header',
        'no_matching_signature',
      ]);
      const forgedEvent = rejected.find((e) => e.verification.code === 'no_matching_signature');
      const detail = await server.call('GET', `/api/v1/source/${source.id}/event/${forgedEvent.id}`);
      assert.equal(detail.body.body, forgedBody, 'the forged request is kept as it came');
      assert.equal(detail.body.bodyEncoding, 'utf8');
      const keptHeaders = new Map(
        (detail.body.headers as [string, string][]).map(([k, v]) => [k.toLowerCase(), v]),
      );
      for (const h of opts.providerHeaders) assert.equal(keptHeaders.get(h), headers[h]);

      const attempts = await server.call('GET', `/api/v1/source/${source.id}/event/${accepted.id}/attempt`);
      const acceptedDetail = await server.call('GET', `/api/v1/source/${source.id}/event/${accepted.id}`);
      assert.deepEqual(
        acceptedDetail.body.attempts,
        attempts.body.data,
        'the detail carries the forwarding attempts',
      );
      assert.deepEqual(detail.body.attempts, [], 'a rejected request has none');
      assert.deepEqual(
        attempts.body.data.map((a: any) => a.responseStatusCode),
        [200, 503, 500],
        'every forwarding attempt is logged, newest first',
      );
      const replayRejected = await server.call(
        'POST',
        `/api/v1/source/${source.id}/event/${forgedEvent.id}/replay`,
        {},
      );
      assert.equal(replayRejected.status, 409);
      assert.equal(replayRejected.body.code, 'inbound_event_rejected');

      // Replay: the same event, same webhook-id, once more.
      const replay = await server.call('POST', `/api/v1/source/${opts.name}/event/${accepted.id}/replay`, {});
      assert.equal(replay.status, 202);
      assert.equal(replay.body.deliveries, 1);
      await dest.waitFor(4);
      await drain();
      assert.equal(sha256(dest.requests[3]!.body), sha256(opts.body));
      verifyForward(dest.requests[3]!, forwardSecret, accepted.id);
    }

    test('Stripe-signed events (stripe library)', async () => {
      const secret = `whsec_${randomBytes(24).toString('base64')}`;
      const stripe = new Stripe('sk_test_dummy');
      const body = JSON.stringify({
        id: 'evt_1Nabc',
        object: 'event',
        type: 'invoice.paid',
        data: { object: { amount: 4200 } },
      });
      await scenario({
        name: 'stripe-prod',
        scheme: 'stripe',
        secret,
        body,
        contentType: 'application/json; charset=utf-8',
        signed: (b) => ({
          'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: b, secret }),
        }),
        providerHeaders: ['stripe-signature'],
        eventType: 'invoice.paid',
      });
    });

    test('GitHub-signed events (@octokit/webhooks-methods)', async () => {
      const secret = 'It-is-a-plain-text-github-secret';
      const body = `{"action":"opened","number":7,"repository":{"full_name":"acme/app"},"note":"caf\u00e9 \u2713"}`;
      const delivery = 'a5c1b2e0-1234-11ee-8c90-0242ac120002';
      await scenario({
        name: 'github',
        scheme: 'github',
        secret,
        body,
        contentType: 'application/json',
        signed: async (b) => ({
          'x-hub-signature-256': await octokitSign(secret, b),
          'x-github-event': 'pull_request',
          'x-github-delivery': delivery,
          'user-agent': 'GitHub-Hookshot/abc123',
        }),
        providerHeaders: ['x-hub-signature-256', 'x-github-event', 'x-github-delivery', 'user-agent'],
        eventType: 'pull_request',
      });
    });

    test('Standard Webhooks-signed events (standardwebhooks library)', async () => {
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      const body = JSON.stringify({ type: 'user.created', data: { id: 'u_1', email: 'a@example.com' } });
      await scenario({
        name: 'clerk.users',
        scheme: 'standard-webhooks',
        secret,
        body,
        contentType: 'application/json',
        signed: (b) => {
          const id = `msg_${randomBytes(8).toString('hex')}`;
          const ts = new Date();
          return {
            'webhook-id': id,
            'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
            'webhook-signature': new Webhook(secret).sign(id, ts, b),
          };
        },
        providerHeaders: [],
        eventType: 'user.created',
      });
    });

    test('binary bodies of any content type are forwarded byte for byte (generic HMAC, chunked)', async () => {
      const dest = await startReceiver();
      receivers.push(dest);
      const { source, forwardSecret } = await createSource({
        name: 'acme-binary',
        verification: {
          scheme: 'hmac',
          secrets: ['acme-secret'],
          hmac: { header: 'X-Acme-Signature', algorithm: 'sha512', encoding: 'base64', prefix: 'sha512=' },
        },
        dedupe: { header: 'X-Acme-Delivery', windowSeconds: 60 },
        eventType: { header: 'X-Acme-Event' },
        destinations: [
          { url: dest.url, eventTypes: ['file.uploaded'] },
          { url: `${dest.url}/never`, eventTypes: ['other.event'] },
        ],
      });
      const acme = {
        name: 'acme',
        header: 'X-Acme-Signature',
        algorithm: 'sha512',
        encoding: 'base64',
        prefix: 'sha512=',
      } as const;
      const { createHmacScheme } = await import('@hookline/receiver');
      const scheme = createHmacScheme(acme);
      const body = Buffer.concat([randomBytes(70_000), Buffer.from([0, 0xff, 0xfe, 0x0d, 0x0a])]);
      const { headers } = sign({ scheme, body, secret: 'acme-secret' });
      // A streamed body has no content-length: the size limit is counted as it arrives.
      const res = await fetch(`${server.url}/in/acme-binary`, {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/x-acme-blob',
          'x-acme-delivery': 'd-1',
          'x-acme-event': 'file.uploaded',
        },
        body: new ReadableStream({
          start(c) {
            c.enqueue(body.subarray(0, 30_000));
            c.enqueue(body.subarray(30_000));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      assert.equal(res.status, 200);
      const { id } = (await res.json()) as { id: string };
      await dest.waitFor(1);
      await drain();
      assert.equal(dest.requests.length, 1, 'only the destination whose filter matches');
      assert.equal(dest.requests[0]!.url, '/');
      assert.equal(sha256(dest.requests[0]!.body), sha256(body));
      assert.equal(dest.requests[0]!.headers['content-type'], 'application/x-acme-blob');
      assert.equal(dest.requests[0]!.headers['x-acme-delivery'], 'd-1');
      verify({
        scheme: 'standard-webhooks',
        body: dest.requests[0]!.body,
        headers: headersOf(dest.requests[0]!),
        secret: forwardSecret,
      });
      const detail = await server.call('GET', `/api/v1/source/${source.id}/event/${id}`);
      assert.equal(detail.body.bodyEncoding, 'base64');
      assert.equal(sha256(Buffer.from(detail.body.body, 'base64')), sha256(body));
      assert.equal(detail.body.eventType, 'file.uploaded');
      assert.equal(detail.body.dedupeKey, 'd-1');

      // A forwarded event is a message of the source's application: the usual resend works on it.
      const resend = await server.call(
        'POST',
        `/api/v1/app/${source.appId}/msg/${id}/endpoint/${source.destinations[0].id}/resend`,
      );
      assert.equal(resend.status, 202, JSON.stringify(resend.body));
      await dest.waitFor(2);
      await drain();
      assert.equal(sha256(dest.requests[1]!.body), sha256(body));
      assert.equal(dest.requests[1]!.headers['webhook-id'], id);
    });

    test("stale requests get timestamp_out_of_tolerance under the source's tolerance; several secrets verify", async () => {
      const dest = await startReceiver();
      receivers.push(dest);
      const oldSecret = `whsec_${randomBytes(24).toString('base64')}`;
      const newSecret = `whsec_${randomBytes(24).toString('base64')}`;
      const { source } = await createSource({
        name: 'sw-tolerance',
        verification: { scheme: 'standard-webhooks', secrets: [newSecret, oldSecret], tolerance: 60 },
        destinations: [{ url: dest.url }],
      });
      const body = '{"type":"ping"}';
      const signedAt = (secret: string, ageSeconds: number, id: string) =>
        sign({
          scheme: 'standard-webhooks',
          body,
          secret,
          id,
          timestamp: Math.floor(Date.now() / 1000) - ageSeconds,
        }).headers;
      const stale = await post('sw-tolerance', body, signedAt(oldSecret, 120, 'msg_stale'));
      assert.equal(stale.status, 401);
      assert.equal(((await stale.json()) as { code: string }).code, 'timestamp_out_of_tolerance');
      const keptId = stale.headers.get('hookline-event-id');
      const kept = await server.call('GET', `/api/v1/source/${source.id}/event/${keptId}`);
      assert.equal(kept.body.status, 'rejected');
      assert.equal(kept.body.verification.code, 'timestamp_out_of_tolerance');

      const patched = await server.call('PATCH', '/api/v1/source/sw-tolerance', {
        verification: { scheme: 'standard-webhooks', tolerance: 600 },
      });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.verification.secretCount, 2);
      assert.equal((await post('sw-tolerance', body, signedAt(oldSecret, 120, 'msg_late'))).status, 200);
      assert.equal((await post('sw-tolerance', body, signedAt(newSecret, 0, 'msg_new'))).status, 200);
      await dest.waitFor(2);
      await drain();
      assert.equal(dest.requests.length, 2);
    });

    test('every scheme answers junk with a coded 401, never a 500', async () => {
      const { ERRORS } = await import('../src/core/errors.ts');
      const defs: Record<string, Record<string, unknown>> = {
        'standard-webhooks': { secrets: [`whsec_${randomBytes(24).toString('base64')}`] },
        svix: { secrets: [`whsec_${randomBytes(24).toString('base64')}`] },
        stripe: { secrets: ['whsec_abc'] },
        github: { secrets: ['s'] },
        shopify: { secrets: ['s'] },
        slack: { secrets: ['s'] },
        twilio: { secrets: ['s'], url: 'https://hooks.example.com/in/junk-twilio' },
        paddle: { secrets: ['pdl_ntfset_x'] },
        hmac: {
          secrets: ['s'],
          hmac: { header: 'X-Sig', timestampHeader: 'X-Ts', template: '{timestamp}.{body}' },
        },
      };
      const junkHeaders: Record<string, string>[] = [
        {},
        {
          'webhook-id': 'x',
          'webhook-timestamp': 'soon',
          'webhook-signature': 'v1,!!!',
          'svix-signature': ',',
          'stripe-signature': 't=,v1=',
          'x-hub-signature-256': 'sha256=zz',
          'x-shopify-hmac-sha256': '###',
          'x-slack-signature': 'v0=',
          'x-slack-request-timestamp': '-1',
          'x-twilio-signature': '',
          'paddle-signature': 'ts=1;h1=',
          'x-sig': 'abc',
          'x-ts': '1e999',
        },
      ];
      for (const [scheme, v] of Object.entries(defs)) {
        const name = `junk-${scheme}`;
        await createSource({
          name,
          verification: { scheme, ...v },
          destinations: [{ url: 'http://127.0.0.1:9' }],
        });
        for (const headers of junkHeaders) {
          for (const body of ['', '{"id":', 'a=1&b=2', '\u0000\u00ff']) {
            const res = await post(name, body, {
              'content-type': 'application/x-www-form-urlencoded',
              ...headers,
            });
            const answer = (await res.json()) as { code: keyof typeof ERRORS };
            assert.equal(res.status, 401, `${scheme}: ${JSON.stringify(answer)}`);
            assert.equal(
              ERRORS[answer.code]?.status,
              401,
              `${scheme}: ${answer.code} is a documented 401 code`,
            );
          }
        }
      }
    });

    test("Slack's url_verification handshake gets its challenge back once verified", async () => {
      const dest = await startReceiver();
      receivers.push(dest);
      const secret = 'slack-signing-secret-8f2a';
      await createSource({
        name: 'slack',
        verification: { scheme: 'slack', secrets: [secret] },
        destinations: [{ url: dest.url }],
      });
      const body = JSON.stringify({ token: 't', challenge: 'ch4ll3nge', type: 'url_verification' });
      const ok = await post('slack', body, {
        'content-type': 'application/json',
        ...sign({ scheme: 'slack', body, secret }).headers,
      });
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { challenge: 'ch4ll3nge' });
      const forged = await post('slack', body, {
        'content-type': 'application/json',
        ...sign({ scheme: 'slack', body, secret: 'not-the-secret' }).headers,
      });
      assert.equal(forged.status, 401);
      assert.equal(((await forged.json()) as { code: string }).code, 'no_matching_signature');
    });

    test('oversize bodies get 413, unknown sources 404, sources cannot be reached by id', async () => {
      const dest = await startReceiver();
      receivers.push(dest);
      const { source } = await createSource({
        name: 'small',
        verification: { scheme: 'none' },
        maxBodyBytes: 100,
        destinations: [{ url: dest.url }],
      });
      const ok = await post('small', 'x'.repeat(100), { 'content-type': 'text/plain' });
      assert.equal(ok.status, 200);
      const big = await post('small', 'x'.repeat(101), { 'content-type': 'text/plain' });
      assert.equal(big.status, 413);
      assert.equal(((await big.json()) as { code: string }).code, 'payload_too_large');
      const chunked = await fetch(`${server.url}/in/small`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: new ReadableStream({
          start(c) {
            for (let i = 0; i < 5; i++) c.enqueue(new TextEncoder().encode('y'.repeat(50)));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      assert.equal(chunked.status, 413);
      assert.equal(((await chunked.json()) as { code: string }).code, 'payload_too_large');
      const missing = await post('nope', '{}', { 'content-type': 'application/json' });
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { code: string }).code, 'not_found');
      assert.equal((await post(source.id, '{}', { 'content-type': 'application/json' })).status, 404);
      const noType = await fetch(`${server.url}/in/small`, {
        method: 'POST',
        body: new Uint8Array([1, 2, 3]),
      });
      assert.equal(noType.status, 200, 'a body without a content type is accepted too');
      await dest.waitFor(2);
      await drain();
      assert.equal(dest.requests.length, 2);
      assert.deepEqual([...dest.requests[1]!.body], [1, 2, 3]);
    });
  });
}
