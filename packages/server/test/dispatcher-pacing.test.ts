/**
 * How a dispatcher shares endpoints with other workers (`delivery/dispatcher.ts`). Work due for
 * 10 s or more that it could not take: it looks again every 50 ms when the endpoint is its own,
 * every 250 ms when another worker is first in line for it (`Store.leadsEndpoint`) and comes back
 * for that work itself. The other worker here is the test, holding 60 of the endpoint's 64
 * leases; the dispatcher, given the other 4 at each claim and sending them at once, finds the
 * endpoint full every time it looks. New work of another worker's busy endpoint (half its
 * concurrency in flight) it leaves to that one, a quiet one's it takes at once (PostgreSQL, the
 * store several workers share). While it drains a backlog, news of another endpoint waits for the
 * backlog's next claim (`newsWaitMs`) instead of making a claim of its own. Finished attempts
 * wait the store's `outcomeBatchWaitMs` to share a write (PostgreSQL, SQLite with FULL), or are
 * recorded in the turn they finished in (SQLite with NORMAL).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pino from 'pino';
import { systemClock } from '../src/core/clock.ts';
import { createIdGenerator } from '../src/core/ids.ts';
import { DEFAULT_RETRY_POLICY } from '../src/core/retry.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import { createDispatcher } from '../src/delivery/dispatcher.ts';
import type { Sender, SendResult } from '../src/delivery/sender.ts';
import { createSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../src/store/store.ts';
import { tempDir } from './helpers.ts';
import { selectedAdapters, testApp, testEndpoint, testIngestItem } from './stores.ts';

const PER_ENDPOINT = 32;
const WINDOW_MS = 1_000;
/** Longer than the dispatcher's OTHERS_WAIT_MS: work due that long ago is any worker's. */
const OTHERS_WAIT_MS = 10_000;

/** Answers every request 200 after 5 ms, without a socket; `onSend` is told of each. */
const senderOf = (onSend: (url: string) => void = () => {}): Sender => ({
  send: async (req) => {
    onSend(req.url);
    await new Promise((r) => setTimeout(r, 5));
    return { ok: true, statusCode: 200, headers: {}, body: 'ok', durationMs: 5 };
  },
  close: async () => {},
});

/** A dispatcher on `store` (a test's copy of it) with this file's options. */
const dispatcherOn = (store: Store, sender: Sender, newsWaitMs = 0) =>
  createDispatcher({
    store,
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
      newsWaitMs,
      retry: DEFAULT_RETRY_POLICY,
      disableAfterMs: 86_400_000,
    },
  });

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
  const dispatcher = dispatcherOn(counted, senderOf());
  dispatcher.start();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  await dispatcher.stop(1_000);
  return claims;
}

/**
 * Two applications with an endpoint each: `backlog` deliveries of the first already due, and the
 * second's endpoint for the news published while they drain.
 */
async function backlogAndNews(store: Store, ids: ReturnType<typeof createIdGenerator>, backlog: number) {
  const now = Date.now();
  const backlogApp = ids('app');
  const newsApp = ids('app');
  await store.insertApp(testApp(backlogApp, now));
  await store.insertApp(testApp(newsApp, now));
  const backlogUrl = `https://receiver.example/${ids('endpoint')}`;
  await store.insertEndpoint(testEndpoint(ids('endpoint'), backlogApp, now, { url: backlogUrl }));
  const newsUrl = `https://receiver.example/${ids('endpoint')}`;
  await store.insertEndpoint(testEndpoint(ids('endpoint'), newsApp, now, { url: newsUrl }));
  await store.ingest(Array.from({ length: backlog }, () => testIngestItem(ids, backlogApp, now - 1_000)));
  return { newsApp, backlogUrl, newsUrl };
}

/**
 * Sends one delivery of a new message on `store` and tells whether its outcome was recorded after
 * a 1 ms timer set as the endpoint answered: with no batch wait, what finished in one turn of the
 * event loop is recorded in it, before any timer; with a wait, after that timer.
 */
