/**
 * The Store contract: every adapter must pass this suite. It loops over the adapters; set
 * HOOKLINE_TEST_STORES=sqlite (comma-separated) to run only some.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createIdGenerator } from '../src/core/ids.ts';
import { endpointMatches } from '../src/core/routing.ts';
import type { App, Attempt, Endpoint, InboundEvent, Message, Source } from '../src/core/types.ts';
import { LIVE_MS, slotInterval } from '../src/store/claim-plan.ts';
import type {
  ClaimedDelivery,
  InboundItem,
  IngestHandoff,
  IngestItem,
  PageQuery,
  RecoverCursor,
  Store,
} from '../src/store/store.ts';
import { pgTestOptions } from './pg.ts';
import { byFilters, selectedAdapters, testEndpoint, testIngestItem } from './stores.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');

for (const adapter of selectedAdapters()) {
  const options = adapter.name === 'postgres' ? await pgTestOptions() : {};
  describe(`Store contract: ${adapter.name}`, options, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let rawDump: () => string | Promise<string>;
    let peer: (() => Store) | undefined;
    let now = T0;
    let ids = createIdGenerator(() => now);

    beforeEach(async () => {
      ({ store, cleanup, rawDump, peer } = await adapter.open());
      now = T0;
      // Ids carry their second (retention of inbound bytes goes by id): each test's store gets
      // ids from its own clock, like a process starting on it, not from where the last test left off.
      ids = createIdGenerator(() => now);
    });
    afterEach(() => cleanup());

    const app = (uid: string | null = null): App => ({
      id: ids('app'),
      uid,
      name: 'A',
      throttleRate: null,
      metadata: {},
      createdAt: now,
      updatedAt: now,
    });
    const endpoint = (appId: string, over: Partial<Endpoint> = {}): Endpoint =>
      testEndpoint(ids('endpoint'), appId, now, over);
    const item = (appId: string, over: Partial<Message> = {}): IngestItem =>
      testIngestItem(ids, appId, now, { payload: '{"a":1}', ...over }, { route: byFilters });
    const attemptFor = (
      d: { id: string; msgId: string; endpointId: string; appId: string },
      ok: boolean,
    ): Attempt => ({
      id: ids('attempt'),
      deliveryId: d.id,
      msgId: d.msgId,
      endpointId: d.endpointId,
      appId: d.appId,
      url: 'http://x',
      status: ok ? 0 : 2,
      responseStatusCode: ok ? 200 : 500,
      response: '',
      responseHeaders: {},
      requestHeaders: {},
      durationMs: 1,
      triggerType: 0,
      createdAt: now,
    });
    const claim = (over: Partial<Parameters<Store['claimDue']>[0]> = {}) =>
      store
        .claimDue({ now, limit: 100, leaseMs: 30_000, perEndpoint: 100, skipEndpoints: [], ...over })
        .then((c) => c.deliveries);
    /** Ingests `n` messages to the application one at a time, 1 ms apart; returns their ids. */
    const ingestOneByOne = async (appId: string, n: number): Promise<string[]> => {
      const msgs: string[] = [];
      for (let i = 0; i < n; i++) {
        const it = item(appId);
        msgs.push(it.message.id);
        await store.ingest([it]);
        now += 1;
      }
      return msgs;
    };
    /** The outcome of a claimed delivery whose attempt failed and that is not tried again. */
    const failed = (d: ClaimedDelivery) => ({
      deliveryId: d.id,
      leaseUntil: d.leaseUntil,
      attempt: attemptFor(d, false),
      next: { kind: 'fail' as const },
    });
    /** Records a failed attempt of each claimed delivery; each is due again a minute later. */
    const failForAMinute = (claimed: ClaimedDelivery[]) =>
      store.completeDeliveries(
        claimed.map((d) => ({
          deliveryId: d.id,
          leaseUntil: d.leaseUntil,
          attempt: attemptFor(d, false),
          next: { kind: 'retry', at: now + 60_000 },
        })),
        now,
      );

    test('a migrated database has no pending migrations', async () => {
      assert.equal(await store.pendingMigrations(), 0);
    });

    test('apps: insert, find by id or uid, unique uid, keyset pages both ways', async () => {
      const apps = [];
      for (let i = 0; i < 5; i++) {
        const a = app(`u${i}`);
        await store.insertApp(a);
        apps.push(a);
      }
      assert.equal((await store.getApp('u3'))?.id, apps[3]!.id);
      assert.equal((await store.getApp(apps[2]!.id))?.uid, 'u2');
      await assert.rejects(store.insertApp(app('u1')));
      const q = (over: Partial<PageQuery>): PageQuery => ({
        limit: 2,
        after: null,
        before: null,
        order: 'asc',
        ...over,
      });
      const p1 = await store.listApps(q({}));
      assert.deepEqual(
        p1.items.map((a) => a.uid),
        ['u0', 'u1'],
      );
      assert.equal(p1.more, true);
      const p3 = await store.listApps(q({ after: apps[3]!.id }));
      assert.deepEqual(
        p3.items.map((a) => a.uid),
        ['u4'],
      );
      assert.equal(p3.more, false);
      const back = await store.listApps(q({ before: apps[3]!.id }));
      assert.deepEqual(
        back.items.map((a) => a.uid),
        ['u1', 'u2'],
      );
      const desc = await store.listApps(q({ order: 'desc', limit: 3 }));
      assert.deepEqual(
        desc.items.map((a) => a.uid),
        ['u4', 'u3', 'u2'],
      );
    });

    test('ingest routes to matching enabled endpoints in one transaction and dedupes eventId', async () => {
      const a = app();
      await store.insertApp(a);
      const all = endpoint(a.id);
      const filtered = endpoint(a.id, { eventTypes: ['other.type'] });
      const channel = endpoint(a.id, { channels: ['eu'] });
      const off = endpoint(a.id, { disabled: true });
      for (const e of [all, filtered, channel, off]) await store.insertEndpoint(e);
      let woke = 0;
      store.onDeliveriesQueued(() => woke++);
      const results = await store.ingest([
        item(a.id, { eventId: 'e1' }),
        item(a.id, { eventId: 'e1' }),
        item(a.id, { channels: ['eu'] }),
      ]);
      assert.deepEqual(results[0], { ok: true, deliveries: 1 });
      assert.equal(results[1]!.ok, false, 'the same eventId twice in one batch is a duplicate');
      assert.deepEqual(results[2], { ok: true, deliveries: 2 });
      assert.equal(woke, 1);
      const claimed = await claim();
      assert.equal(claimed.length, 3);
      assert.deepEqual(new Set(claimed.map((c) => c.endpointId)), new Set([all.id, channel.id]));
      assert.equal(claimed[0]!.payload, '{"a":1}');
      assert.equal(claimed[0]!.endpoint.secrets[0]!.key, all.secrets[0]!.key);
    });

    test('one ingest batch over several applications routes each message to its own', async () => {
      const a = app();
      const b = app();
      for (const x of [a, b]) await store.insertApp(x);
      const ea = endpoint(a.id);
      const eb = endpoint(b.id);
      const ebOther = endpoint(b.id, { eventTypes: ['other.type'] });
      for (const e of [ea, eb, ebOther]) await store.insertEndpoint(e);
      const results = await store.ingest([
        item(a.id),
        item(b.id),
        item('app_none'),
        item(b.id, { eventType: 'other.type' }),
      ]);
      assert.deepEqual(results, [
        { ok: true, deliveries: 1 },
        { ok: true, deliveries: 1 },
        { ok: false, reason: 'app_not_found' },
        { ok: true, deliveries: 2 },
      ]);
      const claimed = await claim();
      const byEndpoint = new Map<string, number>();
      for (const c of claimed) byEndpoint.set(c.endpointId, (byEndpoint.get(c.endpointId) ?? 0) + 1);
      assert.deepEqual(
        byEndpoint,
        new Map([
          [ea.id, 1],
          [eb.id, 2],
          [ebOther.id, 1],
        ]),
      );
      for (const c of claimed) assert.equal(c.appId, c.endpointId === ea.id ? a.id : b.id);
    });

    test('a lease hides a delivery until it expires; then another worker can claim it', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id);
      await store.insertEndpoint(e);
      await store.ingest([item(a.id)]);
      const first = await claim({ leaseMs: 10_000 });
      assert.equal(first.length, 1);
      assert.equal((await claim()).length, 0, 'leased');
      assert.equal(await store.nextDueAt(), now + 10_000);
      now += 10_000;
      const again = await claim();
      assert.equal(again.length, 1, 'lease expired: claimable again');
      assert.equal(again[0]!.id, first[0]!.id);
      await store.releaseDeliveries([again[0]!.id], now);
      assert.equal((await claim()).length, 1, 'released deliveries are due at once');
    });

    test('claims respect the per-endpoint cap and skip saturated endpoints', async () => {
      const a = app();
      await store.insertApp(a);
      const busy = endpoint(a.id);
      await store.insertEndpoint(busy);
      await store.ingest(Array.from({ length: 10 }, () => item(a.id)));
      const other = endpoint(a.id, { eventTypes: ['x'] });
      await store.insertEndpoint(other);
      await store.ingest(Array.from({ length: 3 }, () => item(a.id, { eventType: 'x' })));
      const capped = await claim({ perEndpoint: 2 });
      const byEndpoint = (list: { endpointId: string }[], id: string) =>
        list.filter((c) => c.endpointId === id).length;
      assert.equal(byEndpoint(capped, busy.id), 2);
      assert.equal(byEndpoint(capped, other.id), 2);
      const skipped = await claim({ skipEndpoints: [busy.id] });
      assert.equal(byEndpoint(skipped, busy.id), 0);
      assert.equal(byEndpoint(skipped, other.id), 1, 'the rest of the other endpoint');
    });

    test('endpoint kind round-trips; a claim scope takes only some endpoints or leaves out some kinds', async () => {
      const a = app();
      await store.insertApp(a);
      const http = endpoint(a.id);
      const listen = endpoint(a.id, { kind: 'listen' });
      await store.insertEndpoint(http);
      await store.insertEndpoint(listen);
      assert.equal((await store.getEndpoint(a.id, http.id))!.kind, 'http');
      assert.equal((await store.getEndpoint(a.id, listen.id))!.kind, 'listen');
      await store.updateEndpoint({ ...listen, description: 'd' });
      assert.equal((await store.getEndpoint(a.id, listen.id))!.kind, 'listen', 'update keeps the kind');
      // Five messages in the same millisecond: a scoped claim still takes them in id (= creation) order.
      const items = Array.from({ length: 5 }, () => item(a.id));
      await store.ingest(items);
      now += 1;
      const dispatcherScope = { excludeKinds: ['listen' as const] };
      const forHttp = await claim(dispatcherScope);
      assert.deepEqual(
        forHttp.map((d) => d.endpointId),
        Array(5).fill(http.id),
      );
      assert.equal(
        await store.nextDueAt(dispatcherScope),
        now + 30_000,
        'the due listen deliveries are out of scope',
      );
      assert.equal(await store.nextDueAt(), now - 1, 'unscoped, they are due');
      // A listen stream answers each batch before it claims the next (its in-flight limit is 1 here).
      const order: string[] = [];
      for (let i = 0; i < 5; i++) {
        const [d] = await claim({ onlyEndpoints: [listen.id], limit: 1, perEndpoint: 1 });
        assert.ok(d);
        assert.equal(d.endpointId, listen.id);
        order.push(d.msgId);
        assert.equal(
          (await claim({ onlyEndpoints: [listen.id], perEndpoint: 1 })).length,
          0,
          'nothing more while one is in flight',
        );
        if (i < 4) {
          await store.completeDeliveries(
            [
              {
                deliveryId: d.id,
                leaseUntil: d.leaseUntil,
                attempt: attemptFor(d, true),
                next: { kind: 'success' },
              },
            ],
            now,
          );
        }
      }
      assert.deepEqual(
        order,
        items.map((i) => i.message.id),
      );
      assert.equal((await claim({ onlyEndpoints: [listen.id] })).length, 0);
      assert.equal(await store.nextDueAt({ onlyEndpoints: [listen.id] }), now + 30_000);
    });

    test('queueStats: pending, due, sending, oldest due delivery and failing endpoints', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id);
      await store.insertEndpoint(e);
      let stats = await store.queueStats(now, [60_000]);
      assert.deepEqual(stats, {
        pending: 0,
        due: 0,
        sending: 0,
        oldestDueAt: null,
        failingEndpoints: [{ thresholdMs: 60_000, count: 0 }],
      });
      const first = now;
      await store.ingest([item(a.id), item(a.id)]);
      now += 1000;
      await store.ingest([{ ...item(a.id), dueAt: now + 60_000 }]);
      stats = await store.queueStats(now, [60_000]);
      assert.equal(stats.pending, 3);
      assert.equal(stats.due, 2);
      assert.equal(stats.sending, 0);
      assert.equal(stats.oldestDueAt, first);
      const [d] = await claim({ limit: 1 });
      const outcome = { deliveryId: d!.id, leaseUntil: d!.leaseUntil, attempt: attemptFor(d!, false) };
      await store.completeDeliveries([{ ...outcome, next: { kind: 'retry', at: now + 5000 } }], now);
      const [d2] = await claim({ limit: 1 });
      assert.ok(d2);
      now += 61_000;
      stats = await store.queueStats(now, [60_000, 3_600_000]);
      assert.equal(stats.pending, 2, 'the retry and the scheduled one');
      assert.equal(stats.sending, 1);
      assert.deepEqual(
        stats.failingEndpoints.map((f) => f.count),
        [1, 0],
      );
    });

    test('outcomes: attempts logged, retry rescheduled, success and failure tracked per endpoint', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id);
      await store.insertEndpoint(e);
      await store.ingest([item(a.id), item(a.id)]);
      const [d1, d2] = await claim();
      await store.completeDeliveries(
        [
          {
            deliveryId: d1!.id,
            leaseUntil: d1!.leaseUntil,
            attempt: attemptFor(d1!, false),
            next: { kind: 'retry', at: now + 5_000 },
          },
          {
            deliveryId: d2!.id,
            leaseUntil: d2!.leaseUntil,
            attempt: attemptFor(d2!, true),
            next: { kind: 'success' },
          },
        ],
        now,
      );
      assert.equal(await store.nextDueAt(), now + 5_000);
      const failing = await store.getEndpoint(a.id, e.id);
      assert.equal(failing?.failingSince, null, 'the success in the same batch came after the failure');
      now += 5_000;
      const [retry] = await claim();
      assert.equal(retry?.attempts, 1);
      const r = await store.completeDeliveries([{ ...failed(retry!), disableIfFailingSince: now }], now);
      assert.deepEqual(r.disabledEndpoints, [e.id], 'failing since <= threshold: disabled');
      const ep = await store.getEndpoint(a.id, e.id);
      assert.equal(ep?.disabled, true);
      const stats = await store.endpointStats(e.id, T0, now + 1);
      assert.deepEqual(stats, { success: 1, pending: 0, sending: 0, fail: 1, canceled: 0 });
      const attempts = await store.listAttempts(
        { appId: a.id, endpointId: e.id },
        { limit: 10, after: null, before: null, order: 'desc' },
      );
      assert.equal(attempts.items.length, 3);
      const failedOnly = await store.listAttempts(
        { appId: a.id, status: 2, statusCodeClass: 500 },
        { limit: 10, after: null, before: null, order: 'desc' },
      );
      assert.equal(failedOnly.items.length, 2);
    });

    test('endpoint series: attempts per time bucket with success count and p50/p95 latency', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id);
      const other = endpoint(a.id);
      await store.insertEndpoint(e);
      await store.insertEndpoint(other);
      // Bucket 0 (T0 .. T0+60s): 10 attempts, durations 10..100 ms, 7 succeed.
      // Bucket 2 (T0+120s ..): 1 failed attempt of 500 ms. Bucket 1 stays empty.
      const plan = [
        ...Array.from({ length: 10 }, (_, i) => ({ at: T0 + i * 1000, ms: (10 - i) * 10, ok: i < 7 })),
        { at: T0 + 125_000, ms: 500, ok: false },
      ];
      await store.ingest(plan.map(() => item(a.id)));
      const claimed = await claim();
      const mine = claimed.filter((d) => d.endpointId === e.id);
      assert.equal(mine.length, plan.length);
      const completedAt = now;
      const outcomes = mine.map((d, i) => {
        // Each attempt's id is made when it starts, as the dispatcher makes it (`Attempt.id`).
        now = plan[i]!.at;
        return {
          deliveryId: d.id,
          leaseUntil: d.leaseUntil,
          attempt: { ...attemptFor(d, plan[i]!.ok), durationMs: plan[i]!.ms },
          next: { kind: 'success' as const },
        };
      });
      now = completedAt;
      await store.completeDeliveries(outcomes, now);
      const series = await store.endpointSeries(e.id, T0, T0 + 180_000, 60_000);
      assert.deepEqual(series, [
        { start: T0, attempts: 10, successes: 7, p50Ms: 50, p95Ms: 100 },
        { start: T0 + 120_000, attempts: 1, successes: 0, p50Ms: 500, p95Ms: 500 },
      ]);
      // The window is half-open and other endpoints' attempts never count.
      assert.deepEqual(
        (await store.endpointSeries(e.id, T0 + 1000, T0 + 125_000, 60_000)).map((b) => b.attempts),
        [9],
      );
      assert.deepEqual(await store.endpointSeries(other.id, T0, T0 + 180_000, 60_000), []);
    });

    test('the attempt log is read by start time, whether an attempt id was made at its start or at its end', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id);
      await store.insertEndpoint(e);
      await store.ingest([item(a.id), item(a.id)]);
      const [first, second] = await claim();
      const completedAt = now;
      // The first started at T0 + 10 s, its id made then (`Attempt.id`). The second, a failure,
      // started at T0 + 50 s and has the id of its end 15 s later, as attempts recorded before
      // ids were made at the start have: it still belongs to the minute it started in.
      now = T0 + 10_000;
      const early = attemptFor(first!, true);
      now = T0 + 65_000;
      const late = { ...attemptFor(second!, false), createdAt: T0 + 50_000 };
      now = completedAt;
      await store.completeDeliveries(
        [
          { deliveryId: first!.id, leaseUntil: first!.leaseUntil, attempt: early, next: { kind: 'success' } },
          { deliveryId: second!.id, leaseUntil: second!.leaseUntil, attempt: late, next: { kind: 'fail' } },
        ],
        now,
      );
      const minute = (since: number) => ({ since, until: since + 60_000 });
      const first60 = minute(T0);
      const next60 = minute(T0 + 60_000);
      assert.deepEqual(
        (await store.endpointSeries(e.id, first60.since, first60.until, 60_000)).map((b) => b.attempts),
        [2],
      );
      assert.deepEqual(await store.endpointSeries(e.id, next60.since, next60.until, 60_000), []);
      assert.deepEqual(
        (await store.activitySeries(a.id, first60.since, first60.until, 60_000)).map((b) => b.attempts),
        [2],
      );
      assert.deepEqual(await store.activitySeries(a.id, next60.since, next60.until, 60_000), []);
      assert.deepEqual(
        (await store.recentFailures(a.id, T0 + 40_000, 10)).map((f) => f.id),
        [late.id],
      );
      assert.deepEqual(await store.recentFailures(a.id, T0 + 51_000, 10), []);
      const counts = await store.appAttemptStats(a.id, first60.since, first60.until);
      assert.deepEqual(Object.values(counts), [{ success: 1, failure: 1, canceled: 0 }]);
      const page: PageQuery = { limit: 10, after: null, before: null, order: 'asc' };
      const listed = async (f: { after?: number; before?: number }) =>
        (await store.listAttempts({ appId: a.id, ...f }, page)).items.map((x) => x.id);
      assert.deepEqual(await listed({ after: T0 + 20_000 }), [late.id]);
      assert.deepEqual(await listed({ before: T0 + 20_000 }), [early.id]);
      assert.deepEqual(await listed({ after: T0 + 5_000, before: T0 + 60_000 }), [early.id, late.id]);
      // Far ends: past the last second a KSUID can hold (early 2150); wrapped around, 2155 would
      // read as 2019.
      for (const far of ['2155-06-01T00:00:00Z', '9999-12-31T00:00:00Z'].map(Date.parse)) {
        assert.deepEqual(await listed({ before: far }), [early.id, late.id]);
        assert.deepEqual(await listed({ after: far }), []);
      }
      const farFuture = Date.parse('9999-12-31T00:00:00Z');
      assert.deepEqual(await listed({ after: 0 }), [early.id, late.id]);
      assert.deepEqual(
        (await store.endpointSeries(e.id, T0, farFuture, farFuture - T0)).map((b) => b.attempts),
        [2],
      );
      assert.deepEqual(
        (await store.liveAttempts({ appId: a.id }, T0 + 20_000, 10)).map((x) => x.id),
        [late.id],
      );
      // Retention takes what started before its limit: the late one's id sorts after T0 + 60 s,
      // so it goes in a later pass, never one that started after the limit.
      assert.equal((await store.expunge(T0 + 30_000, now, 10)).attempts, 1);
      assert.deepEqual(await listed({}), [late.id]);
      assert.equal((await store.expunge(T0 + 70_000, now, 10)).attempts, 1);
      assert.deepEqual(await listed({}), []);
    });

    test('only the current lease holder moves a delivery on; outcomes of deleted deliveries are skipped', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id);
      await store.insertEndpoint(e);
      await store.ingest([item(a.id), item(a.id)]);
      const [stale] = await claim({ leaseMs: 1000 });
      now += 1000;
      const [current] = await claim({ leaseMs: 1000 });
      assert.equal(current?.id, stale!.id, 'the lease ran out and the delivery was claimed again');
      // The first worker finally reports a failure: logged, but the delivery stays with the new holder.
      await store.completeDeliveries([failed(stale!)], now);
      assert.equal((await store.endpointStats(e.id, T0, now + 1)).fail, 0);
      await store.completeDeliveries(
        [
          {
            deliveryId: current!.id,
            leaseUntil: current!.leaseUntil,
            attempt: attemptFor(current!, true),
            next: { kind: 'success' },
          },
        ],
        now,
      );
      const stats = await store.endpointStats(e.id, T0, now + 1);
      assert.equal(stats.success, 1);
      const page: PageQuery = { limit: 10, after: null, before: null, order: 'desc' };
      assert.equal((await store.listAttempts({ appId: a.id, msgId: stale!.msgId }, page)).items.length, 2);
      // An endpoint deleted while its delivery was in flight must not fail the batch it is in.
      const doomed = endpoint(a.id, { eventTypes: ['doomed'] });
      await store.insertEndpoint(doomed);
      await store.ingest([item(a.id, { eventType: 'doomed' })]);
      now += 1000;
      const [inFlight] = (await claim()).filter((c) => c.endpointId === doomed.id);
      await store.deleteEndpoint(a.id, doomed.id);
      await assert.doesNotReject(
        store.completeDeliveries(
          [
            {
              deliveryId: inFlight!.id,
              leaseUntil: inFlight!.leaseUntil,
              attempt: attemptFor(inFlight!, true),
              next: { kind: 'success' },
            },
          ],
          now,
        ),
      );
    });

    test('recover requeues failures and adds what a disabled endpoint missed', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id, { eventTypes: ['invoice.paid'] });
      await store.insertEndpoint(e);
      await store.ingest([item(a.id)]);
      const [d] = await claim();
      await store.completeDeliveries([failed(d!)], now);
      await store.updateEndpoint({ ...e, disabled: true });
      now += 1000;
      await store.ingest([item(a.id), item(a.id, { eventType: 'not.subscribed' })]);
      await store.updateEndpoint({ ...e, disabled: false });
      now += 1000;
      let count = 0;
      let cursor: RecoverCursor | null = null;
      do {
        const batch = await store.recoverBatch({
          appId: a.id,
          endpointId: e.id,
          since: T0,
          until: now,
          missedSince: T0,
          now,
          cursor,
          limit: 100,
          matches: (type, channels) => endpointMatches({ ...e, disabled: false }, type, channels),
          newDeliveryId: () => ids('delivery'),
        });
        count += batch.queued;
        cursor = batch.next;
      } while (cursor !== null);
      assert.equal(count, 2, 'one failed delivery and one missed message (the unsubscribed type is skipped)');
      assert.equal((await claim()).length, 2);
    });

    test('recoverBatch: the same as recover, a batch at a time; messages before missedSince are left', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id, { eventTypes: ['invoice.paid'] });
      await store.insertEndpoint(e);
      // Before the window of missed messages (the endpoint did not exist yet).
      await store.updateEndpoint({ ...e, disabled: true });
      await store.ingest([item(a.id)]);
      now += 1000;
      const missedSince = now;
      await store.updateEndpoint({ ...e, disabled: false });
      await store.ingest([item(a.id), item(a.id)]);
      for (const d of await claim()) {
        await store.completeDeliveries([failed(d)], now);
      }
      await store.updateEndpoint({ ...e, disabled: true });
      now += 1000;
      await store.ingest([item(a.id), item(a.id), item(a.id, { eventType: 'not.subscribed' })]);
      await store.updateEndpoint({ ...e, disabled: false });
      now += 1000;
      let cursor: RecoverCursor | null = null;
      let queued = 0;
      let batches = 0;
      do {
        const r = await store.recoverBatch({
          appId: a.id,
          endpointId: e.id,
          since: T0,
          until: now,
          missedSince,
          now,
          cursor,
          limit: 1,
          matches: (type, channels) => endpointMatches({ ...e, disabled: false }, type, channels),
          newDeliveryId: () => ids('delivery'),
        });
        queued += r.queued;
        cursor = r.next;
        batches++;
        assert.ok(batches < 20, 'it ends');
      } while (cursor !== null);
      assert.equal(queued, 4, 'two failed deliveries, two missed messages');
      assert.ok(batches >= 4, `one row at a time (${batches} batches)`);
      assert.equal((await claim()).length, 4);
    });

    test('messages: by id or eventId, filtered lists newest first', async () => {
      const a = app();
      await store.insertApp(a);
      await store.ingest([item(a.id, { eventId: 'first', tags: ['t1'] })]);
      now += 1000;
      await store.ingest([item(a.id, { eventType: 'other', channels: ['eu'] })]);
      assert.equal((await store.getMessage(a.id, 'first'))?.eventId, 'first');
      const page: PageQuery = { limit: 10, after: null, before: null, order: 'desc' };
      const list = await store.listMessages(a.id, {}, page);
      assert.deepEqual(
        list.items.map((m) => m.eventType),
        ['other', 'invoice.paid'],
      );
      assert.equal((await store.listMessages(a.id, { channel: 'eu' }, page)).items.length, 1);
      assert.equal((await store.listMessages(a.id, { tag: 't1' }, page)).items.length, 1);
      assert.equal((await store.listMessages(a.id, { eventTypes: ['other'] }, page)).items.length, 1);
      assert.equal((await store.listMessages(a.id, { before: T0 + 1 }, page)).items.length, 1);
    });

    test('flagged event types; message and attempt lists leave out excluded event types', async () => {
      const type = (name: string, featureFlags: string[] | null, archived = false) => ({
        name,
        description: '',
        archived,
        deprecated: false,
        schemas: null,
        groupName: null,
        featureFlags,
        createdAt: now,
        updatedAt: now,
      });
      await store.insertEventType(type('plain', null));
      await store.insertEventType(type('empty.flags', []));
      await store.insertEventType(type('beta', ['b']));
      await store.insertEventType(type('old.beta', ['b', 'c'], true));
      assert.deepEqual(
        (await store.flaggedEventTypes()).map((t) => [t.name, t.featureFlags]),
        [
          ['beta', ['b']],
          ['old.beta', ['b', 'c']],
        ],
      );
      const a = app();
      await store.insertApp(a);
      await store.insertEndpoint(endpoint(a.id));
      await store.ingest([item(a.id, { eventType: 'beta' }), item(a.id, { eventType: 'plain' })]);
      const page: PageQuery = { limit: 10, after: null, before: null, order: 'desc' };
      const types = (ms: { eventType: string }[]) => ms.map((m) => m.eventType);
      assert.deepEqual(types((await store.listMessages(a.id, { excludeEventTypes: ['beta'] }, page)).items), [
        'plain',
      ]);
      assert.deepEqual(
        types(
          (await store.listMessages(a.id, { eventTypes: ['beta'], excludeEventTypes: ['beta'] }, page)).items,
        ),
        [],
      );
      const claimed = await claim();
      await store.completeDeliveries(
        claimed.map((d) => ({
          deliveryId: d.id,
          leaseUntil: d.leaseUntil,
          attempt: attemptFor(d, true),
          next: { kind: 'success' as const },
        })),
        now,
      );
      const attempts = await store.listAttempts({ appId: a.id, excludeEventTypes: ['beta'] }, page);
      assert.deepEqual(
        attempts.items.map((x) => x.msgId),
        claimed.filter((d) => d.eventType === 'plain').map((d) => d.msgId),
      );
      assert.equal((await store.listAttempts({ appId: a.id, excludeEventTypes: [] }, page)).items.length, 2);
    });

    test('endpoint secrets and custom headers are encrypted at rest', async () => {
      const a = app();
      await store.insertApp(a);
      const credential = 'Bearer custom-header-credential-0123456789';
      const e = endpoint(a.id, { headers: { authorization: credential } });
      await store.insertEndpoint(e);
      const read = await store.getEndpoint(a.id, e.id);
      assert.equal(read?.secrets[0]?.key, e.secrets[0]!.key);
      assert.deepEqual(read?.headers, { authorization: credential });
      await store.ingest([item(a.id)]);
      const [claimed] = await claim();
      assert.deepEqual(claimed?.endpoint.headers, { authorization: credential }, 'a claim carries them');
      const dump = await rawDump();
      assert.equal(
        dump.includes(e.secrets[0]!.key),
        false,
        'the plain secret is nowhere in the database files',
      );
      assert.equal(dump.includes('custom-header-credential'), false, 'nor the header value');
    });

    test('settings: set, and set-if-absent keeps the first value', async () => {
      assert.equal(await store.getSetting('k'), null);
      assert.equal(await store.setSettingIfAbsent('k', 'first'), 'first');
      assert.equal(await store.setSettingIfAbsent('k', 'second'), 'first');
      await store.setSetting('k', 'third');
      assert.equal(await store.getSetting('k'), 'third');
    });

    test('app tokens: stored by hash, revoked one by one, expired all at once; gone with their app', async () => {
      const a = app();
      const b = app();
      await store.insertApp(a);
      await store.insertApp(b);
      const token = (appId: string, hash: string) => ({
        id: ids('appToken'),
        appId,
        tokenHash: hash,
        readOnly: hash.endsWith('r'),
        featureFlags: hash.endsWith('r') ? ['beta'] : null,
        scope: 'portal' as const,
        name: null,
        endpointId: null,
        expiresAt: now + 60_000,
        revokedAt: null,
        createdAt: now,
      });
      const t1 = token(a.id, 'aa01');
      const t2 = token(a.id, 'aa02r');
      const t3 = token(b.id, 'bb01');
      for (const t of [t1, t2, t3]) await store.insertAppToken(t);
      assert.deepEqual(await store.getAppTokenByHash('aa02r'), t2);
      assert.equal(await store.getAppTokenByHash('nope'), null);
      await assert.rejects(store.insertAppToken({ ...token(a.id, 'aa01') }), /unique|duplicate/i);

      await store.revokeAppToken(t1.id, now + 5);
      await store.revokeAppToken(t1.id, now + 9);
      assert.equal(
        (await store.getAppTokenByHash('aa01'))?.revokedAt,
        now + 5,
        'the first revocation counts',
      );

      // Expiring every live token of app a: the revoked one is left alone, app b is untouched.
      assert.equal(await store.expireAppTokens(a.id, now + 10), 1);
      assert.equal((await store.getAppTokenByHash('aa02r'))?.expiresAt, now + 10);
      assert.equal(await store.expireAppTokens(a.id, now + 20), 0, 'never pushes an expiry later');
      assert.equal((await store.getAppTokenByHash('bb01'))?.expiresAt, now + 60_000);

      await store.deleteApp(b.id);
      assert.equal(await store.getAppTokenByHash('bb01'), null);
    });

    test('polling endpoints: never routed to; consumer positions; commits only from the offset read; poller tokens', async () => {
      const a = app();
      await store.insertApp(a);
      const http = endpoint(a.id);
      const sink = endpoint(a.id, { kind: 'poller' });
      for (const e of [http, sink]) await store.insertEndpoint(e);
      assert.deepEqual(await store.ingest([item(a.id)]), [{ ok: true, deliveries: 1 }]);
      assert.deepEqual(
        (await claim()).map((c) => c.endpointId),
        [http.id],
      );

      const c = { endpointId: sink.id, consumerId: 'c1', afterId: '', offset: 0, updatedAt: now };
      assert.equal(await store.getPollerConsumer(sink.id, 'c1'), null);
      assert.deepEqual(await store.ensurePollerConsumer(c), c);
      assert.deepEqual(
        await store.ensurePollerConsumer({ ...c, afterId: 'msg_x' }),
        c,
        'the first one stays',
      );
      await store.putPollerConsumer({ ...c, afterId: 'msg_a', offset: 1000, updatedAt: now + 1 });
      assert.deepEqual(await store.getPollerConsumer(sink.id, 'c1'), {
        ...c,
        afterId: 'msg_a',
        offset: 1000,
        updatedAt: now + 1,
      });
      // Several commits from the same offset: one moves the consumer.
      const moved = await Promise.all(
        [1, 2, 3, 4].map((n) =>
          store.commitPollerConsumer(sink.id, 'c1', 1000, { afterId: `msg_${n}`, offset: 1000 + n }, now + 2),
        ),
      );
      assert.equal(moved.filter(Boolean).length, 1);
      const after = await store.getPollerConsumer(sink.id, 'c1');
      assert.equal(after!.afterId, `msg_${after!.offset - 1000}`);
      assert.equal(
        await store.commitPollerConsumer(sink.id, 'c1', 1000, { afterId: 'msg_z', offset: 1009 }, now),
        false,
      );
      // Consumers keep apart.
      await store.putPollerConsumer({ ...c, consumerId: 'c2', afterId: 'msg_b' });
      assert.equal((await store.getPollerConsumer(sink.id, 'c1'))!.afterId, after!.afterId);

      assert.equal(await store.hasLivePollerToken(sink.id, now), false);
      const token = {
        id: ids('appToken'),
        appId: a.id,
        tokenHash: 'cc01',
        readOnly: false,
        featureFlags: null,
        scope: 'poller' as const,
        name: null,
        endpointId: sink.id,
        expiresAt: now + 60_000,
        revokedAt: null,
        createdAt: now,
      };
      await store.insertAppToken(token);
      assert.deepEqual(await store.getAppTokenByHash('cc01'), token);
      assert.equal(await store.hasLivePollerToken(sink.id, now), true);
      assert.equal(await store.hasLivePollerToken(http.id, now), false);
      assert.equal(await store.expirePollerTokens(sink.id, now + 5), 1);
      assert.equal(await store.hasLivePollerToken(sink.id, now + 5), false);

      await store.deleteEndpoint(a.id, sink.id);
      assert.equal(await store.getPollerConsumer(sink.id, 'c1'), null);
    });

    test('endpoint lists filter by url and metadata pairs; claims carry the metadata', async () => {
      const a = app();
      await store.insertApp(a);
      const mark = { 'hookline.restHook': 'true' };
      const hook1 = endpoint(a.id, { url: 'http://127.0.0.1:1/z', metadata: { ...mark, team: 'x' } });
      const hook2 = endpoint(a.id, { url: 'http://127.0.0.1:1/y', metadata: mark });
      const plain = endpoint(a.id, { url: 'http://127.0.0.1:1/z', metadata: { 'hookline.restHook': 'no' } });
      for (const e of [hook1, hook2, plain]) await store.insertEndpoint(e);
      const page: PageQuery = { limit: 10, after: null, before: null, order: 'asc' };
      const ids_ = async (filter: Parameters<Store['listEndpoints']>[2]) =>
        (await store.listEndpoints(a.id, page, filter)).items.map((e) => e.id).sort();
      assert.deepEqual(await ids_({ metadata: mark }), [hook1.id, hook2.id].sort());
      assert.deepEqual(await ids_({ metadata: mark, url: 'http://127.0.0.1:1/z' }), [hook1.id]);
      assert.deepEqual(await ids_({ url: 'http://127.0.0.1:1/z' }), [hook1.id, plain.id].sort());
      assert.deepEqual(await ids_({ metadata: { ...mark, team: 'y' } }), []);
      assert.deepEqual(await ids_(undefined), [hook1.id, hook2.id, plain.id].sort());

      await store.ingest([item(a.id)]);
      const claimed = await claim();
      assert.equal(claimed.length, 3);
      const byEndpoint = new Map(claimed.map((d) => [d.endpointId, d.endpoint.metadata]));
      assert.deepEqual(byEndpoint.get(hook1.id), { ...mark, team: 'x' });
      assert.deepEqual(byEndpoint.get(plain.id), { 'hookline.restHook': 'no' });
    });

    test('idempotent responses expire', async () => {
      await store.putIdempotentResponse('k', { status: 202, body: '{"id":"x"}' }, now + 1000, now);
      assert.deepEqual(await store.getIdempotentResponse('k', now), { status: 202, body: '{"id":"x"}' });
      assert.equal(await store.getIdempotentResponse('k', now + 1000), null);
    });

    test("deleting an endpoint removes its queue and attempt log, not the other endpoints' ones", async () => {
      const a = app();
      await store.insertApp(a);
      const [gone, kept] = [endpoint(a.id), endpoint(a.id)];
      for (const e of [gone, kept]) await store.insertEndpoint(e);
      await store.ingest([item(a.id), item(a.id)]);
      const claimed = await claim();
      assert.equal(claimed.length, 4);
      // Each attempted once and due again in a minute: both endpoints have a log and a queue.
      await failForAMinute(claimed);
      const page: PageQuery = { limit: 10, after: null, before: null, order: 'asc' };
      const logOf = async (endpointId: string) =>
        (await store.listAttempts({ appId: a.id, endpointId }, page)).items.length;
      assert.equal(await logOf(gone.id), 2);
      await store.deleteEndpoint(a.id, gone.id);
      assert.equal(await logOf(gone.id), 0, "the endpoint's attempt log goes with it");
      assert.equal(await logOf(kept.id), 2);
      for (const m of new Set(claimed.map((d) => d.msgId))) {
        const log = await store.listAttempts({ appId: a.id, msgId: m }, page);
        assert.deepEqual(
          log.items.map((x) => x.endpointId),
          [kept.id],
          "a message's log keeps the other endpoint's attempts only",
        );
      }
      now += 60_000;
      assert.deepEqual(
        [...new Set((await claim()).map((d) => d.endpointId))],
        [kept.id],
        "only the other endpoint's retries are left in the queue",
      );
    });

    test('deleting an app removes its endpoints, messages, queue and attempt log', async () => {
      const a = app();
      const other = app();
      for (const x of [a, other]) await store.insertApp(x);
      for (const x of [a, other]) await store.insertEndpoint(endpoint(x.id));
      await store.ingest([item(a.id), item(other.id)]);
      const claimed = await claim();
      await failForAMinute(claimed);
      const mine = claimed.find((d) => d.appId === a.id)!;
      const theirs = claimed.find((d) => d.appId === other.id)!;
      const page: PageQuery = { limit: 10, after: null, before: null, order: 'asc' };
      const [myAttempt] = (await store.listAttempts({ appId: a.id, msgId: mine.msgId }, page)).items;
      assert.ok(myAttempt);
      await store.deleteApp(a.id);
      assert.equal(await store.getApp(a.id), null);
      assert.equal(await store.getMessage(a.id, mine.msgId), null);
      assert.equal(await store.getAttempt(a.id, myAttempt.id), null);
      assert.equal((await store.listAttempts({ appId: a.id, msgId: mine.msgId }, page)).items.length, 0);
      assert.equal(
        (await store.listAttempts({ appId: other.id, msgId: theirs.msgId }, page)).items.length,
        1,
      );
      assert.equal((await store.getMessage(other.id, theirs.msgId))?.payload, '{"a":1}');
      now += 60_000;
      assert.deepEqual(
        (await claim()).map((d) => d.appId),
        [other.id],
        "only the other application's retry is left in the queue",
      );
    });

    test('deleting an app removes its endpoints, messages and queue', async () => {
      const a = app();
      await store.insertApp(a);
      await store.insertEndpoint(endpoint(a.id));
      await store.ingest([item(a.id)]);
      await store.deleteApp(a.id);
      assert.equal(await store.getApp(a.id), null);
      assert.equal(await store.nextDueAt(), null);
      const [late] = await store.ingest([item(a.id)]);
      assert.deepEqual(
        late,
        { ok: false, reason: 'app_not_found' },
        'a message racing the deletion is refused',
      );
    });

    // ---- inbound sources and events -----------------------------------------------------
    const source = (name: string, over: Partial<Source> = {}): Source => ({
      id: ids('source'),
      name,
      appId: ids('app'),
      description: '',
      verification: {
        scheme: 'github',
        secrets: ['gh-verify-secret'],
        tolerance: null,
        url: null,
        hmac: null,
      },
      forwardSecrets: [{ key: 'whsec_Zm9yd2FyZC1zZWNyZXQtbG9uZy1lbm91Z2g=', expiresAt: null }],
      dedupe: { header: null, jsonPath: null, windowMs: 60_000 },
      eventType: null,
      maxBodyBytes: null,
      handshake: { provider: true, discordResponse: { type: 5 }, challenge: null },
      allowedIps: null,
      destinations: [
        {
          id: ids('endpoint'),
          url: 'http://127.0.0.1:1/a',
          headers: { 'x-k': 'v' },
          eventTypes: null,
          disabled: false,
          kind: 'http',
          template: null,
        },
        {
          id: ids('endpoint'),
          url: 'http://127.0.0.1:1/b',
          headers: {},
          eventTypes: ['push'],
          disabled: false,
          kind: 'slack',
          template: { text: '{{ payload.ref }}' },
        },
      ],
      ingest: null,
      createdAt: now,
      updatedAt: now,
      ...over,
    });
    const received = (
      src: Source,
      over: Partial<InboundEvent> = {},
      dedupeSince: number | null = null,
    ): InboundItem => {
      const event: InboundEvent = {
        id: ids('message'),
        sourceId: src.id,
        status: 'accepted',
        eventType: 'issues',
        dedupeKey: null,
        duplicateOf: null,
        verifyCode: null,
        verifyDetail: null,
        method: 'POST',
        contentType: 'application/octet-stream',
        headers: [
          ['X-GitHub-Event', 'issues'],
          ['Accept', 'a'],
          ['accept', 'b'],
        ],
        body: Buffer.from([0, 1, 2, 0xff, 0xfe]),
        receivedAt: now,
        bodyExpungedAt: null,
        messageIds: null,
        ...over,
      };
      return {
        event,
        appId: src.appId,
        dedupeSince,
        route: (eps, eventType) => eps.filter((e) => endpointMatches(e, eventType, null)).map((e) => e.id),
        newDeliveryId: () => ids('delivery'),
        keepUnaccepted: 100,
      };
    };

    test('sources: insert with destinations, find by id or name, unique names, update syncs destinations, delete', async () => {
      const s = source('github');
      await store.insertSource(s);
      const got = await store.getSource('github');
      assert.deepEqual(got, s);
      assert.deepEqual(await store.getSource(s.id), s);
      assert.equal(await store.getSource('nope'), null);
      // What /in reads for each request: the same source, without its destinations.
      const { destinations: _, ...settings } = s;
      assert.deepEqual(await store.getSourceSettings('github'), settings);
      assert.deepEqual(await store.getSourceSettings(s.id), settings);
      assert.equal(await store.getSourceSettings('nope'), null);
      // Destinations are endpoints of the source's application, signed with the forwarding secret.
      const eps = await store.listEndpoints(s.appId, { limit: 10, after: null, before: null, order: 'asc' });
      const apps = await store.listApps({ limit: 100, after: null, before: null, order: 'asc' });
      assert.equal(
        apps.items.some((x) => x.id === s.appId),
        false,
        "the application a source owns is not listed with the API users' applications",
      );
      assert.equal(eps.items.length, 2);
      assert.deepEqual(eps.items[0]!.secrets, s.forwardSecrets);
      await assert.rejects(store.insertSource(source('github')), 'names are unique');
      await store.insertSource(source('other'));
      const page = await store.listSources({ limit: 1, after: null, before: null, order: 'asc' });
      assert.deepEqual(
        page.items.map((x) => x.name),
        ['github'],
      );
      assert.equal(page.more, true);

      now += 1000;
      // A destination can change kind (http → discord, with a template) and keep its history.
      const kept = {
        ...s.destinations[0]!,
        url: 'http://127.0.0.1:1/a2',
        kind: 'discord' as const,
        template: { content: '{{ eventType }}' },
      };
      const added = {
        id: ids('endpoint'),
        url: 'http://127.0.0.1:1/c',
        headers: {},
        eventTypes: null,
        disabled: true,
        kind: 'http' as const,
        template: null,
      };
      const next: Source = {
        ...s,
        name: 'github2',
        forwardSecrets: [{ key: 'whsk_3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', expiresAt: null }],
        destinations: [kept, added],
        updatedAt: now,
      };
      await store.updateSource(next);
      const updated = await store.getSource(s.id);
      assert.deepEqual(updated, next);
      assert.equal(await store.getSource('github'), null);
      const ep = await store.getEndpoint(s.appId, kept.id);
      assert.deepEqual(ep?.secrets, next.forwardSecrets, 'destinations sign with the new forwarding secret');

      await store.receiveInbound([received(next)]);
      await store.deleteSource(s.id);
      assert.equal(await store.getSource(s.id), null);
      assert.equal(await store.getApp(s.appId), null);
      assert.equal(await store.nextDueAt(), null, 'its queued deliveries are gone too');
      assert.equal(
        (await rawDump()).includes('gh-verify-secret'),
        false,
        'verification secrets are encrypted at rest',
      );
    });

    test('idempotency keys: one reservation at a time, replaced by the response, freed on release or expiry', async () => {
      assert.equal(await store.reserveIdempotencyKey('k', now, now + 1000), 'reserved');
      assert.equal(await store.reserveIdempotencyKey('k', now, now + 1000), 'pending', 'held by the first');
      assert.equal(await store.getIdempotentResponse('k', now), null, 'a reservation is not a response');
      assert.equal(
        await store.reserveIdempotencyKey('k', now + 1000, now + 2000),
        'reserved',
        'expired: taken over',
      );
      await store.releaseIdempotencyKey('k');
      assert.equal(
        await store.reserveIdempotencyKey('k', now, now + 1000),
        'reserved',
        'released: free again',
      );
      await store.putIdempotentResponse('k', { status: 202, body: '{"id":"m"}' }, now + 5000, now);
      await store.releaseIdempotencyKey('k');
      assert.deepEqual(
        await store.reserveIdempotencyKey('k', now, now + 1000),
        { status: 202, body: '{"id":"m"}' },
        'a response is replayed, and release never drops it',
      );
    });

    test('a failing multi-statement write rolls back alone; writes issued while it runs are kept', async () => {
      const taken = source('taken');
      await store.insertSource(taken);
      const other = app();
      await store.insertApp(other);
      const clash = endpoint(other.id);
      await store.insertEndpoint(clash);
      // The second destination reuses an endpoint id another application owns: the transaction
      // fails after its first statements ran.
      const broken = source('broken', {
        destinations: [
          { ...taken.destinations[0]!, id: ids('endpoint') },
          { ...taken.destinations[1]!, id: clash.id },
        ],
      });
      // Other writes keep coming while the transaction is between its statements.
      const failing = store.insertSource(broken);
      const concurrent: App[] = [];
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 30; i++) {
        await null;
        const a = app(`w${i}`);
        concurrent.push(a);
        writes.push(store.insertApp(a));
      }
      writes.push(store.updateApp({ ...other, name: 'renamed meanwhile' }));
      await assert.rejects(failing, 'the source with a clashing destination is refused');
      await Promise.all(writes);
      assert.equal(await store.getSource('broken'), null, 'nothing of the failed source remains');
      assert.equal(await store.getApp(broken.appId), null, 'not even its application');
      for (const a of concurrent)
        assert.equal((await store.getApp(a.id))?.uid, a.uid, 'the other writes were kept');
      assert.equal((await store.getApp(other.id))?.name, 'renamed meanwhile');
      assert.deepEqual(await store.getSource('taken'), taken);
    });

    test('receiveInbound: accepted events queue routed deliveries; rejected are kept; duplicates within the window', async () => {
      const s = source('gh');
      await store.insertSource(s);
      const first = received(s, { dedupeKey: 'd-1' }, now - 60_000);
      const dupInBatch = received(s, { dedupeKey: 'd-1' }, now - 60_000);
      const forged = received(s, {
        status: 'rejected',
        verifyCode: 'no_matching_signature',
        verifyDetail: 'no',
      });
      const push = received(s, { eventType: 'push', dedupeKey: 'd-2' }, now - 60_000);
      const told: (readonly string[] | undefined)[] = [];
      const unsubscribe = store.onDeliveriesQueued((ids) => told.push(ids));
      const results = await store.receiveInbound([first, dupInBatch, forged, push]);
      unsubscribe();
      assert.deepEqual(results, [
        { status: 'accepted', deliveries: 1 },
        { status: 'duplicate', duplicateOf: first.event.id },
        { status: 'rejected' },
        { status: 'accepted', deliveries: 2 },
      ]);
      // The dispatcher is told which endpoints got work (as for published messages), not "any".
      assert.equal(told.length, 1);
      assert.deepEqual([...told[0]!].sort(), s.destinations.map((d) => d.id).sort());
      // Outside the window the same key is new again.
      now += 120_000;
      const later = await store.receiveInbound([received(s, { dedupeKey: 'd-1' }, now - 60_000)]);
      assert.deepEqual(later, [{ status: 'accepted', deliveries: 1 }]);

      const claimed = await claim();
      assert.equal(claimed.length, 4);
      const c = claimed.find((d) => d.msgId === first.event.id)!;
      assert.deepEqual(c.inbound, {
        body: first.event.body,
        contentType: 'application/octet-stream',
        headers: first.event.headers,
      });
      assert.equal(c.endpointId, s.destinations[0]!.id);

      const stored = await store.getInboundEvent(s.id, dupInBatch.event.id);
      assert.deepEqual(stored, { ...dupInBatch.event, status: 'duplicate', duplicateOf: first.event.id });
      assert.deepEqual(await store.getInboundEvent(s.id, forged.event.id), forged.event);
      assert.equal(
        await store.getMessage(s.appId, forged.event.id),
        null,
        'a rejected request is no message',
      );
      assert.equal((await store.getMessage(s.appId, first.event.id))?.eventType, 'issues');

      const all = { limit: 10, after: null, before: null, order: 'desc' } as const;
      assert.equal((await store.listInboundEvents(s.id, {}, all)).items.length, 5);
      const rejected = await store.listInboundEvents(s.id, { status: 'rejected' }, all);
      assert.deepEqual(
        rejected.items.map((e) => e.id),
        [forged.event.id],
      );
      const recent = await store.listInboundEvents(s.id, { after: now - 1 }, all);
      assert.equal(recent.items.length, 1);

      // Junk is bounded: only the newest `keepUnaccepted` rejected/duplicate requests stay.
      const junk = Array.from({ length: 5 }, () => ({
        ...received(s, { status: 'rejected', verifyCode: 'missing_header', verifyDetail: 'x' }),
        keepUnaccepted: 3,
      }));
      await store.receiveInbound(junk);
      const left = await store.listInboundEvents(s.id, {}, { ...all, limit: 100 });
      assert.deepEqual(
        left.items.filter((e) => e.status !== 'accepted').map((e) => e.id),
        junk
          .slice(2)
          .reverse()
          .map((j) => j.event.id),
        'the three newest junk requests stay',
      );
      assert.equal(
        left.items.filter((e) => e.status === 'accepted').length,
        3,
        'accepted events are never pruned',
      );

      await store.deleteSource(s.id);
      assert.deepEqual(await store.receiveInbound([received(s)]), [{ status: 'source_not_found' }]);
    });

    test('sources: handshake settings (the challenge secret encrypted at rest) and allowedIps round trip', async () => {
      const s = source('zoom', {
        handshake: {
          provider: false,
          discordResponse: { type: 4, data: { content: 'hi' } },
          challenge: {
            preset: 'zoom',
            method: 'POST',
            query: null,
            jsonPath: 'payload.plainToken',
            when: { jsonPath: 'event', equals: 'endpoint.url_validation' },
            respond: 'json',
            field: 'plainToken',
            hmacField: 'encryptedToken',
            secret: 'zoom-challenge-secret-at-rest',
            verify: true,
          },
        },
        allowedIps: ['10.0.0.0/8', '2001:db8::/32'],
      });
      await store.insertSource(s);
      assert.deepEqual(await store.getSource(s.id), s);
      now += 1000;
      const next: Source = {
        ...s,
        handshake: { provider: true, discordResponse: { type: 5 }, challenge: null },
        allowedIps: null,
        updatedAt: now,
      };
      await store.updateSource(next);
      assert.deepEqual(await store.getSource(s.id), next);
      await store.updateSource(s);
      assert.equal(
        (await rawDump()).includes('zoom-challenge-secret-at-rest'),
        false,
        'the challenge secret is encrypted at rest',
      );
    });

    test('receiveInbound: handshakes are kept, never queued, and pruned with the junk', async () => {
      const s = source('slack');
      await store.insertSource(s);
      const hs = Array.from({ length: 4 }, () => ({
        ...received(s, { status: 'handshake', eventType: 'url_verification' }),
        keepUnaccepted: 3,
      }));
      assert.deepEqual(await store.receiveInbound(hs.slice(0, 1)), [{ status: 'handshake' }]);
      assert.deepEqual(await store.getInboundEvent(s.id, hs[0]!.event.id), hs[0]!.event);
      assert.equal(await store.getMessage(s.appId, hs[0]!.event.id), null, 'a handshake is no message');
      assert.equal(await store.nextDueAt(), null, 'nothing is queued');
      await store.receiveInbound(hs.slice(1));
      const page = { limit: 10, after: null, before: null, order: 'desc' } as const;
      const left = await store.listInboundEvents(s.id, { status: 'handshake' }, page);
      assert.deepEqual(
        left.items.map((e) => e.id),
        hs
          .slice(1)
          .reverse()
          .map((h) => h.event.id),
      );
    });

    test('receiveInbound: a split request is stored once, each new part is a message, repeated parts are dropped', async () => {
      const s = source('salesforce', {
        destinations: [
          {
            id: ids('endpoint'),
            url: 'http://127.0.0.1:1/all',
            headers: {},
            eventTypes: null,
            disabled: false,
            kind: 'http',
            template: null,
          },
          {
            id: ids('endpoint'),
            url: 'http://127.0.0.1:1/contacts',
            headers: {},
            eventTypes: ['salesforce.Contact'],
            disabled: false,
            kind: 'http',
            template: null,
          },
        ],
      });
      await store.insertSource(s);
      const part = (n: string, type = 'Account') => ({
        msgId: ids('message'),
        eventType: `salesforce.${type}`,
        dedupeKey: n,
        payload: JSON.stringify({ notificationId: n, sObject: { type } }),
      });
      const split = (parts: ReturnType<typeof part>[]): InboundItem => ({
        ...received(s, { eventType: 'salesforce.Account', contentType: 'text/xml' }, now - 60_000),
        parts,
      });
      const first = split([part('n1'), part('n2', 'Contact'), part('n3'), part('n3')]);
      const [r1] = await store.receiveInbound([first]);
      assert.deepEqual(r1, {
        status: 'accepted',
        deliveries: 4,
        messages: first.parts!.slice(0, 3).map((p) => p.msgId),
      });
      const stored = await store.getInboundEvent(s.id, first.event.id);
      assert.deepEqual(stored, {
        ...first.event,
        messageIds: first
          .parts!.slice(0, 3)
          .map((p) => p.msgId)
          .sort(),
      });
      assert.equal(await store.getMessage(s.appId, first.event.id), null, 'the request itself is no message');
      const contact = await store.getMessage(s.appId, first.parts![1]!.msgId);
      assert.equal(contact?.eventType, 'salesforce.Contact');
      assert.deepEqual(JSON.parse(contact!.payload), { notificationId: 'n2', sObject: { type: 'Contact' } });
      const claimed = await claim();
      assert.equal(claimed.length, 4);
      for (const c of claimed) {
        assert.equal(c.inbound, undefined, 'a part is forwarded as its JSON payload, not the raw request');
        assert.equal(c.payload, first.parts!.find((p) => p.msgId === c.msgId)!.payload);
      }

      // A resend: every part repeats, so the request is a duplicate of the first.
      const resend = split([part('n1'), part('n2', 'Contact'), part('n3')]);
      // A later message with one old and one new notification.
      const mixed = split([part('n2', 'Contact'), part('n4', 'Contact')]);
      const [r2, r3] = await store.receiveInbound([resend, mixed]);
      assert.deepEqual(r2, { status: 'duplicate', duplicateOf: first.event.id });
      assert.deepEqual(r3, { status: 'accepted', deliveries: 2, messages: [mixed.parts![1]!.msgId] });
      assert.equal(await store.getMessage(s.appId, resend.parts![0]!.msgId), null);
      assert.equal((await store.getInboundEvent(s.id, resend.event.id))?.messageIds, null);

      // Attempts of all of a request's messages at once.
      await store.completeDeliveries(
        claimed.map((c) => ({
          deliveryId: c.id,
          leaseUntil: c.leaseUntil,
          attempt: attemptFor(c, true),
          next: { kind: 'success' as const },
        })),
        now,
      );
      const page = { limit: 50, after: null, before: null, order: 'desc' } as const;
      const attempts = await store.listAttempts({ appId: s.appId, msgIds: stored!.messageIds! }, page);
      assert.equal(attempts.items.length, 4);
      assert.equal((await store.listAttempts({ appId: s.appId, msgIds: [] }, page)).items.length, 0);

      // Outside the dedupe window a notification is new again.
      now += 120_000;
      const [r4] = await store.receiveInbound([split([part('n1')])]);
      assert.equal(r4?.status, 'accepted');
      await store.deleteSource(s.id);
      assert.equal(await store.getSource(s.id), null);
    });

    const done = (d: {
      id: string;
      msgId: string;
      endpointId: string;
      appId: string;
      leaseUntil: number;
    }) => ({
      deliveryId: d.id,
      leaseUntil: d.leaseUntil,
      attempt: attemptFor(d, true),
      next: { kind: 'success' as const },
    });

    test('in-flight limit: live leases of every worker count; expired leases do not', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id);
      await store.insertEndpoint(e);
      await store.ingest(Array.from({ length: 6 }, () => item(a.id)));
      const first = await claim({ perEndpoint: 2, leaseMs: 10_000 });
      assert.equal(first.length, 2);
      assert.equal(
        (await claim({ perEndpoint: 2 })).length,
        0,
        'a second worker finds the endpoint at its limit',
      );
      await store.completeDeliveries([done(first[0]!)], now);
      const second = await claim({ perEndpoint: 2 });
      assert.equal(second.length, 1, 'one slot came free');
      now += 10_000;
      // first[1]'s lease expired: it no longer counts, and is due again with the rest.
      const third = await claim({ perEndpoint: 2, leaseMs: 10_000 });
      assert.equal(third.length, 1, 'second[0] is still live (30 s lease): one slot left');
    });

    test('an endpoint made FIFO with deliveries queued sends them one at a time, oldest first', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id);
      await store.insertEndpoint(e);
      const msgs = await ingestOneByOne(a.id, 3);
      await store.updateEndpoint({ ...e, fifo: true });
      for (const msgId of msgs) {
        const got = await claim();
        assert.deepEqual(
          got.map((d) => d.msgId),
          [msgId],
          'the head only, in creation order',
        );
        await store.completeDeliveries([done(got[0]!)], now);
      }
      assert.equal((await claim()).length, 0);
    });

    test('a delivery that failed before its endpoint was made FIFO, queued again, goes first', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id);
      await store.insertEndpoint(e);
      const first = item(a.id);
      await store.ingest([first]);
      const [d] = await claim();
      assert.equal(d?.msgId, first.message.id);
      await store.completeDeliveries([failed(d!)], now);
      await store.updateEndpoint({ ...e, fifo: true });
      now += 1;
      const second = item(a.id);
      await store.ingest([second]);
      now += 1;
      const batch = await store.recoverBatch({
        appId: a.id,
        endpointId: e.id,
        since: T0,
        until: now,
        missedSince: now,
        now,
        cursor: null,
        limit: 100,
        matches: (type, channels) => endpointMatches(e, type, channels),
        newDeliveryId: () => ids('delivery'),
      });
      assert.equal(batch.queued, 1, 'the failed one is queued again');
      const again = await claim();
      assert.deepEqual(
        again.map((x) => x.msgId),
        [first.message.id],
        'the recovered delivery is the oldest open one: it goes first, alone',
      );
      await store.completeDeliveries([done(again[0]!)], now);
      assert.deepEqual(
        (await claim()).map((x) => x.msgId),
        [second.message.id],
      );
    });

    test('FIFO endpoint: one delivery at a time, in order; a retry holds back the line', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id, { fifo: true });
      await store.insertEndpoint(e);
      assert.equal((await store.getEndpoint(a.id, e.id))?.fifo, true);
      const msgs = await ingestOneByOne(a.id, 3);
      const [head] = await claim();
      assert.equal(head?.msgId, msgs[0]);
      assert.equal((await claim()).length, 0, 'nothing else while the head is in flight');
      await store.completeDeliveries(
        [
          {
            deliveryId: head!.id,
            leaseUntil: head!.leaseUntil,
            attempt: attemptFor(head!, false),
            next: { kind: 'retry', at: now + 5_000 },
          },
        ],
        now,
      );
      assert.equal((await claim()).length, 0, 'the head waits for its retry; the rest wait behind it');
      now += 5_000;
      const again = await claim();
      assert.deepEqual(
        again.map((d) => d.msgId),
        [msgs[0]],
      );
      await store.completeDeliveries([done(again[0]!)], now);
      const next = await claim();
      assert.deepEqual(
        next.map((d) => d.msgId),
        [msgs[1]],
      );
    });

    test('a blocked endpoint’s backlog does not hide other endpoints’ work', async () => {
      const a = app();
      await store.insertApp(a);
      const fifo = endpoint(a.id, { fifo: true, eventTypes: ['fifo'] });
      const capped = endpoint(a.id, { eventTypes: ['capped'] });
      const other = endpoint(a.id, { eventTypes: ['other'] });
      for (const e of [fifo, capped, other]) await store.insertEndpoint(e);
      await store.ingest(Array.from({ length: 30 }, () => item(a.id, { eventType: 'fifo' })));
      await store.ingest(Array.from({ length: 30 }, () => item(a.id, { eventType: 'capped' })));
      now += 1;
      await store.ingest([item(a.id, { eventType: 'other' })]);
      const first = await claim({ limit: 3, perEndpoint: 2 });
      assert.deepEqual(
        first.map((d) => d.endpointId).sort(),
        [fifo.id, capped.id, other.id].sort(),
        'each endpoint takes a turn: the FIFO head, one of the capped endpoint, the other one',
      );
      // Both big backlogs are due (older than anything new) but the FIFO line waits for its head.
      const next = await claim({ limit: 5, perEndpoint: 2 });
      assert.deepEqual(
        next.map((d) => d.endpointId),
        [capped.id],
        'the capped endpoint up to its limit',
      );
      assert.equal((await claim({ limit: 5, perEndpoint: 2 })).length, 0, 'everything left is blocked');
    });

    test('live first, then turns: a backlog delays neither another endpoint’s new message nor the other backlogs', async () => {
      const a = app();
      await store.insertApp(a);
      const eps = [0, 1, 2].map((i) => endpoint(a.id, { eventTypes: [`turn${i}`] }));
      for (const e of eps) await store.insertEndpoint(e);
      // Far more due than a claim's window, and older than what counts as live.
      await store.ingest(Array.from({ length: 200 }, () => item(a.id, { eventType: 'turn0' })));
      now += LIVE_MS + 1_000;
      await store.ingest([item(a.id, { eventType: 'turn1' })]);
      now += 1;
      const first = await claim({ limit: 4, perEndpoint: 100 });
      assert.equal(first.length, 4);
      assert.equal(first[0]!.endpointId, eps[1]!.id, 'the new message goes out first despite 200 older ones');
      const own = first.filter((d) => d.endpointId === eps[0]!.id).map((d) => d.id);
      assert.equal(own.length, 3, 'the rest of the claim serves the backlog');
      // All 200 became due at the same time: due order is id order.
      assert.deepEqual(own, [...own].sort(), 'an endpoint’s own deliveries still go in due order');
      // Two backlogs, claimed one delivery at a time: the endpoints alternate.
      await store.ingest(Array.from({ length: 50 }, () => item(a.id, { eventType: 'turn2' })));
      now += LIVE_MS + 1;
      const turns: string[] = [];
      for (let i = 0; i < 4; i++)
        turns.push(...(await claim({ limit: 1, perEndpoint: 100 })).map((d) => d.endpointId));
      assert.equal(turns.length, 4);
      assert.notEqual(
        turns[0],
        turns[1],
        `consecutive claims serve different endpoints: ${turns.join(', ')}`,
      );
      assert.equal(turns[0], turns[2]);
      assert.equal(turns[1], turns[3]);
      assert.deepEqual(new Set(turns), new Set([eps[0]!.id, eps[2]!.id]));
    });

    test('a claim over many backlogs serves a few endpoints several each, and the next claim the next few', async () => {
      const a = app();
      await store.insertApp(a);
      const eps = Array.from({ length: 20 }, (_, i) => endpoint(a.id, { eventTypes: [`many${i}`] }));
      for (const e of eps) await store.insertEndpoint(e);
      for (let i = 0; i < eps.length; i++)
        await store.ingest(Array.from({ length: 10 }, () => item(a.id, { eventType: `many${i}` })));
      now += LIVE_MS + 1_000;
      const served: string[][] = [];
      for (let i = 0; i < 5; i++) {
        const got = await claim({ limit: 32, perEndpoint: 100 });
        assert.equal(got.length, 32, `claim ${i + 1} is full`);
        const per = new Map<string, number>();
        for (const d of got) per.set(d.endpointId, (per.get(d.endpointId) ?? 0) + 1);
        // Eight each (a quarter of the batch at most): its leases and outcomes land on a few
        // pages of each per-endpoint index, not on 32 endpoints' pages.
        assert.deepEqual([...per.values()], [8, 8, 8, 8], `claim ${i + 1}: ${[...per.values()].join(', ')}`);
        served.push([...per.keys()]);
      }
      // The turn moves on from the last endpoint served: five claims, twenty different endpoints.
      assert.equal(new Set(served.flat()).size, 20, 'five claims reach all twenty');
      // Each has two left, taken by the next claim.
      const left = await claim({ limit: 100, perEndpoint: 100 });
      const leftPer = new Map<string, number>();
      for (const d of left) leftPer.set(d.endpointId, (leftPer.get(d.endpointId) ?? 0) + 1);
      assert.equal(leftPer.size, 20);
      assert.deepEqual(new Set(leftPer.values()), new Set([2]));
      // Many endpoints with one due each: the shares they cannot use go to the others, one each.
      const few = Array.from({ length: 40 }, (_, i) => endpoint(a.id, { eventTypes: [`few${i}`] }));
      for (const e of few) await store.insertEndpoint(e);
      for (let i = 0; i < few.length; i++) await store.ingest([item(a.id, { eventType: `few${i}` })]);
      now += LIVE_MS + 1_000;
      const spread = await claim({ limit: 32, perEndpoint: 100 });
      assert.equal(spread.length, 32, 'a full claim');
      assert.equal(new Set(spread.map((d) => d.endpointId)).size, 32, 'one each from 32 endpoints');
    });

    test('rate limit: throttleRate (endpoint, else app) spaces claims 1000/rate ms apart', async () => {
      const a = { ...app(), throttleRate: 1 };
      await store.insertApp(a);
      const fast = endpoint(a.id, { throttleRate: 4 });
      const inherited = endpoint(a.id, { eventTypes: ['slow'] });
      await store.insertEndpoint(fast);
      await store.insertEndpoint(inherited);
      await store.ingest(Array.from({ length: 5 }, () => item(a.id)));
      await store.ingest(Array.from({ length: 5 }, () => item(a.id, { eventType: 'slow' })));
      const count = (list: { endpointId: string }[], id: string) =>
        list.filter((d) => d.endpointId === id).length;
      const c1 = await claim();
      assert.equal(count(c1, fast.id), 1);
      assert.equal(count(c1, inherited.id), 1);
      assert.equal((await claim()).length, 0, 'both at their rate');
      const t1 = now;
      now = t1 + slotInterval(4) - 1;
      assert.equal((await claim()).length, 0);
      // Slots count from when the claim held its locks, a few ms after `now`: leave room.
      now = t1 + slotInterval(4) + 500;
      const c2 = await claim();
      assert.equal(count(c2, fast.id), 1, 'about 1000 / 4 ms later');
      assert.equal(count(c2, inherited.id), 0, 'the app rate (1/s) applies to the endpoint without its own');
      now = t1 + slotInterval(1) + 500;
      assert.equal(count(await claim(), inherited.id), 1);
    });

    test('a claim says what it leaves: until when it waits (a FIFO head’s retry, a rate slot), the endpoints it filled', async () => {
      const a = app();
      await store.insertApp(a);
      const fifo = endpoint(a.id, { fifo: true, eventTypes: ['f'] });
      const rated = endpoint(a.id, { throttleRate: 2, eventTypes: ['r'] });
      const plain = endpoint(a.id, { eventTypes: ['p'] });
      for (const e of [fifo, rated, plain]) await store.insertEndpoint(e);
      await store.ingest(['f', 'f', 'r', 'r'].map((eventType) => item(a.id, { eventType })));
      const claimAll = (over: Partial<Parameters<Store['claimDue']>[0]> = {}) =>
        store.claimDue({ now, limit: 100, leaseMs: 30_000, perEndpoint: 100, skipEndpoints: [], ...over });
      const t1 = now;
      const first = await claimAll();
      assert.deepEqual(first.deliveries.map((d) => d.endpointId).sort(), [fifo.id, rated.id].sort());
      // The FIFO line waits for its head in flight, whose outcome brings the next; the rated
      // endpoint for its next slot (slots count from when the claim held its locks, a few ms
      // after its `now`).
      const firstSlot = first.blockedUntil!;
      assert.ok(
        firstSlot >= t1 + slotInterval(2) && firstSlot < t1 + slotInterval(2) + 1_000,
        `the rated endpoint's next slot (${firstSlot - t1} ms after the claim)`,
      );
      assert.deepEqual(first.filled, [], 'neither a FIFO nor a rate-limited endpoint is filled');
      // The FIFO head fails and waits a minute for its retry; the rated one succeeds.
      const [head, r] = [fifo.id, rated.id].map((id) => first.deliveries.find((d) => d.endpointId === id)!);
      await store.completeDeliveries(
        [
          {
            deliveryId: head!.id,
            leaseUntil: head!.leaseUntil,
            attempt: attemptFor(head!, false),
            next: { kind: 'retry', at: t1 + 60_000 },
          },
          {
            deliveryId: r!.id,
            leaseUntil: r!.leaseUntil,
            attempt: attemptFor(r!, true),
            next: { kind: 'success' },
          },
        ],
        now,
      );
      now = t1 + 10;
      const second = await claimAll();
      assert.equal(
        second.deliveries.length,
        0,
        'the rest of the FIFO line waits for its head, the rated one for its slot',
      );
      // Slots count from when the claim held its locks, a few ms after its `now`.
      const slot = second.blockedUntil!;
      assert.ok(
        slot >= t1 + slotInterval(2) && slot < t1 + slotInterval(2) + 1_000,
        `the rate slot, the earlier of the two (${slot - t1} ms after the first claim)`,
      );
      assert.equal(
        (await claimAll({ skipEndpoints: [rated.id] })).blockedUntil,
        t1 + 60_000,
        'the head’s retry',
      );
      assert.equal(
        (await claimAll({ skipEndpoints: [rated.id, fifo.id] })).blockedUntil,
        null,
        'nothing left but what it was asked to skip',
      );
      now = slot + 1;
      const third = await claimAll();
      assert.deepEqual(
        third.deliveries.map((d) => d.endpointId),
        [rated.id],
      );
      // An endpoint at its in-flight limit waits for leases to end, which no time says.
      await store.ingest(['p', 'p'].map((eventType) => item(a.id, { eventType })));
      now += 1;
      const busy = await claimAll({ perEndpoint: 1, skipEndpoints: [fifo.id, rated.id] });
      assert.deepEqual(
        busy.deliveries.map((d) => d.endpointId),
        [plain.id],
      );
      assert.deepEqual(
        busy.filled,
        [plain.id],
        'it got all its room; its worker comes back when a slot frees',
      );
      assert.equal(busy.blockedUntil, null, 'and nothing else waits');
      const full = await claimAll({ perEndpoint: 1, skipEndpoints: [fifo.id, rated.id] });
      assert.equal(full.deliveries.length, 0);
      assert.ok(full.blockedUntil !== null && full.blockedUntil <= now, 'look again shortly');
      // The next due time after a point: what is due already does not count.
      assert.ok((await store.nextDueAt())! <= now);
      assert.equal(
        await store.nextDueAt({}, now),
        Math.min(third.deliveries[0]!.leaseUntil, busy.deliveries[0]!.leaseUntil),
        'the first lease to run out',
      );
    });

    test('a claim that stops short of an endpoint with more due says to look again now', async () => {
      const a = app();
      await store.insertApp(a);
      // Made in this order, their ids sort in it: the turns go a, b, c, d.
      const [ea, eb, ec, ed] = ['a', 'b', 'c', 'd'].map((t) => endpoint(a.id, { eventTypes: [t] }));
      for (const e of [ea!, eb!, ec!, ed!]) await store.insertEndpoint(e);
      const due = { a: 1, b: 1, c: 2, d: 20 };
      await store.ingest(
        Object.entries(due).flatMap(([eventType, n]) =>
          Array.from({ length: n }, () => item(a.id, { eventType })),
        ),
      );
      // Past the live window: the endpoints take turns. Limit 10: a and b have 1, c its 2, d
      // some of its 20 (4 on PostgreSQL, whose second round is one each of what the first left;
      // 6 on SQLite, whose second round gives the first's leftovers to d): d, which never ran
      // out, has more due.
      now += LIVE_MS + 1;
      const first = await store.claimDue({
        now,
        limit: 10,
        leaseMs: 30_000,
        perEndpoint: 64,
        skipEndpoints: [],
      });
      const of = (c: typeof first, e: Endpoint) => c.deliveries.filter((d) => d.endpointId === e.id).length;
      const [fa, fb, fc, fd] = [ea!, eb!, ec!, ed!].map((e) => of(first, e));
      assert.deepEqual([fa, fb, fc], [1, 1, 2], 'a, b and c: all they had');
      assert.equal(fd, adapter.name === 'postgres' ? 4 : 6, 'd: some of its 20');
      assert.ok(
        first.blockedUntil !== null && first.blockedUntil <= now,
        `more of d is due now (blockedUntil ${first.blockedUntil === null ? 'null' : first.blockedUntil - now})`,
      );
      assert.deepEqual(first.filled, [], 'no endpoint got all its room');
      // With a limit, too: the first 5 of d's remaining, and the claim says more is due.
      const second = await store.claimDue({
        now,
        limit: 5,
        leaseMs: 30_000,
        perEndpoint: 64,
        skipEndpoints: [],
      });
      assert.equal(of(second, ed!), 5);
      assert.ok(second.blockedUntil !== null && second.blockedUntil <= now);
      const rest = await store.claimDue({
        now,
        limit: 100,
        leaseMs: 30_000,
        perEndpoint: 64,
        skipEndpoints: [],
      });
      assert.equal(of(rest, ed!), 20 - fd! - 5);
      assert.equal(rest.blockedUntil, null, 'it ran out: nothing is left');
    });

    test('chat destinations: kind and template round-trip and reach the claim; default rate; a rate-limited retry is not counted', async () => {
      const a = { ...app(), throttleRate: 100 };
      await store.insertApp(a);
      const template = { text: '{{ eventType }}', blocks: [{ type: 'section' }], n: 1 };
      const slack = endpoint(a.id, {
        kind: 'slack',
        template,
        uid: 'chat',
        description: 'Team chat',
        eventTypes: ['invoice.paid'],
      });
      const teams = endpoint(a.id, { kind: 'teams', throttleRate: 4, eventTypes: ['teams'] });
      await store.insertEndpoint(slack);
      await store.insertEndpoint(teams);
      assert.deepEqual((await store.getEndpoint(a.id, slack.id))?.template, template);
      assert.equal((await store.getEndpoint(a.id, teams.id))?.template, null);
      await store.updateEndpoint({ ...slack, kind: 'discord', template: null });
      assert.equal((await store.getEndpoint(a.id, slack.id))?.kind, 'discord');
      assert.equal((await store.getEndpoint(a.id, slack.id))?.template, null);
      await store.updateEndpoint(slack);

      await store.ingest([item(a.id), item(a.id)]);
      await store.ingest([item(a.id, { eventType: 'teams' }), item(a.id, { eventType: 'teams' })]);
      const first = await claim();
      const d = first.find((x) => x.endpointId === slack.id)!;
      assert.equal(first.filter((x) => x.endpointId === slack.id).length, 1, 'a chat kind defaults to 1/s');
      assert.deepEqual(d.endpoint, {
        url: slack.url,
        disabled: false,
        headers: {},
        secrets: slack.secrets,
        svixHeaders: false,
        metadata: {},
        kind: 'slack',
        template,
        uid: 'chat',
        description: 'Team chat',
        timeoutMs: null,
        fifo: false,
      });
      assert.equal(d.msgCreatedAt, now);
      now += slotInterval(4) + 500;
      assert.equal(
        (await claim()).filter((x) => x.endpointId === slack.id).length,
        0,
        'not the app rate either',
      );
      now = T0 + slotInterval(1) + 500;
      const second = await claim();
      assert.equal(second.filter((x) => x.endpointId === slack.id).length, 1, 'one second later');
      assert.ok(
        first.some((x) => x.endpointId === teams.id),
        "the endpoint's own rate wins",
      );

      await store.completeDeliveries(
        [
          {
            deliveryId: d.id,
            leaseUntil: d.leaseUntil,
            attempt: { ...attemptFor(d, false), requestBody: '{"text":"invoice.paid"}' },
            next: { kind: 'retry', at: now + 7_000, rateLimited: true },
          },
        ],
        now,
      );
      now += 7_000;
      const again = (await claim()).find((x) => x.id === d.id);
      assert.equal(again?.attempts, 0, 'the 429 attempt is logged but does not use up the schedule');
      const log = await store.listAttempts(
        { appId: a.id, endpointId: slack.id },
        { limit: 10, after: null, before: null, order: 'desc' },
      );
      assert.equal(log.items.length, 1);
      assert.equal(log.items[0]!.requestBody, '{"text":"invoice.paid"}', 'the rendered body is kept');
      assert.equal((await store.getAttempt(a.id, log.items[0]!.id))?.requestBody, '{"text":"invoice.paid"}');
    });

    test('a skipped or out-of-scope backlog at the front of the queue does not hide work behind it', async () => {
      const a = app();
      await store.insertApp(a);
      const big = endpoint(a.id, { eventTypes: ['big'] });
      const listen = endpoint(a.id, { eventTypes: ['listen'], kind: 'listen' });
      const other = endpoint(a.id, { eventTypes: ['other'] });
      for (const e of [big, listen, other]) await store.insertEndpoint(e);
      // More due rows than a claim of 10 looks at first, all older than the other endpoint's.
      await store.ingest(Array.from({ length: 60 }, () => item(a.id, { eventType: 'big' })));
      await store.ingest(Array.from({ length: 60 }, () => item(a.id, { eventType: 'listen' })));
      now += 1;
      const behind = [item(a.id, { eventType: 'other' }), item(a.id, { eventType: 'other' })];
      await store.ingest(behind);
      const got = await claim({ limit: 10, skipEndpoints: [big.id], excludeKinds: ['listen'] });
      assert.deepEqual(
        got.map((d) => d.msgId),
        behind.map((b) => b.message.id),
        'the other endpoint’s deliveries, oldest first',
      );
      // At its in-flight limit, a backlog is passed over the same way.
      const capped = await claim({ limit: 10, perEndpoint: 10, excludeKinds: ['listen'] });
      assert.deepEqual(
        capped.map((d) => d.endpointId),
        Array(10).fill(big.id),
      );
      await store.ingest([item(a.id, { eventType: 'other' })]);
      const next = await claim({ limit: 10, perEndpoint: 10, excludeKinds: ['listen'] });
      assert.deepEqual(
        next.map((d) => d.endpointId),
        [other.id],
      );
    });

    test('many FIFO lines waiting for their head’s retry do not hide other work behind them', async () => {
      const a = app();
      await store.insertApp(a);
      const lines: Endpoint[] = [];
      for (let i = 0; i < 150; i++) {
        const e = endpoint(a.id, { fifo: true, eventTypes: ['line'] });
        lines.push(e);
        await store.insertEndpoint(e);
      }
      const free = endpoint(a.id, { eventTypes: ['free'] });
      await store.insertEndpoint(free);
      await store.ingest([item(a.id, { eventType: 'line' })]);
      const heads = await claim({ limit: 200 });
      assert.equal(heads.length, 150);
      await store.completeDeliveries(
        heads.map((d) => ({
          deliveryId: d.id,
          leaseUntil: d.leaseUntil,
          attempt: attemptFor(d, false),
          next: { kind: 'retry' as const, at: now + 60_000 },
        })),
        now,
      );
      // Every line has a due delivery behind its waiting head, older than the free endpoint's.
      await store.ingest([item(a.id, { eventType: 'line' })]);
      now += 1;
      const work = item(a.id, { eventType: 'free' });
      await store.ingest([work]);
      const got = await claim({ limit: 10 });
      assert.deepEqual(
        got.map((d) => d.msgId),
        [work.message.id],
      );
    });

    test('a batch over 100 endpoints writes each one’s health and disables exactly those failing past their threshold', async () => {
      const a = app();
      await store.insertApp(a);
      // Five kinds of endpoint, by i % 5:
      // 0: failing, then a success: recovers.          1: healthy, a failure with no threshold.
      // 2: failing for 100 s, a failure, threshold 60 s: disabled.
      // 3: failing for 10 s, a failure, threshold 60 s: keeps failing, stays enabled.
      // 4: healthy, a failure whose threshold is now (a REST Hook's 410): disabled.
      const eps: Endpoint[] = [];
      for (let i = 0; i < 100; i++) {
        const failingSince = [now - 5_000, null, now - 100_000, now - 10_000, null][i % 5]!;
        const e = endpoint(a.id, { failingSince });
        eps.push(e);
        await store.insertEndpoint(e);
      }
      await store.ingest([item(a.id)]);
      const claimed = await claim({ limit: 200, perEndpoint: 10 });
      assert.equal(claimed.length, 100);
      const kindOf = new Map(eps.map((e, i) => [e.id, i % 5]));
      now += 1_000;
      const { disabledEndpoints } = await store.completeDeliveries(
        claimed.map((d) => {
          const k = kindOf.get(d.endpointId)!;
          return {
            deliveryId: d.id,
            leaseUntil: d.leaseUntil,
            attempt: attemptFor(d, k === 0),
            next: k === 0 ? { kind: 'success' as const } : { kind: 'retry' as const, at: now + 60_000 },
            ...(k === 2 || k === 3 ? { disableIfFailingSince: now - 60_000 } : {}),
            ...(k === 4 ? { disableIfFailingSince: now } : {}),
          };
        }),
        now,
      );
      const expected = eps.filter((_e, i) => i % 5 === 2 || i % 5 === 4).map((e) => e.id);
      assert.deepEqual([...disabledEndpoints].sort(), expected.sort());
      for (const [i, e] of eps.entries()) {
        const got = (await store.getEndpoint(a.id, e.id))!;
        const want = {
          disabled: i % 5 === 2 || i % 5 === 4,
          failingSince: [null, now, e.failingSince, e.failingSince, now][i % 5],
        };
        assert.deepEqual({ disabled: got.disabled, failingSince: got.failingSince }, want, `endpoint ${i}`);
      }
    });

    test('a lost lease in a batch: its attempt is logged, and its endpoint’s health comes from the attempts whose lease was held', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id, { failingSince: now - 50_000, eventTypes: ['invoice.paid'] });
      const f = endpoint(a.id, { eventTypes: ['f'] });
      await store.insertEndpoint(e);
      await store.insertEndpoint(f);
      await store.ingest([item(a.id), item(a.id), item(a.id, { eventType: 'f' })]);
      const first = await claim({ leaseMs: 1_000 });
      assert.equal(first.length, 3);
      const [d1, d2] = first.filter((d) => d.endpointId === e.id);
      const d3 = first.find((d) => d.endpointId === f.id)!;
      now += 1_000;
      // Another worker takes d1 over (its lease ran out); d2 and d3 are still ours.
      const [taken] = await claim({ limit: 1, leaseMs: 60_000 });
      assert.equal(taken?.id, d1!.id);
      // Our batch: d1 succeeded (too late: not ours any more), d2 and d3 failed. Counting d1's
      // success, e would have restarted failing at d2; without it, e has been failing since
      // before the threshold and is disabled.
      const { disabledEndpoints } = await store.completeDeliveries(
        [
          {
            deliveryId: d1!.id,
            leaseUntil: d1!.leaseUntil,
            attempt: attemptFor(d1!, true),
            next: { kind: 'success' },
          },
          {
            deliveryId: d2!.id,
            leaseUntil: d2!.leaseUntil,
            attempt: attemptFor(d2!, false),
            next: { kind: 'retry', at: now + 60_000 },
            disableIfFailingSince: now - 10_000,
          },
          {
            deliveryId: d3.id,
            leaseUntil: d3.leaseUntil,
            attempt: attemptFor(d3, false),
            next: { kind: 'retry', at: now + 60_000 },
          },
        ],
        now,
      );
      assert.deepEqual(disabledEndpoints, [e.id]);
      const ep = (await store.getEndpoint(a.id, e.id))!;
      assert.deepEqual(
        { disabled: ep.disabled, failingSince: ep.failingSince },
        { disabled: true, failingSince: T0 - 50_000 },
      );
      assert.equal(
        (await store.getEndpoint(a.id, f.id))?.failingSince,
        now,
        'the other endpoint in the batch',
      );
      const page: PageQuery = { limit: 10, after: null, before: null, order: 'desc' };
      assert.equal((await store.listAttempts({ appId: a.id, endpointId: e.id }, page)).items.length, 2);
      const stats = await store.endpointStats(e.id, T0, now + 1);
      assert.deepEqual(
        { sending: stats.sending, success: stats.success },
        { sending: 1, success: 0 },
        'd1 stays with the other worker',
      );
    });

    test('retention expunges old payloads (not ones still queued) and attempt logs in batches', async () => {
      const a = app();
      await store.insertApp(a);
      const e = endpoint(a.id);
      await store.insertEndpoint(e);
      const old = item(a.id, { payload: '{"old":true}' });
      const waiting = item(a.id, { payload: '{"waiting":true}' });
      await store.ingest([old]);
      const [d] = await claim();
      await store.completeDeliveries([done(d!)], now);
      await store.ingest([{ ...waiting, dueAt: now + 3_600_000 }]);
      now += 1000;
      const fresh = item(a.id, { payload: '{"fresh":true}' });
      await store.ingest([fresh]);
      const r1 = await store.expunge(now, now, 1);
      assert.deepEqual(r1, { payloads: 1, attempts: 1 });
      const r2 = await store.expunge(now, now, 1);
      assert.deepEqual(r2, { payloads: 0, attempts: 0 }, 'the queued message keeps its payload');
      assert.equal((await store.getMessage(a.id, old.message.id))?.payload, '{}', 'the message itself stays');
      assert.equal((await store.getMessage(a.id, waiting.message.id))?.payload, '{"waiting":true}');
      assert.equal((await store.getMessage(a.id, fresh.message.id))?.payload, '{"fresh":true}');
      const page: PageQuery = { limit: 10, after: null, before: null, order: 'desc' };
      assert.equal((await store.listAttempts({ appId: a.id }, page)).items.length, 0);
    });

    test('retention empties old inbound bodies and headers, not those still waiting to be forwarded', async () => {
      const s = source('gh-retention');
      await store.insertSource(s);
      const accepted = received(s);
      const rejected = received(s, { status: 'rejected', verifyCode: 'missing_header', verifyDetail: 'x' });
      await store.receiveInbound([accepted, rejected]);
      now += 1000;
      const fresh = received(s, { status: 'rejected', verifyCode: 'missing_header', verifyDetail: 'y' });
      await store.receiveInbound([fresh]);
      assert.deepEqual(await store.expunge(now, now, 10), { payloads: 1, attempts: 0 });
      const emptied = await store.getInboundEvent(s.id, rejected.event.id);
      assert.deepEqual(
        emptied,
        { ...rejected.event, body: Buffer.alloc(0), headers: [], bodyExpungedAt: now },
        'the record stays, without its bytes',
      );
      assert.deepEqual((await store.getInboundEvent(s.id, fresh.event.id))?.body, fresh.event.body);
      assert.deepEqual(
        (await store.getInboundEvent(s.id, accepted.event.id))?.body,
        accepted.event.body,
        'a queued event keeps its bytes',
      );
      const [d] = await claim();
      assert.deepEqual(d?.inbound?.body, accepted.event.body);
      await store.completeDeliveries([done(d!)], now);
      // Messages first, then inbound bodies, within one batch of one: the event's message where
      // it keeps a payload row of its own ('{}' on SQLite; none on PostgreSQL), then the bytes.
      const batches: number[] = [];
      for (let r = await store.expunge(now, now, 1); r.payloads > 0; r = await store.expunge(now, now, 1)) {
        assert.equal(r.attempts, 0);
        batches.push(r.payloads);
        assert.ok(batches.length <= 2, `batches: ${batches}`);
      }
      assert.deepEqual(batches, adapter.name === 'postgres' ? [1] : [1, 1]);
      const forwarded = await store.getInboundEvent(s.id, accepted.event.id);
      assert.equal(forwarded?.body.length, 0);
      assert.deepEqual(forwarded?.headers, []);
      assert.equal(forwarded?.bodyExpungedAt, now);
      assert.equal(forwarded?.status, 'accepted');
    });

    test('several processes: one dedupe key received by all at once is accepted exactly once', async (t) => {
      if (!store.capabilities.multiProcess || !peer) {
        t.skip('single-process store');
        return;
      }
      const s = source('gh-race');
      await store.insertSource(s);
      const workers = [store, peer(), peer(), peer()];
      // Open every pool's connection first, so the rounds race for real.
      await Promise.all(workers.map((w) => w.ping()));
      for (let round = 0; round < 10; round++) {
        const results = await Promise.all(
          workers.map((w) => w.receiveInbound([received(s, { dedupeKey: `k-${round}` }, now - 60_000)])),
        );
        const statuses = results.flat().map((r) => r.status);
        assert.equal(statuses.filter((x) => x === 'accepted').length, 1, `round ${round}: ${statuses}`);
        assert.equal(statuses.filter((x) => x === 'duplicate').length, workers.length - 1);
      }
    });

    /** One endpoint with `due` messages to it, and four stores on the database (as four processes). */
    const endpointAndWorkers = async (due: number) => {
      const a = app();
      await store.insertApp(a);
      await store.insertEndpoint(endpoint(a.id));
      await store.ingest(Array.from({ length: due }, () => item(a.id)));
      const workers = [store, peer!(), peer!(), peer!()];
      await Promise.all(workers.map((w) => w.ping()));
      return { appId: a.id, workers };
    };

    test('several processes: claims for one endpoint at once never exceed its in-flight limit together', async (t) => {
      if (!store.capabilities.multiProcess || !peer) {
        t.skip('single-process store');
        return;
      }
      const { workers } = await endpointAndWorkers(200);
      const seen = new Set<string>();
      for (let round = 0; round < 10; round++) {
        const batches = await Promise.all(
          workers.map((w) =>
            w
              .claimDue({ now, limit: 25, leaseMs: 30_000, perEndpoint: 10, skipEndpoints: [] })
              .then((c) => c.deliveries),
          ),
        );
        const all = batches.flat();
        // Whoever got the endpoint took all its room; the others found it taken or full.
        assert.equal(all.length, 10, `round ${round}: ${batches.map((b) => b.length)}`);
        for (const d of all) {
          assert.equal(seen.has(d.id), false, 'no delivery leased twice');
          seen.add(d.id);
        }
        // Half of them finish: the room they leave is all the next round may take.
        await Promise.all(
          batches.map((b, i) =>
            workers[i]!.completeDeliveries(b.slice(0, Math.ceil(b.length / 2)).map(done), now),
          ),
        );
        const refill = await Promise.all(
          workers.map((w) =>
            w
              .claimDue({ now, limit: 25, leaseMs: 30_000, perEndpoint: 10, skipEndpoints: [] })
              .then((c) => c.deliveries),
          ),
        );
        assert.equal(refill.flat().length, 5, `round ${round} refill: ${refill.map((b) => b.length)}`);
        const live = [...batches.map((b) => b.slice(Math.ceil(b.length / 2))), ...refill];
        await Promise.all(live.map((b) => store.completeDeliveries(b.map(done), now)));
        for (const d of refill.flat()) seen.add(d.id);
      }
    });

    test('several processes: handoffs and claims at once never exceed an endpoint’s in-flight limit together', async (t) => {
      if (!store.capabilities.multiProcess || !peer) {
        t.skip('single-process store');
        return;
      }
      // A backlog for the claims, and new messages for the handoffs, all due now.
      const { appId, workers } = await endpointAndWorkers(60);
      /** Ingests `n` messages through `w`, its dispatcher taking every one it is offered. */
      const handOff = async (w: Store, n: number) => {
        const taken: ClaimedDelivery[] = [];
        const handoff: IngestHandoff = {
          leaseMs: 30_000,
          perEndpoint: 10,
          take: () => true,
          taken: (ds) => taken.push(...ds),
          untake: () => {},
        };
        const results = await w.ingest(
          Array.from({ length: n }, () => item(appId)),
          handoff,
        );
        assert.ok(results.every((r) => r.ok));
        return taken;
      };
      const seen = new Set<string>();
      let handedOff = 0;
      /** Leased and not yet done: what the limit counts. */
      let live: ClaimedDelivery[] = [];
      for (let round = 0; round < 12; round++) {
        // Two claims and two ingests handing off, at once; every third round only ingests.
        const batches = await Promise.all(
          workers.map((w, i) =>
            i % 2 === 1 || round % 3 === 2
              ? handOff(w, 6)
              : w
                  .claimDue({ now, limit: 25, leaseMs: 30_000, perEndpoint: 10, skipEndpoints: [] })
                  .then((c) => c.deliveries),
          ),
        );
        const all = batches.flat();
        live.push(...all);
        assert.ok(
          live.length <= 10,
          `round ${round}: ${batches.map((b) => b.length)} leased beside ${live.length - all.length}, the limit is 10`,
        );
        assert.ok(all.length > 0, `round ${round}: someone got the endpoint`);
        for (const d of all) {
          assert.equal(seen.has(d.id), false, 'no delivery leased twice');
          seen.add(d.id);
        }
        handedOff += batches.filter((_, i) => i % 2 === 1 || round % 3 === 2).flat().length;
        // The older half finishes: the room it leaves is all the next round may take.
        const finished = live.slice(0, Math.ceil(live.length / 2));
        live = live.slice(finished.length);
        await store.completeDeliveries(finished.map(done), now);
      }
      assert.ok(handedOff > 0, 'some deliveries were handed off');
    });

    test('several processes: concurrent claims never share a delivery; NOTIFY wakes the others', async (t) => {
      if (!store.capabilities.multiProcess || !peer) {
        t.skip('single-process store');
        return;
      }
      const a = app();
      await store.insertApp(a);
      const endpointIds: string[] = [];
      for (let i = 0; i < 4; i++) {
        const e = endpoint(a.id);
        endpointIds.push(e.id);
        await store.insertEndpoint(e);
      }
      const other = peer();
      const woke = new Promise<readonly string[] | undefined>((resolve) =>
        other.onDeliveriesQueued((ids) => resolve(ids)),
      );
      // Give the listening connection a moment to LISTEN before the notification is sent.
      await new Promise((r) => setTimeout(r, 300));
      await store.ingest(Array.from({ length: 100 }, () => item(a.id)));
      const named = await Promise.race([
        woke,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('no notification within 5 s')), 5000),
        ),
      ]);
      // The notification names the endpoints with new work (a worker at their limit need not claim).
      assert.deepEqual([...(named ?? [])].sort(), [...endpointIds].sort());
      const workers = [store, other, peer(), peer()];
      const seen = new Map<string, number>();
      // A claim locks every endpoint its round robin serves: claims made at the same instant for
      // the same four endpoints mostly take turns rather than share them.
      for (let round = 0; round < 40; round++) {
        const batches = await Promise.all(
          workers.map((w) =>
            w
              .claimDue({ now, limit: 25, leaseMs: 30_000, perEndpoint: 1000, skipEndpoints: [] })
              .then((c) => c.deliveries),
          ),
        );
        for (const d of batches.flat()) seen.set(d.id, (seen.get(d.id) ?? 0) + 1);
        if (seen.size === 400) break;
      }
      assert.equal(seen.size, 400, 'every delivery claimed');
      assert.equal(
        [...seen.values()].every((n) => n === 1),
        true,
        'no delivery leased twice',
      );
    });
  });
}
