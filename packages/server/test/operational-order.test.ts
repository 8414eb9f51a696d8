/**
 * Operational webhooks are told in the order their events happened. Queueing one waits on the
 * store (the application and the message are read first), so an event made later can be queued
 * first; its message id, which the operational endpoint orders by, must still be the later one.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import pino from 'pino';
import { createManualClock } from '../src/core/clock.ts';
import { createIdGenerator } from '../src/core/ids.ts';
import type { Attempt } from '../src/core/types.ts';
import { createOperationalEvents } from '../src/delivery/operational.ts';
import type { ClaimedDelivery, Store } from '../src/store/store.ts';
import { ADAPTERS } from './stores.ts';

test('a recovery told while the failing event before it is still being queued comes after it', async () => {
  const sqlite = ADAPTERS.find((a) => a.name === 'sqlite')!;
  const { store, cleanup } = await sqlite.open();
  try {
    const clock = createManualClock(Date.parse('2026-12-05T12:00:00Z'));
    const ids = createIdGenerator(() => clock.now());
    // The first message look-up (the failing event's) is slow, as under a busy store.
    let lookups = 0;
    const slow: Store = new Proxy(store, {
      get(target, key) {
        const value = Reflect.get(target, key);
        if (key !== 'getMessage' || typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          if (lookups++ === 0) await new Promise((r) => setTimeout(r, 50));
          return value.apply(target, args);
        };
      },
    });
    const queued: { id: string; type: string; createdAt: number }[] = [];
    const events = createOperationalEvents({
      store: slow,
      ids,
      clock,
      logger: pino({ level: 'silent' }),
      ingest: {
        add: async ({ message }) => {
          queued.push({ id: message.id, type: message.eventType, createdAt: message.createdAt });
          return { ok: true, deliveries: 1 };
        },
      },
    });
    await events.app();

    const delivery = {
      id: ids('delivery'),
      msgId: ids('message'),
      appId: ids('app'),
      endpointId: ids('endpoint'),
      attempts: 3,
    } as ClaimedDelivery;
    const attempt = (status: number) =>
      ({ id: ids('attempt'), responseStatusCode: status, createdAt: clock.now() }) as Attempt;

    // The fourth failure, then (a moment later, before the first is queued) the success after it.
    const failing = events.attempt(attempt(500), delivery, { kind: 'retry', at: clock.now() + 10 });
    clock.advance(20);
    const recovered = events.attempt(attempt(200), { ...delivery, attempts: 4 }, { kind: 'success' });
    await Promise.all([failing, recovered]);

    assert.deepEqual(
      queued.map((q) => q.type),
      ['message.attempt.recovered', 'message.attempt.failing'],
      'the recovery was queued first (the slow look-up held the failing event back)',
    );
    const byId = [...queued].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    assert.deepEqual(
      byId.map((q) => q.type),
      ['message.attempt.failing', 'message.attempt.recovered'],
    );
    assert.ok(byId[0]!.createdAt < byId[1]!.createdAt, 'each event is dated when it happened');
  } finally {
    await cleanup();
  }
});
