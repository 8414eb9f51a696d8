/**
 * Retry behaviour against a receiver that fails in every way it can, driven by a manual clock:
 * the test moves time forward instead of waiting for the schedule.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createManualClock } from '../src/core/clock.ts';
import { idFloor } from '../src/core/ids.ts';
import { DEFAULT_RETRY_POLICY, nextRetryDelay, parseRetryAfter } from '../src/core/retry.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

async function setup(server: TestServer, receiverUrl: string, uid = 'acme') {
  const app = await server.call('POST', '/api/v1/app', { name: 'Acme', uid });
  assert.equal(app.status, 201);
  const ep = await server.call('POST', `/api/v1/app/${uid}/endpoint`, { url: `${receiverUrl}/hook` });
  assert.equal(ep.status, 201);
  return { appId: app.body.id as string, endpointId: ep.body.id as string };
}

async function publish(server: TestServer, uid = 'acme', payload: Record<string, unknown> = { n: 1 }) {
  const res = await server.call('POST', `/api/v1/app/${uid}/msg`, { eventType: 'invoice.paid', payload });
  assert.equal(res.status, 202);
  return res.body.id as string;
}

function retryScheduleSuite(kind: TestStoreKind): void {
  const clock = createManualClock(Date.parse('2026-01-01T00:00:00Z'));
  let server: TestServer;
  let receiver: TestReceiver;
  let db: Awaited<ReturnType<TestStoreKind['open']>>;

  before(async () => {
    db = await kind.open('retry');
    receiver = await startReceiver();
    server = await startHookline({ clock, env: { HOOKLINE_DELIVERY_TIMEOUT: '0.3', ...db.env } });
  });
  after(async () => {
    await server.close();
    await receiver.close();
    await db.drop();
  });

  test('500, timeout, reset and 429 + Retry-After are retried on schedule, then success', async () => {
    const { endpointId } = await setup(server, receiver.url);
    const dispatcher = server.hookline.dispatcher!;
    const store = server.hookline.store;
    receiver.queue(
      { status: 500, body: 'boom' },
      { hang: true },
      { reset: true },
      { status: 429, headers: { 'retry-after': '20000' } },
      { status: 204 },
    );
    const msgId = await publish(server);
    const start = clock.now();

    await dispatcher.drain();
    assert.equal(receiver.requests.length, 1, 'first attempt is immediate');
    let due = (await store.nextDueAt())! - clock.now();
    assert.ok(
      due >= 4_000 && due <= 6_000,
      `after the 1st failure the retry is due in 5 s ±20%, got ${due} ms`,
    );

    clock.advance(due);
    await dispatcher.drain();
    assert.equal(receiver.requests.length, 2, 'second attempt after 5 s');
    due = (await store.nextDueAt())! - clock.now();
    assert.ok(due >= 4 * MIN && due <= 6 * MIN, `then 5 min ±20%, got ${due} ms`);

    clock.advance(due);
    await dispatcher.drain();
    assert.equal(receiver.requests.length, 3);
    due = (await store.nextDueAt())! - clock.now();
    assert.ok(due >= 24 * MIN && due <= 36 * MIN, `then 30 min ±20%, got ${due} ms`);

    clock.advance(due);
    await dispatcher.drain();
    assert.equal(receiver.requests.length, 4);
    due = (await store.nextDueAt())! - clock.now();
    assert.equal(due, 20_000_000, 'Retry-After (5.6 h) beats the 2 h step of the schedule');

    clock.advance(due - 1);
    await dispatcher.drain();
    assert.equal(receiver.requests.length, 4, 'nothing is sent before Retry-After has passed');
    clock.advance(1);
    await dispatcher.drain();
    assert.equal(receiver.requests.length, 5);
    assert.equal(await store.nextDueAt(), null, 'delivered: nothing left in the queue');

    // Every attempt carried the same webhook-id, and each was logged with what happened.
    assert.deepEqual(new Set(receiver.requests.map((r) => r.headers['webhook-id'])), new Set([msgId]));
    const attempts = await server.call('GET', `/api/v1/app/acme/attempt/endpoint/${endpointId}`);
    assert.equal(attempts.status, 200);
    const log = [...attempts.body.data].reverse();
    assert.deepEqual(
      log.map((a: any) => [a.status, a.responseStatusCode]),
      [
        [2, 500],
        [2, 0],
        [2, 0],
        [2, 429],
        [0, 204],
      ],
    );
    assert.equal(log[0].response, 'boom');
    assert.match(log[1].response, /timed out/);
    assert.match(log[2].response, /reset/);
    assert.ok(Date.parse(log[4].timestamp) - start >= 20_000_000);
  });

  test('an attempt id is made when the attempt starts, not when its answer comes', async () => {
    const { appId } = await setup(server, receiver.url, 'slow');
    receiver.queue({ hang: true });
    const sent = receiver.requests.length;
    await publish(server, 'slow');
    const startedAt = clock.now();
    const drained = server.hookline.dispatcher!.drain();
    while (receiver.requests.length === sent) await new Promise((r) => setTimeout(r, 5));
    // The request hangs until the delivery timeout (0.3 s): by the clock it ends five seconds
    // later, another second than its start's, and within its lease (2 x 0.3 s + 10 s): a clock
    // moved past the lease let a claim take the delivery again meanwhile, and the newest attempt
    // listed was that second one, made at the later time.
    clock.advance(5_000);
    await drained;
    const page = { limit: 10, after: null, before: null, order: 'desc' as const };
    const [a] = (await server.hookline.store.listAttempts({ appId }, page)).items;
    assert.equal(a?.createdAt, startedAt);
    // The attempt log's time windows read ids as start times (store/shared/attempt-window.ts).
    assert.ok(a.id >= idFloor('attempt', startedAt), `${a.id} sorts before its start`);
    assert.ok(a.id < idFloor('attempt', startedAt + 1000), `${a.id} is not of its start's second`);
  });
}

function givingUpSuite(kind: TestStoreKind): void {
  const clock = createManualClock(Date.parse('2026-02-01T00:00:00Z'));
  let server: TestServer;
  let receiver: TestReceiver;
  let db: Awaited<ReturnType<TestStoreKind['open']>>;

  before(async () => {
    db = await kind.open('giveup');
    receiver = await startReceiver();
    receiver.fallback = { status: 503 };
    server = await startHookline({
      clock,
      env: { HOOKLINE_RETRY_SCHEDULE: '60,60', HOOKLINE_DISABLE_AFTER: '150', ...db.env },
    });
  });
  after(async () => {
    await server.close();
    await receiver.close();
    await db.drop();
  });

  test('a delivery fails for good after the schedule; the endpoint is disabled; recover brings all back', async () => {
    const { endpointId } = await setup(server, receiver.url);
    const dispatcher = server.hookline.dispatcher!;
    const t0 = clock.now();
    const first = await publish(server, 'acme', { n: 1 });
    await dispatcher.drain();
    for (let i = 0; i < 2; i++) {
      clock.set((await server.hookline.store.nextDueAt())!);
      await dispatcher.drain();
    }
    assert.equal(await server.hookline.store.nextDueAt(), null, 'nothing left to try');
    assert.equal(receiver.requests.length, 3, 'first try plus two retries, then it gives up');
    assert.ok(clock.now() - t0 <= 144_000, 'two 60 s steps with at most +20% jitter each');
    let stats = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}/stats`);
    assert.deepEqual(stats.body, { success: 0, pending: 0, sending: 0, fail: 1, canceled: 0 });
    let ep = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}`);
    assert.equal(ep.body.disabled, false, 'failing for less than the 150 s threshold');

    // A second message fails too; by then the endpoint has failed for longer than 150 s.
    clock.set(t0 + 151_000);
    await publish(server, 'acme', { n: 2 });
    await dispatcher.drain();
    ep = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}`);
    assert.equal(ep.body.disabled, true, 'disabled after failing continuously past the threshold');

    // While disabled, new messages are not sent to it.
    const missed = await publish(server, 'acme', { n: 3 });
    await dispatcher.drain();
    const before = receiver.requests.length;
    clock.advance(10 * HOUR);
    await dispatcher.drain();
    assert.equal(receiver.requests.length, before, 'a disabled endpoint receives nothing');

    // Re-enable, fix the receiver, recover: the failed ones and the missed one arrive.
    receiver.fallback = { status: 200 };
    const patched = await server.call('PATCH', `/api/v1/app/acme/endpoint/${endpointId}`, {
      disabled: false,
    });
    assert.equal(patched.body.disabled, false);
    const recovered = await server.call('POST', `/api/v1/app/acme/endpoint/${endpointId}/recover`, {
      since: new Date(clock.now() - 24 * HOUR).toISOString(),
    });
    assert.equal(recovered.status, 202);
    assert.match(recovered.body.id, /^qtask_/);
    // A background task: its batches are queued once it reports finished.
    let task = recovered.body;
    for (let i = 0; task.status === 'running' && i < 1000; i++) {
      await new Promise((r) => setTimeout(r, 10));
      task = (await server.call('GET', `/api/v1/background-task/${recovered.body.id}`)).body;
    }
    assert.equal(task.status, 'finished', JSON.stringify(task));
    assert.equal(task.data.messagesQueued, 3);
    await dispatcher.drain();
    const delivered = receiver.requests.slice(before).map((r) => r.headers['webhook-id']);
    assert.ok(delivered.includes(first), 'the message that failed for good is delivered');
    assert.ok(delivered.includes(missed), 'the message published while disabled is delivered');
    assert.equal(new Set(delivered).size, 3);
    stats = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}/stats`);
    assert.equal(stats.body.success, 3);
    assert.equal(stats.body.fail, 0);
  });
}

// The delivery engine behaves the same on every store.
for (const kind of await testStores()) {
  describe(`retry schedule against a failing receiver (manual clock, ${kind.name})`, kind.options, () =>
    retryScheduleSuite(kind),
  );
  describe(`giving up, disabling and recovering (${kind.name})`, kind.options, () => givingUpSuite(kind));
}

describe('one dead endpoint does not hold up the others', () => {
  let server: TestServer;
  let slow: TestReceiver;
  let fast: TestReceiver;

  before(async () => {
    slow = await startReceiver();
    fast = await startReceiver();
    slow.fallback = { hang: true };
    server = await startHookline({
      // The hanging requests must not time out (and be retried) while the test runs, however
      // slow a loaded machine is: then "at most 4" is exactly the endpoint's concurrency.
      env: { HOOKLINE_DELIVERY_TIMEOUT: '120', HOOKLINE_ENDPOINT_CONCURRENCY: '4' },
    });
  });
  after(async () => {
    // The hanging requests end (connection closed) first, so shutdown does not wait them out.
    await slow.close();
    await server.close();
    await fast.close();
  });

  test('deliveries to a fast endpoint complete while a hanging one holds only its own slots', async () => {
    await server.call('POST', '/api/v1/app', { name: 'Slow', uid: 'slow' });
    await server.call('POST', '/api/v1/app', { name: 'Fast', uid: 'fast' });
    await server.call('POST', '/api/v1/app/slow/endpoint', { url: `${slow.url}/hook` });
    await server.call('POST', '/api/v1/app/fast/endpoint', { url: `${fast.url}/hook` });
    for (let i = 0; i < 40; i++) await publish(server, 'slow', { i });
    for (let i = 0; i < 40; i++) await publish(server, 'fast', { i });
    await fast.waitFor(40, 60_000);
    assert.equal(fast.requests.length, 40, 'every fast delivery arrived while the slow endpoint hangs');
    assert.ok(
      slow.requests.length <= 4,
      `the hanging endpoint holds at most 4 requests, saw ${slow.requests.length}`,
    );
  });
});

describe('retry policy (pure)', () => {
  test('schedule steps with bounded jitter, and null once used up', () => {
    assert.equal(
      nextRetryDelay(DEFAULT_RETRY_POLICY, 1, null, () => 0.5),
      5_000,
    );
    assert.equal(
      nextRetryDelay(DEFAULT_RETRY_POLICY, 1, null, () => 0),
      4_000,
    );
    assert.equal(
      nextRetryDelay(DEFAULT_RETRY_POLICY, 1, null, () => 1),
      6_000,
    );
    assert.equal(
      nextRetryDelay(DEFAULT_RETRY_POLICY, 7, null, () => 0.5),
      36_000_000,
    );
    assert.equal(
      nextRetryDelay(DEFAULT_RETRY_POLICY, 8, null, () => 0.5),
      null,
    );
  });
  test('Retry-After only lengthens the wait and is capped at 24 h', () => {
    assert.equal(
      nextRetryDelay(DEFAULT_RETRY_POLICY, 2, 1_000, () => 0.5),
      300_000,
    );
    assert.equal(
      nextRetryDelay(DEFAULT_RETRY_POLICY, 1, 60_000, () => 0.5),
      60_000,
    );
    assert.equal(
      nextRetryDelay(DEFAULT_RETRY_POLICY, 1, 48 * HOUR, () => 0.5),
      24 * HOUR,
    );
  });
  test('Retry-After as seconds or HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('soon', now), null);
    assert.equal(parseRetryAfter(undefined, now), null);
  });
});
