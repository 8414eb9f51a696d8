/**
 * Retention end to end, on each store: with HOOKLINE_RETENTION_DAYS set, the worker's pass
 * empties the payloads of old messages and deletes their attempt logs, in batches, while the
 * messages themselves (ids, event ids) and everything recent stay.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createManualClock } from '../src/core/clock.ts';
import { BATCH_TARGET_MS, DUTY, nextBatch, pauseAfter } from '../src/delivery/retention.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const DAY = 86_400_000;

describe('retention pacing', () => {
  test('a batch is sized to take about BATCH_TARGET_MS', () => {
    assert.equal(nextBatch(100, BATCH_TARGET_MS * 3, 500), 50, 'too slow: halved');
    assert.equal(nextBatch(100, BATCH_TARGET_MS / 4, 500), 200, 'quick: doubled');
    assert.equal(nextBatch(100, BATCH_TARGET_MS * 0.75, 500), 100, 'about right: kept');
    assert.equal(nextBatch(400, 0, 500), 500, 'never above the configured batch');
    assert.equal(nextBatch(20, 1_000, 500), 20, 'never below 20 rows');
    assert.equal(nextBatch(30, 1_000, 500), 20);
  });
  test('drops and batches take at most a fifth of the time, with a pause of a second at most', () => {
    assert.equal(DUTY, 0.2);
    assert.equal(pauseAfter(5), 20, 'a 5 ms batch is followed by 20 ms of rest');
    assert.equal(pauseAfter(100), 400, 'a 100 ms partition drop by 400 ms');
    assert.equal(pauseAfter(0), 0);
    assert.equal(pauseAfter(500), 1_000);
  });
});

for (const kind of await testStores()) {
  describe(`retention (${kind.name})`, kind.options, () => {
    const clock = createManualClock(Date.parse('2026-04-01T00:00:00Z'));
    let server: TestServer;
    let receiver: TestReceiver;
    let db: Awaited<ReturnType<TestStoreKind['open']>>;

    before(async () => {
      db = await kind.open('retention');
      receiver = await startReceiver();
      server = await startHookline({ clock, env: { HOOKLINE_RETENTION_DAYS: '1', ...db.env } });
    });
    after(async () => {
      await server.close();
      await receiver.close();
      await db.drop();
    });

    test('old payloads and attempts go; messages and recent data stay', async () => {
      assert.equal((await server.call('POST', '/api/v1/app', { name: 'R', uid: 'r' })).status, 201);
      const ep = await server.call('POST', '/api/v1/app/r/endpoint', { url: `${receiver.url}/hook` });
      assert.equal(ep.status, 201);
      const publish = async (eventId: string) => {
        const res = await server.call('POST', '/api/v1/app/r/msg', {
          eventType: 'r.test',
          eventId,
          payload: { eventId },
        });
        assert.equal(res.status, 202, JSON.stringify(res.body));
        return res.body.id as string;
      };
      const old = [];
      for (let i = 0; i < 5; i++) old.push(await publish(`old-${i}`));
      await server.hookline.dispatcher!.drain();
      clock.advance(2 * DAY);
      const fresh = await publish('fresh');
      await server.hookline.dispatcher!.drain();
      assert.equal(receiver.requests.length, 6);

      // The timer's own passes are stopped so that the counts below are this pass's alone.
      await server.hookline.retention!.stop();
      const removed = await server.hookline.retention!.runOnce();
      assert.deepEqual(removed, { partitions: 0, payloads: 5, attempts: 5 });
      assert.deepEqual(await server.hookline.retention!.runOnce(), {
        partitions: 0,
        payloads: 0,
        attempts: 0,
      });

      const msg = await server.call('GET', '/api/v1/app/r/msg/old-0');
      assert.equal(msg.status, 200, 'the message is still there, by event id too');
      assert.equal(msg.body.id, old[0]);
      assert.deepEqual(msg.body.payload, {}, 'its payload is gone');
      const attempts = await server.call('GET', `/api/v1/app/r/attempt/msg/${old[0]}`);
      assert.equal(attempts.status, 200);
      assert.equal(attempts.body.data.length, 0);
      const recent = await server.call('GET', `/api/v1/app/r/msg/${fresh}`);
      assert.deepEqual(recent.body.payload, { eventId: 'fresh' });
      const recentAttempts = await server.call('GET', `/api/v1/app/r/attempt/msg/${fresh}`);
      assert.equal(recentAttempts.body.data.length, 1);
      const dup = await server.call('POST', '/api/v1/app/r/msg', {
        eventType: 'r.test',
        eventId: 'old-1',
        payload: {},
      });
      assert.equal(dup.status, 409, 'event ids of expunged messages still deduplicate');
    });

    test('old inbound requests lose their bodies and headers; the records stay', async () => {
      await server.hookline.retention!.stop();
      const dest = await startReceiver();
      try {
        const src = await server.call('POST', '/api/v1/source', {
          name: 'kept-a-while',
          verification: { scheme: 'none' },
          destinations: [{ url: `${dest.url}/fwd` }],
        });
        assert.equal(src.status, 201, JSON.stringify(src.body));
        const res = await fetch(`${server.url}/in/kept-a-while`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-provider-token': 'tok-123' },
          body: '{"n":1}',
        });
        assert.equal(res.status, 200);
        const { id } = (await res.json()) as { id: string };
        await dest.waitFor(1);
        await server.hookline.dispatcher!.drain();
        const path = `/api/v1/source/${src.body.id}/event/${id}`;
        const before = await server.call('GET', path);
        assert.equal(before.body.body, '{"n":1}');
        assert.equal(before.body.bodyExpungedAt, null);

        clock.advance(2 * DAY);
        const removed = await server.hookline.retention!.runOnce();
        assert.ok(removed.payloads + removed.partitions >= 1, 'the request bytes went');
        const after = await server.call('GET', path);
        assert.equal(after.status, 200, 'the record stays');
        assert.equal(after.body.status, 'accepted');
        assert.equal(after.body.bodySize, 0);
        assert.equal(after.body.body, '');
        assert.deepEqual(after.body.headers, [], 'the provider headers are gone too');
        assert.equal(after.body.bodyExpungedAt, new Date(clock.now()).toISOString());
        const replay = await server.call('POST', `${path}/replay`, {});
        assert.equal(replay.status, 409, JSON.stringify(replay.body));
        assert.equal(replay.body.code, 'inbound_body_expunged', 'nothing left to forward');
      } finally {
        await dest.close();
      }
    });
  });
}
