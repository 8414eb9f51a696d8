/**
 * How soon a dispatcher looks again for due work it could not take (`delivery/dispatcher.ts`):
 * every 50 ms when the endpoint is its own, every 250 ms when another worker is first in line
 * for it (`Store.leadsEndpoint`) and comes back for that work itself. The other worker here is
 * the test, holding 60 of the endpoint's 64 leases; the dispatcher, given the other 4 at each
 * claim and sending them at once, finds the endpoint full every time it looks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { systemClock } from '../src/core/clock.ts';
import { createIdGenerator } from '../src/core/ids.ts';
import { DEFAULT_RETRY_POLICY } from '../src/core/retry.ts';
import { createDispatcher } from '../src/delivery/dispatcher.ts';
import type { Sender } from '../src/delivery/sender.ts';
import type { Store } from '../src/store/store.ts';
import { selectedAdapters, testApp, testEndpoint, testIngestItem } from './stores.ts';

const PER_ENDPOINT = 32;
const WINDOW_MS = 1_000;

/** Answers every request 200 after 5 ms, without a socket. */
const sender: Sender = {
  send: async () => {
    await new Promise((r) => setTimeout(r, 5));
    return { ok: true, statusCode: 200, headers: {}, body: 'ok', durationMs: 5 };
  },
  close: async () => {},
};

/** Claims a dispatcher makes in WINDOW_MS, its store saying whether it leads the endpoint. */
async function claimsIn(store: Store, leads: boolean): Promise<number> {
  let claims = 0;
  const counted: Store = {
    ...store,
    leadsEndpoint: () => leads,
    claimDue: (o) => {
      claims++;
      return store.claimDue(o);
    },
  };
  const dispatcher = createDispatcher({
    store: counted,
    sender,
    clock: systemClock,
    ids: createIdGenerator(),
    logger: pino({ level: 'silent' }),
    options: {
      concurrency: 256,
      perEndpointConcurrency: PER_ENDPOINT,
      leaseMs: 60_000,
      claimBatch: 100,
      idlePollMs: 5_000,
      retry: DEFAULT_RETRY_POLICY,
      disableAfterMs: 86_400_000,
    },
  });
  dispatcher.start();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  await dispatcher.stop(1_000);
  return claims;
}

for (const adapter of selectedAdapters()) {
  describe(`dispatcher pacing (${adapter.name})`, () => {
    test("looks again for another worker's full endpoint every 250 ms, for its own every 50 ms", async (t) => {
      const { store, cleanup } = await adapter.open();
      try {
        const ids = createIdGenerator();
        const now = Date.now();
        const appId = ids('app');
        await store.insertApp(testApp(appId, now));
        const endpoint = testEndpoint(ids('endpoint'), appId, now);
        await store.insertEndpoint(endpoint);
        const items = Array.from({ length: 400 }, () => testIngestItem(ids, appId, now));
        await store.ingest(items);
        // The other worker: 60 of the 64 leases the endpoint may have across workers.
        const held = await store.claimDue({
          now: Date.now(),
          limit: 60,
          leaseMs: 60_000,
          leasePerEndpoint: true,
          perEndpoint: 2 * PER_ENDPOINT,
          skipEndpoints: [],
        });
        assert.equal(held.deliveries.length, 60);

        const others = await claimsIn(store, false);
        const own = await claimsIn(store, true);
        t.diagnostic(`claims in ${WINDOW_MS} ms: ${others} for another's endpoint, ${own} for its own`);
        // 250 ms apart: the first claim and four more in a second, fewer on a slow machine.
        assert.ok(others <= 6, `${others} claims in ${WINDOW_MS} ms for another worker's endpoint`);
        assert.ok(own >= others + 4, `${own} claims for its own endpoint against ${others} for another's`);
      } finally {
        await cleanup();
      }
    });
  });
}
