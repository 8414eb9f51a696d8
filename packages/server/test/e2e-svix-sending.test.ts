/**
 * The rest of Svix's sending API through the official `svix` v2 client, on SQLite and on
 * PostgreSQL: sending an example, expunging content, a message's status at each endpoint (and
 * the reverse), replays and purges as background tasks that outlive a restart, the pre-check,
 * and app-token scoping of tasks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { ApiException, BackgroundTaskStatus, type MessageOut, MessageStatus, Svix } from 'svix';
import { createManualClock } from '../src/core/clock.ts';
import {
  headersOf,
  startHookline,
  startReceiver,
  type TestReceiver,
  type TestServer,
  tempDir,
} from './helpers.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions, type TestDatabase } from './pg.ts';

function apiError(status: number, code?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
    assert.equal(err.code, status);
    if (code !== undefined) assert.equal((err.body as { code: string }).code, code);
    return true;
  };
}

const payloadsOf = (r: TestReceiver) =>
  r.requests.map((q) => JSON.parse(q.body.toString()) as Record<string, unknown>);

interface Setup {
  env: Record<string, string>;
  dataDir?: string;
  cleanup?: () => Promise<void>;
}

function suite(name: string, setup: () => Promise<Setup>, options: { skip?: string } = {}) {
  describe(`Svix sending API through the svix client (${name})`, options, () => {
    let s: Setup;
    let server: TestServer;
    let svix: Svix;
    let recvA: TestReceiver;
    let recvC: TestReceiver;
    // Moves only when told to (the polling API holds back its newest two seconds).
    const clock = createManualClock();
    const drain = () => server.hookline.dispatcher!.drain();
    const start = async () => {
      server = await startHookline({ env: s.env, clock, ...(s.dataDir ? { dataDir: s.dataDir } : {}) });
      svix = new Svix(server.token, { serverUrl: server.url });
    };
    /** Polls the task (bounded) until it is no longer running. */
    const ended = async (client: Svix, id: string) => {
      for (let i = 0; i < 500; i++) {
        const t = await client.backgroundTask.get(id);
        if (t.status !== BackgroundTaskStatus.Running) return t;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`task ${id} still running`);
    };

    before(async () => {
      s = await setup();
      await start();
      recvA = await startReceiver();
      recvC = await startReceiver();
      await svix.eventType.create({
        name: 'user.created',
        description: 'A user signed up',
        schemas: {
          '1': {
            type: 'object',
            properties: { email: { type: 'string' } },
            examples: [{ email: 'first@example.com' }, { email: 'second@example.com' }],
          },
        },
      });
      await svix.eventType.create({ name: 'user.deleted', description: 'No schema' });
      await svix.application.create({ name: 'Shop', uid: 'shop' });
      await svix.application.create({ name: 'Other', uid: 'other' });
    });
    after(async () => {
      await server?.close();
      await recvA?.close();
      await recvC?.close();
      await s?.cleanup?.();
    });

    test('send-example posts the chosen example to that endpoint only', async () => {
      const a = await svix.endpoint.create('shop', {
        url: recvA.url,
        uid: 'a',
        eventTypes: ['user.created'],
      });
      const msg = await svix.endpoint.sendExample('shop', a.id, {
        eventType: 'user.created',
        exampleIndex: 1,
      });
      assert.equal(msg.eventType, 'user.created');
      assert.deepEqual(msg.payload, { email: 'second@example.com' });
      await drain();
      assert.deepEqual(payloadsOf(recvA), [{ email: 'second@example.com' }]);
      await assert.rejects(
        svix.endpoint.sendExample('shop', 'a', { eventType: 'user.deleted' }),
        apiError(422),
      );
      await assert.rejects(
        svix.endpoint.sendExample('shop', 'a', { eventType: 'user.created', exampleIndex: 5 }),
        (err: unknown) =>
          apiError(422)(err) && (err as ApiException<any>).body.detail[0].loc[1] === 'exampleIndex',
      );
      await assert.rejects(
        svix.endpoint.sendExample('shop', 'no-such-ep', { eventType: 'user.created' }),
        apiError(404, 'not_found'),
      );
    });

    test('listAttemptedDestinations and listAttemptedMessages give each side with its status', async () => {
      const b = await svix.endpoint.create('shop', { url: `${recvA.url}/b`, uid: 'b' });
      recvA.queue({ status: 200 }, { status: 500, body: 'nope' });
      const m = await svix.message.create('shop', { eventType: 'user.created', payload: { email: 'x@y.z' } });
      await drain();
      const dests = await svix.messageAttempt.listAttemptedDestinations('shop', m.id);
      assert.equal(dests.data.length, 2);
      assert.deepEqual(dests.data.map((d) => d.uid).sort(), ['a', 'b']);
      const statuses = new Map(dests.data.map((d) => [d.uid, d]));
      // One of the two got the 500 (the order is the dispatcher's): one success, one pending retry.
      const codes = [...statuses.values()].map((d) => d.status).sort();
      assert.deepEqual(codes, [MessageStatus.Success, MessageStatus.Pending]);
      const pending = [...statuses.values()].find((d) => d.status === MessageStatus.Pending)!;
      assert.equal(pending.statusText, 'pending');
      assert.ok(pending.nextAttempt instanceof Date);

      const byB = await svix.messageAttempt.listAttemptedMessages('shop', b.id, { withContent: true });
      assert.deepEqual(
        byB.data.map((x) => [x.id, x.payload]),
        [[m.id, { email: 'x@y.z' }]],
      );
      const onlyPending = await svix.messageAttempt.listAttemptedMessages('shop', pending.id, {
        status: MessageStatus.Pending,
      });
      assert.deepEqual(
        onlyPending.data.map((x) => x.id),
        [m.id],
      );
      // Paging: one per page, newest first, the iterator continues.
      const p1 = await svix.messageAttempt.listAttemptedMessages('shop', 'a', { limit: 1 });
      assert.equal(p1.data.length, 1);
      assert.equal(p1.done, false);
      assert.equal(p1.data[0]!.id, m.id);
      const p2 = await svix.messageAttempt.listAttemptedMessages('shop', 'a', {
        limit: 1,
        iterator: p1.iterator,
      });
      assert.equal(p2.data[0]!.eventType, 'user.created');
      assert.notEqual(p2.data[0]!.id, m.id);
      await assert.rejects(svix.messageAttempt.listAttemptedDestinations('shop', 'msg_nope'), apiError(404));
    });

    test('expunging a payload and an attempt response body', async () => {
      const m = await svix.message.create('shop', {
        eventType: 'user.created',
        payload: { secret: 's3' },
        eventId: 'ev-x',
      });
      await drain();
      assert.deepEqual((await svix.message.get('shop', m.id, { withContent: true })).payload, {
        secret: 's3',
      });
      await svix.message.expungeContent('shop', 'ev-x');
      assert.deepEqual((await svix.message.get('shop', m.id, { withContent: true })).payload, {});
      const attempts = await svix.messageAttempt.listByMsg('shop', m.id);
      assert.ok(attempts.data.length > 0);
      const at = attempts.data[0]!;
      await svix.messageAttempt.expungeContent('shop', m.id, at.id);
      assert.equal((await svix.messageAttempt.get('shop', m.id, at.id)).response, '');
      await assert.rejects(svix.messageAttempt.expungeContent('shop', m.id, 'atmpt_nope'), apiError(404));
      await assert.rejects(svix.message.expungeContent('other', m.id), apiError(404));
    });

    test('bulk expunge answers per id; expunge-all-contents is a task that empties every payload', async () => {
      const m1 = await svix.message.create('shop', { eventType: 'user.deleted', payload: { n: 1 } });
      const out = await svix.message.bulkExpungeContent('shop', { ids: [m1.id, 'msg_missing'] });
      assert.deepEqual(out.results, { [m1.id]: 'expunged', msg_missing: 'not-found' });
      assert.deepEqual((await svix.message.get('shop', m1.id, { withContent: true })).payload, {});

      await svix.message.create('other', { eventType: 'user.deleted', payload: { keep: true } });
      await svix.message.create('shop', { eventType: 'user.deleted', payload: { n: 2 } });
      const task = await svix.message.expungeAllContents('shop');
      assert.equal(task.task, 'application.purge_content');
      const done = await ended(svix, task.id);
      assert.equal(done.status, BackgroundTaskStatus.Finished);
      const all = await svix.message.list('shop', { limit: 250, withContent: true });
      assert.ok(all.data.every((x) => Object.keys(x.payload).length === 0));
      assert.ok(done.data.messagesExpunged >= 1);
      // Another application's payloads are untouched.
      assert.deepEqual((await svix.message.list('other', { withContent: true })).data[0]!.payload, {
        keep: true,
      });
    });

    test('replay-missing sends an endpoint what it never got; bulk-replay resends by filter', async () => {
      const since = new Date(Date.now() - 3_600_000);
      const before = (await svix.messageAttempt.listAttemptedMessages('shop', 'a', { limit: 250 })).data
        .length;
      const c = await svix.endpoint.create('shop', {
        url: recvC.url,
        uid: 'c',
        eventTypes: ['user.created'],
      });
      const replay = await svix.endpoint.replayMissing('shop', c.id, { since });
      assert.equal(replay.task, 'endpoint.replay');
      const done = await ended(svix, replay.id);
      assert.equal(done.status, BackgroundTaskStatus.Finished);
      await drain();
      // Every user.created message of the application (the example went to a only, and is one too).
      const created = (await svix.message.list('shop', { eventTypes: ['user.created'], limit: 250 })).data;
      assert.equal(recvC.requests.length, created.length);
      assert.equal(done.data.messagesQueued, created.length);
      // Again: nothing is missing any more.
      const again = await ended(svix, (await svix.endpoint.replayMissing('shop', 'c', { since })).id);
      assert.equal(again.data.messagesQueued, 0);

      const succeeded = (
        await svix.messageAttempt.listAttemptedMessages('shop', 'a', {
          limit: 250,
          status: MessageStatus.Success,
        })
      ).data.length;
      assert.ok(succeeded >= 1 && succeeded <= before);
      await drain();
      const n = recvA.requests.length;
      const bulk = await svix.endpoint.bulkReplay('shop', 'a', { since, status: MessageStatus.Success });
      assert.equal(bulk.task, 'endpoint.bulk-replay');
      const bulkDone = await ended(svix, bulk.id);
      assert.equal(bulkDone.data.messagesQueued, succeeded);
      await drain();
      assert.equal(recvA.requests.length, n + succeeded);
      await assert.rejects(
        svix.endpoint.bulkReplay('shop', 'a', { since, eventTypes: ['no.such'] }),
        apiError(422),
      );
      await assert.rejects(
        svix.endpoint.replayMissing('shop', 'a', { since: new Date(), until: since }),
        apiError(422),
      );
    });

    test('precheck says whether any enabled endpoint would get the message', async () => {
      await svix.application.create({ name: 'Pre', uid: 'pre' });
      assert.equal((await svix.message.precheck('pre', { eventType: 'user.created' })).active, false);
      const e = await svix.endpoint.create('pre', {
        url: recvA.url,
        eventTypes: ['user.deleted'],
        channels: ['eu'],
      });
      assert.equal((await svix.message.precheck('pre', { eventType: 'user.created' })).active, false);
      assert.equal((await svix.message.precheck('pre', { eventType: 'user.deleted' })).active, false);
      assert.equal(
        (await svix.message.precheck('pre', { eventType: 'user.deleted', channels: ['eu'] })).active,
        true,
      );
      await svix.endpoint.patch('pre', e.id, { disabled: true });
      assert.equal(
        (await svix.message.precheck('pre', { eventType: 'user.deleted', channels: ['eu'] })).active,
        false,
      );
    });

    test('raw payload, attempt headers and count, cancel-msgs, rate-limit status, test-attempt', async () => {
      const m = await svix.message.create('shop', {
        eventType: 'user.deleted',
        payload: { b: 2, a: [1, 'ü'] },
      });
      const found = await server.call('POST', '/api/v1/app/shop/msg/search', {
        event_types: ['user.deleted'],
        limit: 1,
        with_content: true,
      });
      assert.equal(found.status, 200);
      assert.deepEqual(
        found.body.data.map((x: { id: string; payload: unknown }) => [x.id, x.payload]),
        [[m.id, { b: 2, a: [1, 'ü'] }]],
      );
      assert.equal(found.body.done, false);
      const next = await server.call('POST', '/api/v1/app/shop/msg/search', {
        event_types: ['user.deleted'],
        iterator: found.body.iterator,
      });
      assert.ok(
        next.body.data.length > 0 &&
          next.body.data.every((x: { eventType: string }) => x.eventType === 'user.deleted'),
      );
      assert.deepEqual(next.body.data[0].payload, {});
      const raw = await server.call('GET', `/api/v1/app/shop/msg/${m.id}/raw`);
      assert.equal(raw.status, 200);
      assert.deepEqual(JSON.parse(raw.body.payload), { b: 2, a: [1, 'ü'] });

      const h = await svix.endpoint.create('shop', {
        url: `${recvC.url}/h`,
        uid: 'h',
        eventTypes: ['user.deleted'],
        headers: { 'x-api-key': 'k-secret' },
      });
      const m2 = await svix.message.create('shop', { eventType: 'user.deleted', payload: { n: 3 } });
      await drain();
      const [at] = (await svix.messageAttempt.listByEndpoint('shop', h.id)).data;
      const headers = await server.call('GET', `/api/v1/app/shop/msg/${m2.id}/attempt/${at!.id}/headers`);
      assert.equal(headers.status, 200);
      assert.deepEqual(headers.body.sensitive, ['x-api-key']);
      assert.equal(headers.body.sentHeaders['x-api-key'], '********');
      assert.ok(headers.body.sentHeaders['webhook-signature'] ?? headers.body.sentHeaders['svix-signature']);
      assert.ok(
        headers.body.responseHeaders.some(([k, v]: string[]) => k === 'content-type' && v === 'text/plain'),
      );

      const all = (await svix.messageAttempt.listByEndpoint('shop', 'a', { limit: 250 })).data;
      const count = await server.call('GET', '/api/v1/app/shop/attempt/endpoint/a/count');
      assert.deepEqual(count.body, { count: all.length, approximated: false });
      const ok = await server.call('GET', '/api/v1/app/shop/attempt/endpoint/a/count?status=0');
      assert.equal(ok.body.count, all.filter((x) => x.status === MessageStatus.Success).length);

      // A failed first attempt leaves the delivery pending (retry in 60 s): cancel-msgs cancels it.
      recvC.queue({ status: 500 });
      const m3 = await svix.message.create('shop', { eventType: 'user.deleted', payload: { n: 4 } });
      await drain();
      const before = await svix.messageAttempt.listAttemptedDestinations('shop', m3.id);
      assert.equal(before.data.find((d) => d.id === h.id)?.status, MessageStatus.Pending);
      const cancel = await server.call('POST', '/api/v1/app/shop/endpoint/h/cancel-msgs', {
        createdBefore: new Date(clock.now() + 1000).toISOString(),
      });
      assert.equal(cancel.status, 204);
      const afterCancel = await svix.messageAttempt.listAttemptedDestinations('shop', m3.id);
      assert.equal(afterCancel.data.find((d) => d.id === h.id)?.status, MessageStatus.Canceled);
      assert.equal((await server.call('POST', '/api/v1/app/shop/endpoint/h/cancel-msgs', {})).status, 422);

      const rl = await server.call('GET', '/api/v1/app/shop/endpoint/h/rate-limit-status');
      assert.deepEqual(rl.body, { status: 'Ok', throttledSince: null });

      // A test attempt goes to this endpoint even though it does not subscribe to the event type.
      const n = recvC.requests.length;
      const test = await server.call('POST', '/api/v1/app/shop/endpoint/h/msg/test-attempt', {
        eventType: 'user.created',
        payload: { probe: true },
      });
      assert.equal(test.status, 201);
      assert.equal(test.body.endpointId, h.id);
      assert.equal(test.body.status, 0);
      assert.deepEqual(test.body.msg.payload, { probe: true });
      assert.equal(recvC.requests.length, n + 1);
      assert.deepEqual(JSON.parse(recvC.requests.at(-1)!.body.toString()), { probe: true });
      assert.equal(
        (await server.call('GET', '/api/v1/app/shop/endpoint/nope/rate-limit-status')).status,
        404,
      );
    });

    test('polling: /app/{app}/events and /events page oldest first with an iterator', async () => {
      await svix.application.create({ name: 'Poll', uid: 'poll' });
      const sent: string[] = [];
      for (let i = 0; i < 5; i++) {
        sent.push(
          (
            await svix.message.create('poll', {
              eventType: i % 2 ? 'user.deleted' : 'user.created',
              payload: { i },
              channels: i === 4 ? ['eu'] : null,
            })
          ).id,
        );
      }
      // The newest two seconds are held back.
      const early = await server.call('GET', '/api/v1/app/poll/events');
      assert.deepEqual(early.body.data, []);
      clock.advance(3000);
      const p1 = await server.call('GET', '/api/v1/app/poll/events?limit=3');
      assert.equal(p1.status, 200);
      assert.deepEqual(
        p1.body.data.map((x: { id: string }) => x.id),
        sent.slice(0, 3),
      );
      assert.equal(p1.body.done, false);
      const p2 = await server.call('GET', `/api/v1/app/poll/events?limit=3&iterator=${p1.body.iterator}`);
      assert.deepEqual(
        p2.body.data.map((x: { payload: { i: number } }) => x.payload.i),
        [3, 4],
      );
      assert.equal(p2.body.done, true);
      // Nothing new: same iterator back, no data.
      const p3 = await server.call('GET', `/api/v1/app/poll/events?iterator=${p2.body.iterator}`);
      assert.deepEqual([p3.body.data, p3.body.iterator], [[], p2.body.iterator]);
      const deleted = await server.call('GET', '/api/v1/app/poll/events?event_types=user.deleted');
      assert.deepEqual(
        deleted.body.data.map((x: { payload: { i: number } }) => x.payload.i),
        [1, 3],
      );
      const eu = await server.call('GET', '/api/v1/app/poll/events?channels=eu,us');
      assert.deepEqual(
        eu.body.data.map((x: { id: string }) => x.id),
        [sent[4]],
      );
      // Across applications (admin only): the poll application's messages are among them, in order.
      const everything = await server.call('GET', '/api/v1/events?limit=250');
      const ids = everything.body.data.map((x: { id: string }) => x.id);
      assert.deepEqual(
        ids.filter((id: string) => sent.includes(id)),
        sent,
      );
      assert.deepEqual([...ids].sort(), ids);
      const { token } = await svix.authentication.appPortalAccess('poll', {});
      const asApp = await fetch(`${server.url}/api/v1/events`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(asApp.status, 403);
      const ownEvents = await fetch(`${server.url}/api/v1/app/poll/events`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(((await ownEvents.json()) as { data: unknown[] }).data.length, 5);
    });

    test('statistics: usage tasks through the client, counts and attempt stats, whoami', async () => {
      const usage = await svix.statistics.aggregateAppStats({
        since: new Date(clock.now() - 86_400_000),
        until: new Date(clock.now() + 60_000),
        appIds: ['shop', 'no-such-app'],
      });
      assert.deepEqual(usage.unresolvedAppIds, ['no-such-app']);
      assert.equal(usage.task, 'application.stats');
      const done = await ended(svix, usage.id);
      assert.equal(done.status, BackgroundTaskStatus.Finished);
      const shopId = (await svix.application.get('shop')).id;
      const deliveries = (await svix.messageAttempt.listAttemptedMessages('shop', 'a', { limit: 250 })).data
        .length;
      const [stat] = done.data.appStats;
      assert.equal(stat.appId, shopId);
      assert.equal(stat.appUid, 'shop');
      assert.ok(stat.messageDestinations >= deliveries, `${stat.messageDestinations} >= ${deliveries}`);

      const agg = await ended(svix, (await svix.statistics.aggregateEventTypes()).id);
      const counts = new Map(
        agg.data.eventTypes.map((e: { eventType: string; messages: number }) => [e.eventType, e.messages]),
      );
      const shopCreated = (await svix.message.list('shop', { eventTypes: ['user.created'], limit: 250 })).data
        .length;
      assert.ok((counts.get('user.created') as number) >= shopCreated);

      const active = await server.call('GET', '/api/v1/app/stats/count-active');
      // shop and pre have endpoints (pre's is disabled); other and poll have none.
      assert.deepEqual(active.body, { count: 1 });
      assert.deepEqual(
        (await server.call('GET', '/api/v1/app/stats/count-active?exclude_disabled=false')).body,
        {
          count: 2,
        },
      );
      const eps = await server.call('GET', '/api/v1/stats/endpoint/count');
      assert.deepEqual(eps.body, { active: 4, disabled: 1 });

      const byType = await server.call('GET', '/api/v1/app/shop/stats/attempts');
      assert.equal(byType.status, 200);
      const attemptsToShop = (await server.call('GET', '/api/v1/app/shop/attempt/endpoint/a/count')).body
        .count;
      assert.ok(
        byType.body.total_success + byType.body.total_failure + byType.body.total_canceled >= attemptsToShop,
      );
      assert.ok(byType.body.by_event_type['user.created'].success > 0);
      const series = await server.call('GET', '/api/v1/stats/app/shop/attempt?period=OneHour');
      assert.equal(series.status, 200);
      assert.equal(series.body.period, 'OneHour');
      assert.equal(series.body.data.successCount.length, 28 * 24 + 1);
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      assert.equal(sum(series.body.data.successCount), byType.body.total_success);
      assert.equal(sum(series.body.data.failureCount), byType.body.total_failure);

      assert.deepEqual((await server.call('GET', '/api/v1/auth/whoami')).body, {
        envId: null,
        appId: null,
        permissionSource: 'GlobalAuthToken',
        sessionId: null,
      });
      const { token } = await svix.authentication.appPortalAccess('shop', {});
      const who = await fetch(`${server.url}/api/v1/auth/whoami`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(((await who.json()) as { appId: string }).appId, shopId);
      const scoped = new Svix(token, { serverUrl: server.url });
      await assert.rejects(scoped.statistics.aggregateEventTypes(), apiError(403, 'insufficient_access'));
      const notAdmin = await fetch(`${server.url}/api/v1/stats/endpoint/count`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(notAdmin.status, 403);
    });

    test("an event type's retry schedule: get and set, and the dispatcher retries on it", async () => {
      await svix.eventType.create({ name: 'retry.fast', description: 'Retried quickly' });
      const none = await server.call('GET', '/api/v1/event-type/retry.fast/retry-schedule');
      assert.deepEqual(none.body, { retrySchedule: null });
      const schedule = [{ secs: 0, nanos: 50_000_000 }];
      const set = await server.call('PUT', '/api/v1/event-type/retry.fast/retry-schedule', {
        retrySchedule: schedule,
      });
      assert.equal(set.status, 200);
      assert.deepEqual((await server.call('GET', '/api/v1/event-type/retry.fast/retry-schedule')).body, {
        retrySchedule: schedule,
      });
      assert.equal((await server.call('GET', '/api/v1/event-type/no.such/retry-schedule')).status, 404);
      assert.equal(
        (
          await server.call('PUT', '/api/v1/event-type/retry.fast/retry-schedule', {
            retrySchedule: [{ secs: -1, nanos: 0 }],
          })
        ).status,
        422,
      );
      await server.hookline.retrySchedules.refresh();

      await svix.application.create({ name: 'Retry', uid: 'retry' });
      await svix.endpoint.create('retry', { url: `${recvC.url}/r`, uid: 'r' });
      recvC.queue({ status: 500 }, { status: 500 });
      const fast = await svix.message.create('retry', { eventType: 'retry.fast', payload: { n: 1 } });
      const slow = await svix.message.create('retry', { eventType: 'user.deleted', payload: { n: 2 } });
      await drain();
      // Both failed once. 100 ms later only the event type with its own schedule is due again
      // (the server's schedule waits 60 s).
      clock.advance(100);
      await drain();
      const status = async (id: string) =>
        (await svix.messageAttempt.listAttemptedDestinations('retry', id)).data[0]!.status;
      assert.equal(await status(fast.id), MessageStatus.Success);
      assert.equal(await status(slow.id), MessageStatus.Pending);
      assert.equal((await svix.messageAttempt.listByMsg('retry', fast.id)).data.length, 2);
      assert.equal((await svix.messageAttempt.listByMsg('retry', slow.id)).data.length, 1);
      // Cleared: the server's schedule again.
      await server.call('PUT', '/api/v1/event-type/retry.fast/retry-schedule', { retrySchedule: null });
      assert.deepEqual((await server.call('GET', '/api/v1/event-type/retry.fast/retry-schedule')).body, {
        retrySchedule: null,
      });
    });

    test('payload validation against the JSON Schema is opt-in per event type, with coded 422s', async () => {
      const schema = {
        type: 'object',
        required: ['id'],
        properties: {
          id: { type: 'string' },
          customer: { type: 'object', properties: { email: { type: 'string', format: 'email' } } },
          items: { type: 'array', items: { type: 'integer' } },
        },
      };
      // (The svix client leaves out fields Svix does not have: validatePayload goes over plain HTTP.)
      const noSchema = await server.call('POST', '/api/v1/event-type', {
        name: 'order.nothing',
        description: 'x',
        validatePayload: true,
      });
      assert.equal(noSchema.status, 422);
      assert.deepEqual(noSchema.body.detail[0].loc, ['body', 'schemas']);
      const created = await server.call('POST', '/api/v1/event-type', {
        name: 'order.placed',
        description: 'An order',
        schemas: { '1': schema },
        validatePayload: true,
      });
      assert.equal(created.status, 201);
      assert.equal(created.body.validatePayload, true);
      const bad = (payload: Record<string, unknown>) =>
        svix.message.create('shop', { eventType: 'order.placed', payload }).then(
          () => assert.fail('accepted'),
          (err: unknown) => {
            assert.ok(err instanceof ApiException);
            assert.equal(err.code, 422);
            assert.equal((err.body as { code: string }).code, 'payload_invalid');
            return (err.body as { detail: { loc: unknown[]; type: string }[] }).detail;
          },
        );
      assert.deepEqual((await bad({ customer: {} }))[0]!.loc, ['body', 'payload', 'id']);
      const d = await bad({ id: 'o1', customer: { email: 'not-an-email' }, items: [1, 'two'] });
      assert.deepEqual(d.map((x) => x.loc).sort(), [
        ['body', 'payload', 'customer', 'email'],
        ['body', 'payload', 'items', 1],
      ]);
      assert.ok(d.every((x) => x.type.startsWith('value_error.jsonschema.')));
      const ok = await svix.message.create('shop', {
        eventType: 'order.placed',
        payload: { id: 'o2', items: [1] },
      });
      assert.equal(ok.eventType, 'order.placed');
      // Off again (a PUT from a Svix client, which never sends the field, keeps it on).
      await svix.eventType.upsert('order.placed', { description: 'An order', schemas: { '1': schema } });
      assert.equal((await server.call('GET', '/api/v1/event-type/order.placed')).body.validatePayload, true);
      await server.call('PATCH', '/api/v1/event-type/order.placed', { validatePayload: false });
      await svix.message.create('shop', { eventType: 'order.placed', payload: { anything: true } });
      // An event type without the setting is not checked (the server default is off).
      await svix.message.create('shop', { eventType: 'user.created', payload: { email: 42 } });
    });

    test('event types from and to an OpenAPI document', async () => {
      const spec = {
        openapi: '3.1.0',
        info: { title: 'Shop webhooks', version: '1' },
        webhooks: {
          'invoice.paid': {
            post: {
              description: 'An invoice was paid',
              'x-svix-group-name': 'billing',
              requestBody: {
                content: { 'application/json': { schema: { $ref: '#/components/schemas/Invoice' } } },
              },
            },
          },
          'invoice.voided': { post: { summary: 'Voided', deprecated: true } },
        },
        components: {
          schemas: {
            Invoice: { type: 'object', properties: { amount: { $ref: '#/components/schemas/Money' } } },
            Money: { type: 'integer' },
          },
        },
      };
      const dry = await svix.eventType.importOpenapi({ spec, dryRun: true });
      assert.deepEqual(dry.data.modified, []);
      assert.deepEqual(
        dry.data.toModify?.map((t) => t.name),
        ['invoice.paid', 'invoice.voided'],
      );
      await assert.rejects(svix.eventType.get('invoice.paid'), apiError(404));
      const done = await svix.eventType.importOpenapi({ spec });
      assert.deepEqual(done.data.modified, ['invoice.paid', 'invoice.voided']);
      const paid = await svix.eventType.get('invoice.paid');
      assert.equal(paid.description, 'An invoice was paid');
      assert.equal(paid.groupName, 'billing');
      assert.deepEqual(paid.schemas, {
        '1': { type: 'object', properties: { amount: { type: 'integer' } } },
      });
      assert.equal((await svix.eventType.get('invoice.voided')).deprecated, true);
      const raw = await svix.eventType.importOpenapi({ specRaw: JSON.stringify(spec), dryRun: true });
      assert.equal(raw.data.toModify?.length, 2);
      await assert.rejects(svix.eventType.importOpenapi({ specRaw: 'webhooks: {}' }), apiError(422));
      await assert.rejects(svix.eventType.importOpenapi({ spec: { openapi: '3.1.0' } }), apiError(422));

      const exp = await server.call('POST', '/api/v1/event-type/export/openapi');
      assert.equal(exp.status, 202);
      assert.equal(exp.body.task, 'sdk.generate');
      const doc = (await ended(svix, exp.body.id)).data.openapi;
      assert.deepEqual(
        doc.webhooks['invoice.paid'].post.requestBody.content['application/json'].schema,
        paid.schemas!['1'],
      );
      assert.ok(doc.webhooks['user.created']);
      // The export imports back to the same event types.
      const back = await svix.eventType.importOpenapi({ spec: doc, dryRun: true });
      const again = back.data.toModify!.find((t) => t.name === 'invoice.paid')!;
      assert.deepEqual(
        [again.schemas, again.groupName, again.description],
        [paid.schemas, 'billing', paid.description],
      );
    });

    test('broadcast publishes to every application; environment export and import move the catalog and endpoints', async () => {
      const apps = (await svix.application.list({ limit: 250 })).data;
      const b = await server.call('POST', '/api/v1/msg/broadcast', {
        eventType: 'user.deleted',
        payload: { notice: 'maintenance' },
        eventId: 'bc-1',
      });
      assert.equal(b.status, 202);
      assert.equal(b.body.task, 'message.broadcast');
      const done = await ended(svix, b.body.id);
      assert.deepEqual(
        [done.status, done.data.applications, done.data.skipped],
        [BackgroundTaskStatus.Finished, apps.length, 0],
      );
      for (const a of apps) {
        const m = await svix.message.get(a.id, 'bc-1', { withContent: true });
        assert.deepEqual(m.payload, { notice: 'maintenance' });
      }
      // Again with the same eventId: every application has it already.
      const again = await ended(
        svix,
        (
          await server.call('POST', '/api/v1/msg/broadcast', {
            eventType: 'user.deleted',
            payload: {},
            eventId: 'bc-1',
          })
        ).body.id,
      );
      assert.deepEqual([again.data.applications, again.data.skipped], [0, apps.length]);
      const { token } = await svix.authentication.appPortalAccess('shop', {});
      const asApp = await fetch(`${server.url}/api/v1/msg/broadcast`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ eventType: 'user.deleted', payload: {} }),
      });
      assert.equal(asApp.status, 403);

      const viaClient = await svix.environment.export();
      assert.ok(viaClient.eventTypes.some((t) => t.name === 'user.created'));
      const doc = (await server.call('POST', '/api/v1/environment/export')).body;
      assert.equal(doc.version, 1);
      const shop = doc.applications.find((a: { uid: string }) => a.uid === 'shop');
      const h = shop.endpoints.find((e: { uid: string }) => e.uid === 'h');
      assert.deepEqual(h.headers, { 'x-api-key': 'k-secret' });
      assert.equal(h.secret, (await svix.endpoint.getSecret('shop', 'h')).key);

      // Into a fresh server: the same event types, applications, endpoints and secrets.
      const other = await startHookline({ clock });
      try {
        const imp = await other.call('POST', '/api/v1/environment/import', doc);
        assert.equal(imp.status, 204);
        const svix2 = new Svix(other.token, { serverUrl: other.url });
        assert.deepEqual(
          (await svix2.eventType.get('user.created')).schemas,
          (await svix.eventType.get('user.created')).schemas,
        );
        assert.equal((await svix2.endpoint.getSecret('shop', 'h')).key, h.secret);
        assert.equal((await svix2.endpoint.get('shop', 'a')).url, recvA.url);
        assert.deepEqual((await svix2.endpoint.getHeaders('shop', 'h')).headers, { 'x-api-key': 'k-secret' });
        // Importing twice changes nothing (matched by uid).
        assert.equal((await other.call('POST', '/api/v1/environment/import', doc)).status, 204);
        assert.equal((await svix2.endpoint.list('shop', { limit: 250 })).data.length, shop.endpoints.length);
        // Through the client (event types only: it knows nothing of applications).
        await svix2.environment.import({ eventTypes: [{ name: 'from.client', description: 'x' }] });
        assert.equal((await svix2.eventType.get('from.client')).description, 'x');
        const bad = await other.call('POST', '/api/v1/environment/import', {
          applications: [{ name: 'X', uid: 'x', endpoints: [{ url: 'not a url' }] }],
        });
        assert.equal(bad.status, 422);
      } finally {
        await other.close();
      }
    });

    test('operational webhooks: the 9 endpoint calls, and endpoint and delivery events signed and retried', async () => {
      const ops = await startReceiver();
      try {
        const ep = await svix.operationalWebhook.endpoint.create({
          url: ops.url,
          uid: 'ops',
          description: 'Operator',
          eventTypes: [
            'endpoint.created',
            'endpoint.updated',
            'endpoint.deleted',
            'endpoint.disabled',
            'message.attempt.exhausted',
            'message.attempt.failing',
            'message.attempt.recovered',
          ],
        });
        assert.equal(ep.uid, 'ops');
        assert.deepEqual(
          (await svix.operationalWebhook.endpoint.list()).data.map((e) => e.id),
          [ep.id],
        );
        assert.equal((await svix.operationalWebhook.endpoint.get('ops')).description, 'Operator');
        const secret = (await svix.operationalWebhook.endpoint.getSecret('ops')).key;
        assert.match(secret, /^whsec_/);
        await svix.operationalWebhook.endpoint.setHeaders('ops', { headers: { 'X-Operator': 'yes' } });
        assert.deepEqual((await svix.operationalWebhook.endpoint.getHeaders('ops')).headers, {
          'x-operator': 'yes',
        });
        await assert.rejects(
          svix.operationalWebhook.endpoint.create({ url: ops.url, eventTypes: ['no.such'] }),
          apiError(422),
        );
        // Hookline's own application is in no list.
        assert.ok(
          !(await svix.application.list({ limit: 250 })).data.some((a) => a.name.includes('operational')),
        );

        // In the order the events were made: their messages' ids (KSUIDs, increasing in one
        // process). Deliveries of different messages to one endpoint go out side by side, so two
        // events made a few milliseconds apart may arrive the other way round.
        const seen = () =>
          [...ops.requests]
            .sort((a, b) => {
              const [x, y] = [String(a.headers['webhook-id']), String(b.headers['webhook-id'])];
              return x < y ? -1 : x > y ? 1 : 0;
            })
            .map((r) => {
              const body = new Webhook(secret).verify(r.body.toString(), headersOf(r)) as {
                type: string;
                data: any;
              };
              assert.equal(r.headers['x-operator'], 'yes');
              return body;
            });
        await svix.application.create({ name: 'Ops', uid: 'opsapp' });
        const appId = (await svix.application.get('opsapp')).id;
        const x = await svix.endpoint.create('opsapp', { url: `${recvA.url}/x`, uid: 'x' });
        await svix.endpoint.patch('opsapp', 'x', { disabled: true });
        await svix.endpoint.delete('opsapp', 'x');
        await drain();
        const events = seen();
        assert.deepEqual(
          events.map((e) => e.type),
          ['endpoint.created', 'endpoint.updated', 'endpoint.disabled', 'endpoint.deleted'],
        );
        assert.deepEqual(events[0]!.data, { appId, appUid: 'opsapp', endpointId: x.id, endpointUid: 'x' });
        assert.equal(events[2]!.data.trigger, 'manual');

        // Deliveries: failing on the 4th failure, recovered on the success after it, exhausted at the end.
        await svix.eventType.create({ name: 'ops.probe', description: 'Probe' });
        const fast = Array.from({ length: 5 }, () => ({ secs: 0, nanos: 10_000_000 }));
        await server.call('PUT', '/api/v1/event-type/ops.probe/retry-schedule', { retrySchedule: fast });
        await server.hookline.retrySchedules.refresh();
        const recv = await startReceiver();
        let m1: MessageOut | undefined;
        let m2: MessageOut | undefined;
        try {
          await svix.endpoint.create('opsapp', { url: recv.url, uid: 'y' });
          recv.queue(...Array.from({ length: 4 }, () => ({ status: 500 })));
          m1 = await svix.message.create('opsapp', {
            eventType: 'ops.probe',
            payload: { n: 1 },
            eventId: 'probe-1',
          });
          for (let i = 0; i < 6; i++) {
            await drain();
            clock.advance(20);
          }
          recv.fallback = { status: 503 };
          m2 = await svix.message.create('opsapp', { eventType: 'ops.probe', payload: { n: 2 } });
          for (let i = 0; i < 7; i++) {
            await drain();
            clock.advance(20);
          }
          // The dispatcher queues an attempt's operational event after it settles the attempt, so
          // the last one can still be on its way into the queue when a drain finds nothing due.
          const deadline = Date.now() + 10_000;
          while (ops.requests.length < 9 && Date.now() < deadline) {
            await drain();
            await new Promise((r) => setTimeout(r, 20));
          }
        } finally {
          await recv.close();
        }
        const later = seen().slice(4);
        assert.deepEqual(
          later.map((e) => [e.type, e.data.msgId]),
          [
            ['endpoint.created', undefined],
            ['message.attempt.failing', m1?.id],
            ['message.attempt.recovered', m1?.id],
            ['message.attempt.failing', m2?.id],
            ['message.attempt.exhausted', m2?.id],
          ],
        );
        assert.equal(later[1]!.data.msgEventId, 'probe-1');
        assert.equal(later[4]!.data.lastAttempt.responseStatusCode, 503);
        assert.match(later[4]!.data.lastAttempt.id, /^atmpt_/);

        await svix.operationalWebhook.endpoint.rotateSecret('ops', {});
        assert.notEqual((await svix.operationalWebhook.endpoint.getSecret('ops')).key, secret);
        const up = await svix.operationalWebhook.endpoint.upsert('ops', {
          url: ops.url,
          eventTypes: ['endpoint.deleted'],
        });
        assert.deepEqual(up.eventTypes, ['endpoint.deleted']);
        const { token } = await svix.authentication.appPortalAccess('opsapp', {});
        await assert.rejects(
          new Svix(token, { serverUrl: server.url }).operationalWebhook.endpoint.list(),
          apiError(403, 'insufficient_access'),
        );
        await svix.operationalWebhook.endpoint.delete('ops');
        await assert.rejects(svix.operationalWebhook.endpoint.get('ops'), apiError(404));
      } finally {
        await ops.close();
      }
    });

    test('/openapi.json documents every operation of this file', async () => {
      const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, unknown>>;
      };
      const ops = [
        'post /api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example',
        'delete /api/v1/app/{app_id}/msg/{msg_id}/content',
        'delete /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content',
        'get /api/v1/app/{app_id}/endpoint/{endpoint_id}/msg',
        'get /api/v1/app/{app_id}/msg/{msg_id}/endpoint',
        'get /api/v1/background-task',
        'get /api/v1/background-task/{task_id}',
        'post /api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing',
        'post /api/v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay',
        'post /api/v1/app/{app_id}/endpoint/{endpoint_id}/cancel-msgs',
        'get /api/v1/app/{app_id}/endpoint/{endpoint_id}/rate-limit-status',
        'post /api/v1/app/{app_id}/msg/precheck/active',
        'post /api/v1/app/{app_id}/msg/bulk-expunge',
        'post /api/v1/app/{app_id}/msg/expunge-all-contents',
        'post /api/v1/app/{app_id}/msg/search',
        'get /api/v1/app/{app_id}/msg/{msg_id}/raw',
        'post /api/v1/app/{app_id}/endpoint/{endpoint_id}/msg/test-attempt',
        'get /api/v1/app/{app_id}/events',
        'get /api/v1/events',
        'get /api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}/count',
        'get /api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/headers',
        'get /api/v1/auth/whoami',
        'get /api/v1/app/stats/count-active',
        'get /api/v1/app/{app_id}/stats/attempts',
        'post /api/v1/stats/usage/app',
        'put /api/v1/stats/usage/event-types',
        'get /api/v1/stats/endpoint/count',
        'get /api/v1/stats/app/{app_id}/attempt',
        'get /api/v1/event-type/{event_type_name}/retry-schedule',
        'put /api/v1/event-type/{event_type_name}/retry-schedule',
        'post /api/v1/event-type/import/openapi',
        'post /api/v1/event-type/export/openapi',
        'get /api/v1/operational-webhook/endpoint',
        'post /api/v1/operational-webhook/endpoint',
        'get /api/v1/operational-webhook/endpoint/{endpoint_id}',
        'put /api/v1/operational-webhook/endpoint/{endpoint_id}',
        'delete /api/v1/operational-webhook/endpoint/{endpoint_id}',
        'get /api/v1/operational-webhook/endpoint/{endpoint_id}/secret',
        'post /api/v1/operational-webhook/endpoint/{endpoint_id}/secret/rotate',
        'get /api/v1/operational-webhook/endpoint/{endpoint_id}/headers',
        'put /api/v1/operational-webhook/endpoint/{endpoint_id}/headers',
        'post /api/v1/msg/broadcast',
        'post /api/v1/environment/export',
        'post /api/v1/environment/import',
      ];
      const missing = ops.filter((op) => {
        const [method, path] = op.split(' ') as [string, string];
        return !doc.paths[path]?.[method];
      });
      assert.deepEqual(missing, []);
    });

    test('background tasks: listed and filtered, scoped to an app token, kept across a restart', async () => {
      const list = await svix.backgroundTask.list({ limit: 250 });
      const kinds = new Set(list.data.map((t) => t.task));
      for (const k of ['endpoint.replay', 'endpoint.bulk-replay', 'application.purge_content'])
        assert.ok(kinds.has(k as never), k);
      const replays = await svix.backgroundTask.list({ task: 'endpoint.replay' as never });
      assert.ok(replays.data.length >= 2 && replays.data.every((t) => t.task === 'endpoint.replay'));

      const otherTask = await svix.message.expungeAllContents('other');
      await ended(svix, otherTask.id);
      const { token } = await svix.authentication.appPortalAccess('shop', {});
      const scoped = new Svix(token, { serverUrl: server.url });
      const seen = await scoped.backgroundTask.list({ limit: 250 });
      assert.ok(seen.data.length > 0);
      assert.ok(!seen.data.some((t) => t.id === otherTask.id), "another application's task is not listed");
      await assert.rejects(scoped.backgroundTask.get(otherTask.id), apiError(404));
      const shopTask = seen.data[0]!;
      assert.equal((await scoped.backgroundTask.get(shopTask.id)).id, shopTask.id);
      // A read-only token may search and pre-check (POSTs that read), not replay.
      const ro = new Svix((await svix.authentication.appPortalAccess('shop', { readOnly: true })).token, {
        serverUrl: server.url,
      });
      assert.equal(
        typeof (await ro.message.precheck('shop', { eventType: 'user.created' })).active,
        'boolean',
      );
      await assert.rejects(
        ro.endpoint.replayMissing('shop', 'a', { since: new Date(clock.now() - 1000) }),
        apiError(403, 'insufficient_access'),
      );
      await assert.rejects(ro.message.precheck('other', { eventType: 'user.created' }), apiError(403));

      await server.close();
      await start();
      const afterRestart = await svix.backgroundTask.get(shopTask.id);
      assert.equal(afterRestart.status, BackgroundTaskStatus.Finished);
      assert.deepEqual(afterRestart.data, shopTask.data);
      await assert.rejects(svix.backgroundTask.get('qtask_nope'), apiError(404, 'not_found'));
    });
  });
}

suite('sqlite', async () => {
  const dir = tempDir();
  return { env: { HOOKLINE_RETRY_SCHEDULE: '60,60' }, dataDir: dir };
});

let db: TestDatabase | undefined;
suite(
  'postgres',
  async () => {
    db = await createTestDatabase('sending');
    return {
      env: {
        HOOKLINE_DATABASE_URL: db.url,
        HOOKLINE_SECRET_KEY: PG_SECRET_KEY,
        HOOKLINE_RETRY_SCHEDULE: '60,60',
      },
      cleanup: () => db!.drop(),
    };
  },
  await pgTestOptions(),
);