async function recordWaitedForATimer(store: Store, statusCode = 200): Promise<boolean | null> {
  const ids = createIdGenerator();
  const now = Date.now();
  const appId = ids('app');
  await store.insertApp(testApp(appId, now));
  await store.insertEndpoint(testEndpoint(ids('endpoint'), appId, now));
  await store.ingest([testIngestItem(ids, appId, now)]);
  let timerFired = false;
  let waited: boolean | null = null;
  const sender: Sender = {
    send: () =>
      new Promise((resolve) =>
        setTimeout(() => {
          setTimeout(() => {
            timerFired = true;
          }, 1);
          resolve({ ok: true, statusCode, headers: {}, body: 'ok', durationMs: 5 });
        }, 5),
      ),
    close: async () => {},
  };
  const watched: Store = {
    ...store,
    completeDeliveries: (outcomes, at) => {
      waited ??= timerFired;
      return store.completeDeliveries(outcomes, at);
    },
  };
  const dispatcher = dispatcherOn(watched, sender);
  dispatcher.start();
  await dispatcher.drain();
  await dispatcher.stop(1_000);
  return waited;
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
        // Due for longer than OTHERS_WAIT_MS: the dispatcher may take it whoever leads.
        const items = Array.from({ length: 400 }, () =>
          testIngestItem(ids, appId, now - OTHERS_WAIT_MS - 1_000),
        );
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

    test("news of another endpoint goes with a draining backlog's next claim, not a claim of its own", async (t) => {
      const { store, cleanup } = await adapter.open();
      try {
        const ids = createIdGenerator();
        const NEWS = 40;
        /**
         * A dispatcher drains 1,000 due deliveries of one endpoint (each answered in 100 ms: a claim
         * of the backlog about every 100 ms, as 32 slots free up), while NEWS messages to another
         * application's endpoint are published 25 ms apart. Returns its claims, and how often each
         * of those messages was sent.
         */
        const drainWithNews = async (newsWaitMs: number) => {
          const { newsApp, newsUrl } = await backlogAndNews(store, ids, 1_000);
          let claims = 0;
          const sent = new Map<string, number>();
          const counted: Store = {
            ...store,
            claimDue: (o) => {
              claims++;
              return store.claimDue(o);
            },
          };
          const sender: Sender = {
            send: async (req) => {
              if (req.url === newsUrl) {
                const id = req.headers['webhook-id']!;
                sent.set(id, (sent.get(id) ?? 0) + 1);
              }
              await new Promise((r) => setTimeout(r, 100));
              return { ok: true, statusCode: 200, headers: {}, body: 'ok', durationMs: 100 };
            },
            close: async () => {},
          };
          const dispatcher = dispatcherOn(counted, sender, newsWaitMs);
          dispatcher.start();
          // The first claims fill the backlog's endpoint: it is being drained.
          await new Promise((r) => setTimeout(r, 100));
          const published: string[] = [];
          for (let i = 0; i < NEWS; i++) {
            const item = testIngestItem(ids, newsApp, Date.now());
            published.push(item.message.id);
            await store.ingest([item]);
            await new Promise((r) => setTimeout(r, 25));
          }
          await dispatcher.drain();
          await dispatcher.stop(1_000);
          return { claims, sent: published.map((id) => sent.get(id) ?? 0) };
        };
        const atOnce = await drainWithNews(0);
        // Longer than the backlog's claims are apart: each message goes with the next one.
        const waiting = await drainWithNews(150);
        t.diagnostic(`claims: ${atOnce.claims} claiming news at once, ${waiting.claims} with news waiting`);
        // Every message of the other endpoint is sent, once.
        assert.deepEqual(atOnce.sent, Array(NEWS).fill(1));
        assert.deepEqual(waiting.sent, Array(NEWS).fill(1));
        // About one claim per 32 deliveries of the backlog either way (~32); claiming at once adds
        // about one per message, waiting none.
        assert.ok(
          waiting.claims + NEWS / 2 <= atOnce.claims,
          `${waiting.claims} claims with news waiting against ${atOnce.claims} claiming at once`,
        );
      } finally {
        await cleanup();
      }
    });

    test('news does not wait for a backlog whose endpoint is paused: no claim of it is coming', async () => {
      const { store, cleanup } = await adapter.open();
      try {
        const ids = createIdGenerator();
        const { newsApp, backlogUrl, newsUrl } = await backlogAndNews(store, ids, 200);
        let newsSent = 0;
        let backlogSent = 0;
        // The backlog's endpoint answers 429 with Retry-After: 60, which pauses it for a minute.
        const sender: Sender = {
          send: async (req): Promise<SendResult> => {
            if (req.url === newsUrl) newsSent++;
            else backlogSent++;
            await new Promise((r) => setTimeout(r, 20));
            const paused = req.url === backlogUrl;
            const headers: Record<string, string> = paused ? { 'retry-after': '60' } : {};
            return { ok: true, statusCode: paused ? 429 : 200, headers, body: '', durationMs: 20 };
          },
          close: async () => {},
        };
        // News would wait up to 10 s for a claim of the backlog.
        const dispatcher = dispatcherOn(store, sender, 10_000);
        dispatcher.start();
        try {
          // Its first claim fills the backlog's endpoint; the answers pause it.
          const started = Date.now();
          while (backlogSent === 0 && Date.now() - started < 5_000)
            await new Promise((r) => setTimeout(r, 10));
          assert.ok(backlogSent > 0, 'the backlog was claimed');
          await new Promise((r) => setTimeout(r, 300));
          await store.ingest([testIngestItem(ids, newsApp, Date.now())]);
          const published = Date.now();
          // Within 2 s: a wait would take 10 s, or until the dispatcher's idle poll (5 s).
          while (newsSent === 0 && Date.now() - published < 2_000)
            await new Promise((r) => setTimeout(r, 10));
          assert.equal(
            newsSent,
            1,
            `the new message went out ${Date.now() - published} ms after it was published`,
          );
        } finally {
          await dispatcher.stop(1_000);
        }
      } finally {
        await cleanup();
      }
    });

    test("leaves another worker's busy endpoint's new work to it; a quiet one's it takes at once", {
      skip: adapter.name === 'sqlite' && 'one dispatcher per SQLite file: no other worker to leave it to',
    }, async (t) => {
      const { store, cleanup } = await adapter.open();
      try {
        const ids = createIdGenerator();
        /**
         * How many of 20 new messages a dispatcher sends within a second, its store saying
         * whether it leads their endpoint, while the endpoint's first in line (the test) holds
         * `held` of its deliveries in flight.
         */
        const sentInASecond = async (leads: boolean, held: number): Promise<number> => {
          const appId = ids('app');
          await store.insertApp(testApp(appId, Date.now()));
          const url = `https://receiver.example/${ids('endpoint')}`;
          const endpoint = testEndpoint(ids('endpoint'), appId, Date.now(), { url });
          await store.insertEndpoint(endpoint);
          if (held > 0) {
            await store.ingest(Array.from({ length: held }, () => testIngestItem(ids, appId, Date.now())));
            const claim = await store.claimDue({
              now: Date.now(),
              limit: held,
              leaseMs: 60_000,
              perEndpoint: 2 * PER_ENDPOINT,
              skipEndpoints: [],
              onlyEndpoints: [endpoint.id],
            });
            assert.equal(claim.deliveries.length, held);
          }
          let sent = 0;
          const dispatcher = dispatcherOn(
            { ...store, leadsEndpoint: () => leads },
            // Only this endpoint's: the runs before it leave their endpoints' work due.
            senderOf((to) => {
              if (to === url) sent++;
            }),
          );
          dispatcher.start();
          // Its first look finds nothing due; the news of the messages names the endpoint.
          await new Promise((r) => setTimeout(r, 200));
          await store.ingest(Array.from({ length: 20 }, () => testIngestItem(ids, appId, Date.now())));
          await new Promise((r) => setTimeout(r, WINDOW_MS));
          await dispatcher.stop(1_000);
          return sent;
        };
        const othersBusy = await sentInASecond(false, PER_ENDPOINT / 2);
        const othersQuiet = await sentInASecond(false, 0);
        const ownBusy = await sentInASecond(true, PER_ENDPOINT / 2);
        t.diagnostic(
          `sent in ${WINDOW_MS} ms: ${othersBusy} (another's, busy), ${othersQuiet} (another's, quiet), ${ownBusy} (its own, busy)`,
        );
        assert.equal(othersBusy, 0, "another worker's busy endpoint: left to it");
        assert.equal(othersQuiet, 20, "another worker's quiet endpoint: taken at once");
        assert.equal(ownBusy, 20, 'its own busy endpoint: taken at once');
      } finally {
        await cleanup();
      }
    });

    test("finished attempts wait for the store's batch wait before they are recorded, when it has one", async () => {
      const { store, cleanup } = await adapter.open();
      try {
        const waited = await recordWaitedForATimer(store);
        assert.ok(
          store.capabilities.outcomeBatchWaitMs > 0,
          'both test stores batch for a while (FULL, PostgreSQL)',
        );
        assert.equal(waited, true, 'recorded after a 1 ms timer set as the endpoint answered');
      } finally {
        await cleanup();
      }
    });
  });
}

describe('outcome batches on SQLite with synchronous=NORMAL', () => {
  test('finished attempts are recorded in the turn they finished in: no wait holds their slots', async () => {
    const dir = tempDir('hookline-normal-');
    const store = createSqliteStore({
      path: join(dir, 'h.db'),
      secretBox: createSecretBox('test-key'),
      synchronous: 'NORMAL',
    });
    try {
      await store.migrate();
      assert.equal(store.capabilities.outcomeBatchWaitMs, 0);
      assert.equal(
        await recordWaitedForATimer(store),
        false,
        'recorded before a 1 ms timer set as the endpoint answered',
      );
      // A 503 brings the endpoint's limit down (adaptive.ts): its outcome waits as with FULL, so
      // its slot comes back no sooner.
      assert.equal(await recordWaitedForATimer(store, 503), true, 'an eased endpoint waits for its record');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
