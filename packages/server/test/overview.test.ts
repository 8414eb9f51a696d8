/**
 * The dashboard's overview (`/api/v1/overview`, `/api/v1/app/{app}/overview`), a message's
 * delivery status per endpoint and the live feed (server-sent events), on both stores: a healthy
 * and a failing endpoint, a signed and a forged inbound request, and the numbers each shows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

/** Reads server-sent events from a stream until `until` returns true for the events so far (bounded). */
async function readEvents(
  res: Response,
  until: (events: { event: string; data: any }[]) => boolean,
  timeoutMs = 15_000,
): Promise<{ event: string; data: any }[]> {
  const reader = res.body!.getReader();
  const events: { event: string; data: any }[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut = buf.indexOf('\n\n');
      while (cut >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
        cut = buf.indexOf('\n\n');
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
  return events;
}

for (const kind of await testStores()) {
  describe(`overview and live feed (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    let good: TestReceiver;
    let bad: TestReceiver;
    let appId: string;
    let goodEp: string;
    let badEp: string;
    let msgId: string;
    const live = (path: string, token?: string) =>
      fetch(`${server.url}/api/v1${path}`, {
        headers: { authorization: `Bearer ${token ?? server.token}`, accept: 'text/event-stream' },
      });

    before(async () => {
      db = await kind.open('overview');
      // Retries far in the future: the failing endpoint's delivery stays open.
      server = await startHookline({ env: { HOOKLINE_RETRY_SCHEDULE: '3600', ...db.env } });
      good = await startReceiver();
      bad = await startReceiver();
      bad.fallback = { status: 500, body: 'down' };
      appId = (await server.call('POST', '/api/v1/app', { name: 'Overview Co', uid: 'ov' })).body.id;
      goodEp = (await server.call('POST', '/api/v1/app/ov/endpoint', { url: `${good.url}/ok` })).body.id;
      badEp = (await server.call('POST', '/api/v1/app/ov/endpoint', { url: `${bad.url}/down` })).body.id;
    });
    after(async () => {
      await server?.close();
      await good?.close();
      await bad?.close();
      await db?.drop();
    });

    test('the live feed streams each attempt once, and the overview counts them', async () => {
      const feed = await live('/app/ov/live');
      assert.equal(feed.status, 200);
      assert.match(feed.headers.get('content-type') ?? '', /^text\/event-stream/);
      const sent = await server.call('POST', '/api/v1/app/ov/msg', {
        eventType: 'order.paid',
        payload: { n: 1 },
      });
      assert.equal(sent.status, 202);
      msgId = sent.body.id;
      const events = await readEvents(feed, (e) => e.filter((x) => x.event === 'attempt').length >= 2);
      assert.equal(events[0]?.event, 'hello');
      const attempts = events.filter((e) => e.event === 'attempt').map((e) => e.data);
      assert.equal(attempts.length, 2, JSON.stringify(events));
      const byEp = new Map(attempts.map((a) => [a.endpointId, a]));
      assert.equal(byEp.get(goodEp)?.status, 0);
      assert.equal(byEp.get(goodEp)?.responseStatusCode, 200);
      assert.equal(byEp.get(badEp)?.responseStatusCode, 500);
      assert.equal(byEp.get(badEp)?.eventType, 'order.paid');
      assert.equal(byEp.get(badEp)?.msgId, msgId);

      const ov = await server.call('GET', '/api/v1/app/ov/overview');
      assert.equal(ov.status, 200, JSON.stringify(ov.body));
      assert.deepEqual(ov.body.totals, { attempts: 2, successes: 1 });
      assert.equal(ov.body.series.length, 60, 'one bucket a minute for the hour');
      assert.equal(
        ov.body.series.reduce((n: number, b: { attempts: number }) => n + b.attempts, 0),
        2,
      );
      assert.deepEqual(
        ov.body.troubledEndpoints.map((e: { id: string }) => e.id),
        [badEp],
      );
      assert.equal(ov.body.troubledEndpoints[0].disabled, false);
      assert.ok(ov.body.troubledEndpoints[0].failingSince);
      assert.equal(ov.body.undelivered.length, 1);
      assert.equal(ov.body.undelivered[0].endpointId, badEp);
      assert.equal(ov.body.undelivered[0].count, 1);
      assert.ok(Date.parse(ov.body.undelivered[0].nextAttemptAt) > Date.now() + 60_000, 'retry in an hour');
      assert.equal(ov.body.recentFailures.length, 1);
      assert.equal(ov.body.recentFailures[0].msgId, msgId);
      assert.equal(ov.body.recentFailures[0].responseStatusCode, 500);

      // The instance overview sees the same; the 24-hour window has 96 buckets of 15 minutes.
      const all = await server.call('GET', '/api/v1/overview?window=24h');
      assert.equal(all.status, 200);
      assert.equal(all.body.series.length, 96);
      assert.equal(all.body.bucketSeconds, 900);
      assert.deepEqual(all.body.totals, { attempts: 2, successes: 1 });
      assert.equal(all.body.troubledEndpoints[0].appName, 'Overview Co');
      const bad422 = await server.call('GET', '/api/v1/overview?window=7y');
      assert.equal(bad422.status, 422);
    });

    test("a message's delivery status per endpoint (Svix's listAttemptedDestinations, as the dashboard reads it)", async () => {
      const res = await server.call('GET', `/api/v1/app/ov/msg/${msgId}/endpoint`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const byEp = new Map(res.body.data.map((d: { id: string }) => [d.id, d]));
      const ok = byEp.get(goodEp) as { status: number; nextAttempt: string | null };
      const failing = byEp.get(badEp) as typeof ok & { url: string };
      assert.deepEqual([ok.status, ok.nextAttempt], [0, null]);
      assert.equal(failing.status, 1, 'pending: retried later');
      assert.ok(failing.nextAttempt);
      assert.equal(failing.url, `${bad.url}/down`);
      // The Hookline-only route it replaced is gone.
      const old = await server.call('GET', `/api/v1/app/ov/msg/${msgId}/delivery`);
      assert.equal(old.status, 404);
      const missing = await server.call('GET', '/api/v1/app/ov/msg/msg_nope/endpoint');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 'not_found');
    });

    test('a feed narrowed to a source streams its verdicts; an application token gets its own feed only', async () => {
      const secret = `whsec_${Buffer.from('overview-test-secret-0123456789').toString('base64')}`;
      const created = await server.call('POST', '/api/v1/source', {
        name: 'ov-src',
        app: appId,
        verification: { scheme: 'standard-webhooks', secrets: [secret] },
        destinations: [{ url: `${good.url}/in` }],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const sourceId = created.body.id;
      const feed = await live(`/live?source=${sourceId}`);
      assert.equal(feed.status, 200);
      const body = JSON.stringify({ type: 'ping' });
      const headers = new Webhook(secret).sign('msg_ov1', new Date(), body);
      const signed = await fetch(`${server.url}/in/ov-src`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': 'msg_ov1',
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': headers,
        },
        body,
      });
      assert.ok(signed.status < 300, String(signed.status));
      const forged = await fetch(`${server.url}/in/ov-src`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': 'msg_ov2',
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': 'v1,Zm9yZ2Vk',
        },
        body,
      });
      assert.equal(forged.status, 401);
      const events = await readEvents(feed, (e) => e.filter((x) => x.event === 'inbound').length >= 2);
      const inbound = events.filter((e) => e.event === 'inbound').map((e) => e.data);
      assert.deepEqual(inbound.map((e) => e.status).sort(), ['accepted', 'rejected']);
      assert.equal(events.filter((e) => e.event === 'attempt').length, 0, 'a source feed has no attempts');
      const rejected = inbound.find((e) => e.status === 'rejected');
      assert.ok(rejected.verification.code, 'the verdict comes with its code');
      assert.equal(rejected.sourceName, 'ov-src');

      const ov = await server.call('GET', '/api/v1/overview');
      const src = ov.body.sources.find((s: { id: string }) => s.id === sourceId);
      assert.deepEqual([src.accepted, src.rejected], [1, 1]);

      // An application token: its application's feed and overview, not the instance's.
      const access = await server.call('POST', '/api/v1/auth/app-portal-access/ov', {});
      const token = access.body.token as string;
      const own = await live('/app/ov/live', token);
      assert.equal(own.status, 200);
      await own.body?.cancel();
      const instance = await live('/live', token);
      assert.equal(instance.status, 403);
      assert.equal(((await instance.json()) as { code: string }).code, 'insufficient_access');
      const portalView = await server.call('GET', '/api/v1/app/ov/overview', undefined, {
        authorization: `Bearer ${token}`,
      });
      assert.equal(portalView.status, 200);
      assert.deepEqual(portalView.body.sources, [], 'sources are left out for an application token');

      // A developer's `hookline listen` endpoint: its backlog shows to the admin only.
      const listen = await server.call('POST', '/api/v1/app/ov/endpoint', {
        url: 'http://localhost:3000/hooks',
        kind: 'listen',
      });
      assert.equal(listen.status, 201, JSON.stringify(listen.body));
      assert.equal(
        (await server.call('POST', '/api/v1/app/ov/msg', { eventType: 'order.paid', payload: {} })).status,
        202,
      );
      const waiting = (body: { undelivered: { endpointId: string }[] }) =>
        body.undelivered.map((u) => u.endpointId).includes(listen.body.id);
      assert.ok(waiting((await server.call('GET', '/api/v1/app/ov/overview')).body), 'the admin sees it');
      const asApp = await server.call('GET', '/api/v1/app/ov/overview', undefined, {
        authorization: `Bearer ${token}`,
      });
      assert.equal(waiting(asApp.body), false, 'an application token does not');
      const listenFeed = await live(`/app/ov/live?endpoint=${listen.body.id}`, token);
      assert.equal(listenFeed.status, 404);
      const unknown = await live('/app/ov/live?endpoint=ep_missing');
      assert.equal(unknown.status, 404);
    });
  });
}
