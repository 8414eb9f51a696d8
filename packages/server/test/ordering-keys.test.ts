/**
 * Ordering keys, end to end on SQLite and on PostgreSQL: deliveries of messages with the same
 * `orderingKey` to the same endpoint go out one at a time in publish order, each with a
 * `webhook-sequence` number of its (endpoint, key) line; other keys and unkeyed messages are not
 * held up; a failing head holds back only its key, and once it is exhausted the next goes. On
 * PostgreSQL, two Hookline instances dispatching from one database never have two of one key in
 * flight.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { Svix } from 'svix';
import { createManualClock } from '../src/core/clock.ts';
import { createIdGenerator } from '../src/core/ids.ts';
import type { Attempt, Endpoint, Message } from '../src/core/types.ts';
import type { ClaimedDelivery, DeliveryOutcome, IngestItem, Store } from '../src/store/store.ts';
import { headersOf, startHookline, startReceiver, type TestServer, tempDir } from './helpers.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions, type TestDatabase } from './pg.ts';
import { selectedAdapters, testApp, testEndpoint, testIngestItem } from './stores.ts';

/** One request as the keyed receiver saw it. */
interface Seen {
  key: string | null;
  seq: number | null;
  n: number;
  status: number;
}

/**
 * A receiver that knows about keys: it counts the requests of each key in flight (the most ever
 * seen at once per key, and across keys), and answers as `answer` says, possibly after a wait.
 */
interface KeyedReceiver {
  url: string;
  seen: Seen[];
  maxInFlightPerKey: Map<string, number>;
  maxInFlight: number;
  answer: (s: Omit<Seen, 'status'>) => { status: number; wait?: Promise<void> | number };
  close(): Promise<void>;
}

async function startKeyedReceiver(): Promise<KeyedReceiver> {
  const inFlight = new Map<string, number>();
  let all = 0;
  const r: KeyedReceiver = {
    url: '',
    seen: [],
    maxInFlightPerKey: new Map(),
    maxInFlight: 0,
    answer: () => ({ status: 200 }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = (req.headers['webhook-ordering-key'] as string | undefined) ?? null;
      const seqHeader = req.headers['webhook-sequence'] as string | undefined;
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { n: number };
      const k = key ?? '';
      inFlight.set(k, (inFlight.get(k) ?? 0) + 1);
      all++;
      if (key !== null)
        r.maxInFlightPerKey.set(k, Math.max(r.maxInFlightPerKey.get(k) ?? 0, inFlight.get(k)!));
      r.maxInFlight = Math.max(r.maxInFlight, all);
      const s = { key, seq: seqHeader === undefined ? null : Number(seqHeader), n: body.n };
      const { status, wait } = r.answer(s);
      const done = () => {
        inFlight.set(k, inFlight.get(k)! - 1);
        all--;
        r.seen.push({ ...s, status });
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end('');
      };
      if (wait === undefined) done();
      else if (typeof wait === 'number') setTimeout(done, wait);
      else void wait.then(done);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

/** `p`, or an error after `ms`: a dispatcher that never goes idle fails the test, not the run. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const seqsOf = (seen: Seen[], key: string | null) => seen.filter((s) => s.key === key).map((s) => s.seq);

interface Setup {
  env: Record<string, string>;
  cleanup?: () => Promise<void>;
}

function suite(name: string, setup: () => Promise<Setup>, options: { skip?: string } = {}) {
  describe(`Ordering keys (${name})`, options, () => {
    let s: Setup;
    let server: TestServer;
    // Retries come only when the test moves the clock.
    const clock = createManualClock();
    const wake = () => server.hookline.dispatcher!.wake();

    before(async () => {
      s = await setup();
      // One retry, a minute after the first try.
      server = await startHookline({ env: { ...s.env, HOOKLINE_RETRY_SCHEDULE: '60' }, clock });
      for (const name of ['t.a', 't.b'])
        assert.equal(
          (await server.call('POST', '/api/v1/event-type', { name, description: name })).status,
          201,
        );
    });
    after(async () => {
      await server?.close();
      await s?.cleanup?.();
    });

    async function app(): Promise<string> {
      const r = await server.call('POST', '/api/v1/app', { name: 'ordering' });
      assert.equal(r.status, 201);
      return r.body.id as string;
    }
    async function endpoint(appId: string, url: string, extra: Record<string, unknown> = {}) {
      const r = await server.call('POST', `/api/v1/app/${appId}/endpoint`, { url, ...extra });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body as { id: string };
    }
    async function publish(appId: string, n: number, orderingKey?: string, eventType = 't.a') {
      const r = await server.call('POST', `/api/v1/app/${appId}/msg`, {
        eventType,
        payload: { n },
        ...(orderingKey !== undefined ? { orderingKey } : {}),
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body as { id: string; orderingKey?: string };
    }

    test('one key goes strictly in order, one at a time, while another key and unkeyed messages go on', async () => {
      const recv = await startKeyedReceiver();
      try {
        let release!: () => void;
        const held = new Promise<void>((r) => {
          release = r;
        });
        // The first of key A is held until the others have all arrived.
        recv.answer = (x) =>
          x.key === 'A' && x.seq === 1 ? { status: 200, wait: held } : { status: 200, wait: 5 };
        const appId = await app();
        await endpoint(appId, recv.url);
        let n = 0;
        for (let i = 0; i < 5; i++) {
          await publish(appId, n++, 'A');
          await publish(appId, n++, 'B');
          if (i < 3) await publish(appId, n++);
        }
        await until(
          () => seqsOf(recv.seen, 'B').length === 5 && seqsOf(recv.seen, null).length === 3,
          'B and unkeyed',
        );
        assert.deepEqual(seqsOf(recv.seen, 'A'), [], 'nothing of A finished while its first is in flight');
        assert.deepEqual(seqsOf(recv.seen, 'B'), [1, 2, 3, 4, 5]);
        assert.deepEqual(seqsOf(recv.seen, null), [null, null, null], 'unkeyed messages carry no sequence');
        release();
        await until(() => seqsOf(recv.seen, 'A').length === 5, 'all of A');
        await within(server.hookline.dispatcher!.drain(), 30_000, 'drain');
        assert.deepEqual(seqsOf(recv.seen, 'A'), [1, 2, 3, 4, 5]);
        // Publish order within a key is the payload order too.
        assert.deepEqual(
          recv.seen.filter((x) => x.key === 'A').map((x) => x.n),
          [0, 3, 6, 9, 11],
        );
        assert.equal(recv.maxInFlightPerKey.get('A'), 1);
        assert.equal(recv.maxInFlightPerKey.get('B'), 1);
        assert.ok(recv.maxInFlight >= 2, 'other keys went while A was held');
      } finally {
        await recv.close();
      }
    });

    test('work announced while a claim runs is claimed at once, not at the idle poll', async () => {
      const recv = await startKeyedReceiver();
      const store = server.hookline.store;
      const claimDue = store.claimDue;
      // The first is held at the receiver until the end: its outcome, which would wake the
      // dispatcher, does not come before the second goes.
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      recv.answer = (x) => (x.n === 1 ? { status: 200, wait: held } : { status: 200 });
      try {
        const appId = await app();
        await endpoint(appId, recv.url);
        // The claim that takes the first message publishes a second (a key of its own: it waits
        // for a claim) before it returns, without having seen it. The test's clock stands still,
        // so that message is due at the claim's time, not after it: only the news of it can bring
        // it before the idle poll (5 s).
        let during: Promise<unknown> | null = null;
        store.claimDue = async (o) => {
          const claim = await claimDue.call(store, o);
          if (during === null && claim.deliveries.some((d) => d.orderingKey === 'first')) {
            during = publish(appId, 2, 'second');
            await during;
          }
          return claim;
        };
        await publish(appId, 1, 'first');
        await until(() => recv.seen.length === 1, 'the second message, well before the idle poll', 3_000);
        assert.deepEqual(
          recv.seen.map((x) => x.n),
          [2],
        );
        release();
        await until(() => recv.seen.length === 2, 'the first');
      } finally {
        release();
        store.claimDue = claimDue;
        await recv.close();
      }
    });

    test("a FIFO endpoint's next delivery goes as soon as the one before it is recorded", async () => {
      const recv = await startKeyedReceiver();
      const store = server.hookline.store;
      const nextDueAt = store.nextDueAt;
      try {
        // The dispatcher then never hears of due work it could not claim, so its only other look
        // at the queue is its idle poll (5 s): each delivery has to go because the one before it
        // was recorded. (Before, a FIFO endpoint waited for a 50 ms look each time.)
        store.nextDueAt = async () => null;
        const appId = await app();
        await endpoint(appId, recv.url, { fifo: true });
        for (let n = 0; n < 8; n++) await publish(appId, n);
        await until(() => recv.seen.length === 8, 'the 8 deliveries, well before the idle poll', 4_000);
        assert.deepEqual(
          recv.seen.map((x) => x.n),
          [0, 1, 2, 3, 4, 5, 6, 7],
        );
        assert.equal(recv.maxInFlight, 1, 'one at a time');
      } finally {
        store.nextDueAt = nextDueAt;
        await recv.close();
      }
    });

    test('a failing head holds back only its key; its retry goes first, then the rest in order', async () => {
      const recv = await startKeyedReceiver();
      try {
        let failedOnce = false;
        recv.answer = (x) => {
          if (x.key === 'A' && x.seq === 1 && !failedOnce) {
            failedOnce = true;
            return { status: 500 };
          }
          return { status: 200 };
        };
        const appId = await app();
        await endpoint(appId, recv.url);
        await publish(appId, 1, 'A');
        await publish(appId, 2, 'A');
        await publish(appId, 3, 'A');
        await publish(appId, 4, 'B');
        await publish(appId, 5);
        await publish(appId, 6, 'B');
        await until(() => recv.seen.length === 4, 'A1 (failed), B1, B2 and the unkeyed one');
        // Once A1's failure is recorded, claims see it waiting for its retry (a minute away on
        // the test's clock): A2 and A3 must stay behind it.
        const attempts = async () =>
          (
            await server.call(
              'GET',
              `/api/v1/app/${appId}/attempt/endpoint/${(await firstEndpoint(appId)).id}`,
            )
          ).body.data.length as number;
        for (let i = 0; i < 500 && (await attempts()) < 4; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(await attempts(), 4);
        wake();
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(
          recv.seen.map((x) => [x.key, x.seq, x.status]).sort(byKeyThenSeq),
          [
            ['A', 1, 500],
            ['B', 1, 200],
            [null, null, 200],
            ['B', 2, 200],
          ].sort(byKeyThenSeq),
          'A2 and A3 wait for A1',
        );
        clock.advance(120_000); // past the retry, whatever its jitter
        wake();
        await until(() => recv.seen.length === 7, 'A1 again, A2, A3');
        await within(server.hookline.dispatcher!.drain(), 30_000, 'drain');
        assert.deepEqual(
          recv.seen.filter((x) => x.key === 'A').map((x) => [x.seq, x.status]),
          [
            [1, 500],
            [1, 200],
            [2, 200],
            [3, 200],
          ],
        );
        assert.equal(recv.maxInFlightPerKey.get('A'), 1);
      } finally {
        await recv.close();
      }
    });

    test('an exhausted head lets the next of its key go', async () => {
      const recv = await startKeyedReceiver();
      try {
        recv.answer = (x) => ({ status: x.key === 'A' && x.seq === 1 ? 500 : 200 });
        const appId = await app();
        await endpoint(appId, recv.url);
        await publish(appId, 1, 'A');
        await publish(appId, 2, 'A');
        await until(() => recv.seen.length === 1, 'A1');
        assert.deepEqual(
          recv.seen.map((x) => x.seq),
          [1],
        );
        // The receiver answers before Hookline records the attempt, and the retry is scheduled
        // from the clock at that moment: move the clock only once A1 is recorded as failed.
        const ep = (await firstEndpoint(appId)).id;
        const attempts = async () =>
          (await server.call('GET', `/api/v1/app/${appId}/attempt/endpoint/${ep}`)).body.data
            .length as number;
        for (let i = 0; i < 500 && (await attempts()) < 1; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(await attempts(), 1);
        // A2 is due but waits behind A1's retry: the queue's next time is the retry's, and the
        // dispatcher is idle until then (it neither polls for A2 nor keeps a drain waiting).
        const next = await server.hookline.store.nextDueAt();
        assert.ok(next !== null && next > clock.now() && next <= clock.now() + 120_000, `next due ${next}`);
        await within(server.hookline.dispatcher!.drain(), 5_000, 'drain while A2 waits for A1');
        clock.advance(120_000); // past the retry, whatever its jitter
        wake();
        // The retry fails too: the schedule is used up, A1 has failed for good and A2 goes.
        await until(() => recv.seen.length === 3, 'A1 again, then A2');
        await within(server.hookline.dispatcher!.drain(), 30_000, 'drain');
        assert.deepEqual(
          recv.seen.map((x) => [x.seq, x.status]),
          [
            [1, 500],
            [1, 500],
            [2, 200],
          ],
        );
      } finally {
        await recv.close();
      }
    });

    test('webhook-sequence counts 1, 2, ... per endpoint and key; resends keep their number; the API echoes the key', async () => {
      const all = await startReceiver();
      const onlyB = await startReceiver();
      try {
        const appId = await app();
        const e1 = await endpoint(appId, all.url, { svixHeaders: true });
        await endpoint(appId, onlyB.url, { filterTypes: ['t.b'] });
        const m1 = await publish(appId, 1, 'X', 't.a');
        assert.equal(m1.orderingKey, 'X', 'MessageOut echoes the key');
        const m2 = await publish(appId, 2, 'X', 't.b');
        await publish(appId, 3, 'X', 't.a');
        await publish(appId, 4, 'Y', 't.b');
        await publish(appId, 5, 'X', 't.b');
        const plain = await publish(appId, 6, undefined, 't.b');
        assert.equal('orderingKey' in plain, false, 'an unkeyed message looks as in Svix');
        await within(server.hookline.dispatcher!.drain(), 30_000, 'drain');
        const lines = (r: typeof all) =>
          r.requests.map((q) => {
            const h = headersOf(q);
            return [
              (JSON.parse(q.body.toString()) as { n: number }).n,
              h['webhook-ordering-key'] ?? null,
              h['webhook-sequence'] ?? null,
              h['svix-sequence'] ?? null,
            ];
          });
        const byN = (a: unknown[], b: unknown[]) => Number(a[0]) - Number(b[0]);
        assert.deepEqual(lines(all).sort(byN), [
          [1, 'X', '1', '1'],
          [2, 'X', '2', '2'],
          [3, 'X', '3', '3'],
          [4, 'Y', '1', '1'],
          [5, 'X', '4', '4'],
          [6, null, null, null],
        ]);
        assert.deepEqual(lines(onlyB).sort(byN), [
          [2, 'X', '1', null],
          [4, 'Y', '1', null],
          [5, 'X', '2', null],
          [6, null, null, null],
        ]);
        // The signature still covers id, timestamp and body only.
        const secret = (await server.call('GET', `/api/v1/app/${appId}/endpoint/${e1.id}/secret`)).body.key;
        for (const q of all.requests) new Webhook(secret).verify(q.body.toString(), headersOf(q));
        // Reading the message back shows the key.
        const got = await server.call('GET', `/api/v1/app/${appId}/msg/${m2.id}`);
        assert.equal(got.body.orderingKey, 'X');
        // A resend keeps the key and the number.
        const r = await server.call('POST', `/api/v1/app/${appId}/msg/${m2.id}/endpoint/${e1.id}/resend`);
        assert.equal(r.status, 202);
        await within(server.hookline.dispatcher!.drain(), 30_000, 'drain');
        const last = headersOf(all.requests.at(-1)!);
        assert.equal(last['webhook-id'], m2.id);
        assert.equal(last['webhook-ordering-key'], 'X');
        assert.equal(last['webhook-sequence'], '2');
      } finally {
        await all.close();
        await onlyB.close();
      }
    });

    test('messages an endpoint missed come back with their key and the next numbers of its line', async () => {
      const recv = await startReceiver();
      try {
        const appId = await app();
        const e = await endpoint(appId, recv.url, { disabled: true });
        const since = new Date(clock.now() - 1000).toISOString();
        await publish(appId, 1, 'R');
        await publish(appId, 2);
        await publish(appId, 3, 'R');
        const enabled = await server.call('PATCH', `/api/v1/app/${appId}/endpoint/${e.id}`, {
          disabled: false,
        });
        assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
        await publish(appId, 4, 'R');
        const r = await server.call('POST', `/api/v1/app/${appId}/endpoint/${e.id}/recover`, { since });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        await recv.waitFor(4);
        await within(server.hookline.dispatcher!.drain(), 30_000, 'drain');
        const got = recv.requests
          .map((q) => {
            const h = headersOf(q);
            return [(JSON.parse(q.body.toString()) as { n: number }).n, h['webhook-sequence'] ?? null];
          })
          .sort((a, b) => Number(a[0]) - Number(b[0]));
        // The one published after the endpoint came back took 1; the recovered ones follow.
        assert.deepEqual(got, [
          [1, '2'],
          [2, null],
          [3, '3'],
          [4, '1'],
        ]);
      } finally {
        await recv.close();
      }
    });

    test('a bad orderingKey is refused with a 422 naming it; the svix client still publishes and reads', async () => {
      const appId = await app();
      for (const bad of ['', 'x'.repeat(257), 'a\nb', ' padded ', 42, 'ü']) {
        const r = await server.call('POST', `/api/v1/app/${appId}/msg`, {
          eventType: 't.a',
          payload: {},
          orderingKey: bad,
        });
        assert.equal(r.status, 422, JSON.stringify(bad));
        // Svix's validation error shape: one entry per problem, with where it is.
        assert.deepEqual(r.body.detail[0].loc, ['body', 'orderingKey'], JSON.stringify(r.body));
      }
      assert.equal(
        (
          await server.call('POST', `/api/v1/app/${appId}/msg`, {
            eventType: 't.a',
            payload: {},
            orderingKey: 'k'.repeat(256),
          })
        ).status,
        202,
      );
      const svix = new Svix(server.token, { serverUrl: server.url });
      const m = await svix.message.create(appId, { eventType: 't.a', payload: { n: 1 } });
      assert.equal((await svix.message.get(appId, m.id)).eventType, 't.a');
    });

    async function firstEndpoint(appId: string): Promise<{ id: string }> {
      return (await server.call('GET', `/api/v1/app/${appId}/endpoint`)).body.data[0];
    }

    test('a FIFO endpoint whose head waits for its retry costs no claims until then', async () => {
      const recv = await startKeyedReceiver();
      const store = server.hookline.store;
      const claimDue = store.claimDue;
      try {
        let failedOnce = false;
        recv.answer = (x) => {
          if (x.n === 0 && !failedOnce) {
            failedOnce = true;
            return { status: 500 };
          }
          return { status: 200 };
        };
        const appId = await app();
        await endpoint(appId, recv.url, { fifo: true });
        for (let n = 0; n < 3; n++) await publish(appId, n);
        await until(() => recv.seen.length === 1, 'the head, failed');
        await until(() => server.hookline.dispatcher!.inFlight === 0, 'its failure recorded');
        // The head's retry is a minute away on the test's clock; the two behind it are due. Each
        // claim meanwhile would find nothing (one every 50 ms before: the due rows behind the head
        // made the next due time "now").
        let claims = 0;
        store.claimDue = (o) => {
          claims++;
          return claimDue.call(store, o);
        };
        await new Promise((r) => setTimeout(r, 1_000));
        assert.ok(claims <= 2, `${claims} claims in the second the head waited`);
        assert.equal(recv.seen.length, 1, 'nothing went behind the head');
        // Past the retry (a minute, +-20%); last in this suite, as each move of the clock puts the
        // later tests' timestamps further ahead of the receivers' clocks.
        clock.advance(75_000);
        wake();
        await until(() => recv.seen.length === 4, 'the head again, then the other two');
        assert.deepEqual(
          recv.seen.map((x) => [x.n, x.status]),
          [
            [0, 500],
            [0, 200],
            [1, 200],
            [2, 200],
          ],
        );
      } finally {
        store.claimDue = claimDue;
        await recv.close();
      }
    });
  });
}

/** Arrival order across keys is not fixed: compare the requests sorted. */
function byKeyThenSeq(a: unknown[], b: unknown[]): number {
  return String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1]);
}

suite('sqlite', async () => {
  const dir = tempDir();
  return { env: { HOOKLINE_DATABASE_URL: `sqlite:${dir}/hookline.db` } };
});

let db: TestDatabase | undefined;
suite(
  'postgres',
  async () => {
    db = await createTestDatabase('ordering');
    return {
      env: { HOOKLINE_DATABASE_URL: db.url, HOOKLINE_SECRET_KEY: PG_SECRET_KEY },
      cleanup: () => db!.drop(),
    };
  },
  await pgTestOptions(),
);

describe('Ordering keys with two dispatchers on one PostgreSQL database', await pgTestOptions(), () => {
  let pgdb: TestDatabase;
  let one: TestServer;
  let two: TestServer;
  before(async () => {
    pgdb = await createTestDatabase('ordering2');
    const env = { HOOKLINE_DATABASE_URL: pgdb.url, HOOKLINE_SECRET_KEY: PG_SECRET_KEY };
    one = await startHookline({ env });
    two = await startHookline({ env });
  });
  after(async () => {
    await one?.close();
    await two?.close();
    await pgdb?.drop();
  });

  test('never two of one key in flight, each key in publish order', async () => {
    const recv = await startKeyedReceiver();
    try {
      recv.answer = () => ({ status: 200, wait: 3 });
      const appId = (await one.call('POST', '/api/v1/app', { name: 'two' })).body.id as string;
      assert.equal((await one.call('POST', `/api/v1/app/${appId}/endpoint`, { url: recv.url })).status, 201);
      const keys = ['k1', 'k2', 'k3', 'k4'];
      const perKey = 8;
      let n = 0;
      for (let i = 0; i < perKey; i++)
        for (const key of keys) {
          // Both instances take messages; both dispatch.
          const via = n % 2 === 0 ? one : two;
          const r = await via.call('POST', `/api/v1/app/${appId}/msg`, {
            eventType: 'any',
            payload: { n: n++ },
            orderingKey: key,
          });
          assert.equal(r.status, 202, JSON.stringify(r.body));
        }
      await until(() => recv.seen.length === keys.length * perKey, 'every delivery', 30_000);
      for (const key of keys) {
        assert.deepEqual(
          seqsOf(recv.seen, key),
          Array.from({ length: perKey }, (_, i) => i + 1),
          `${key} in order`,
        );
        assert.equal(recv.maxInFlightPerKey.get(key), 1, `${key} one at a time`);
      }
    } finally {
      await recv.close();
    }
  });
});

/** The claim rules on each store directly, where the test decides every outcome and the time. */
for (const adapter of selectedAdapters()) {
  describe(`Ordering keys in the claim (${adapter.name})`, async () => {
    const options = adapter.name === 'postgres' ? await pgTestOptions() : {};
    const T0 = Date.parse('2026-03-01T00:00:00Z');
    let now = T0;
    const ids = createIdGenerator(() => now);
    let store: Store;
    let cleanup: () => Promise<void>;
    before(async () => {
      if (options.skip) return;
      ({ store, cleanup } = await adapter.open());
    });
    after(() => cleanup?.());

    const claim = (over: Partial<Parameters<Store['claimDue']>[0]> = {}) =>
      store
        .claimDue({ now, limit: 100, leaseMs: 30_000, perEndpoint: 100, skipEndpoints: [], ...over })
        .then((c) => c.deliveries);
    const attempt = (d: ClaimedDelivery, ok: boolean): Attempt => ({
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
    const finish = (d: ClaimedDelivery, next: DeliveryOutcome['next']) =>
      store.completeDeliveries(
        [{ deliveryId: d.id, leaseUntil: d.leaseUntil, attempt: attempt(d, false), next }],
        now,
      );
    const line = (ds: ClaimedDelivery[]) =>
      ds.map((d) => `${d.orderingKey ?? '-'}${d.sequence ?? ''}`).sort();

    test(
      'heads only, in sequence order; a resend keeps its number and waits for the one in flight',
      options,
      async () => {
        const appId = ids('app');
        await store.insertApp(testApp(appId, now));
        const e = testEndpoint(ids('endpoint'), appId, now);
        const fifo = testEndpoint(ids('endpoint'), appId, now, { fifo: true });
        await store.insertEndpoint(e);
        await store.insertEndpoint(fifo);
        const msgs: Message[] = [];
        const item = (orderingKey: string | null): IngestItem => {
          const it = testIngestItem(ids, appId, now, {
            eventType: 'x',
            ...(orderingKey ? { orderingKey } : {}),
          });
          msgs.push(it.message);
          return it;
        };
        // One batch holding several of one key: numbered in batch order.
        await store.ingest([item('a'), item('b'), item('a'), item(null), item('a')]);
        const first = await claim({ onlyEndpoints: [e.id] });
        assert.deepEqual(line(first), ['-', 'a1', 'b1'], 'the head of each key and the unkeyed one');
        assert.deepEqual(line(await claim({ onlyEndpoints: [e.id] })), [], 'nothing behind a head in flight');
        // The FIFO endpoint (same messages) still sends one at a time, whatever the keys.
        const f1 = await claim({ onlyEndpoints: [fifo.id] });
        assert.deepEqual(line(f1), ['a1']);
        const a1 = first.find((d) => d.orderingKey === 'a')!;
        // a1 fails and waits for its retry: a2 stays behind it, b goes on.
        await finish(a1, { kind: 'retry', at: now + 5_000 });
        assert.deepEqual(line(await claim({ onlyEndpoints: [e.id] })), []);
        now += 5_000;
        const retried = await claim({ onlyEndpoints: [e.id] });
        assert.deepEqual(line(retried), ['a1']);
        // It gives up: the next of its key goes.
        await finish(retried[0]!, { kind: 'fail' });
        const a2 = await claim({ onlyEndpoints: [e.id] });
        assert.deepEqual(line(a2), ['a2']);
        // A resend of the first a (number 1) while a2 is in flight: queued with its old number,
        // it waits for a2, then goes before a3.
        await store.resend(msgs[0]!, e.id, ids('delivery'), now);
        assert.deepEqual(line(await claim({ onlyEndpoints: [e.id] })), [], 'a2 is in flight');
        await store.completeDeliveries(
          [
            {
              deliveryId: a2[0]!.id,
              leaseUntil: a2[0]!.leaseUntil,
              attempt: attempt(a2[0]!, true),
              next: { kind: 'success' },
            },
          ],
          now,
        );
        const resent = await claim({ onlyEndpoints: [e.id] });
        assert.deepEqual(line(resent), ['a1']);
        assert.equal(resent[0]!.msgId, msgs[0]!.id);
        // Leases that run out (the resent a1's, and the first claim's unkeyed one and b1): claimable
        // again, each still alone in its line.
        now += 30_000;
        const again = await claim({ onlyEndpoints: [e.id] });
        assert.deepEqual(line(again), ['-', 'a1', 'b1']);
        await finish(again.find((d) => d.orderingKey === 'a')!, { kind: 'cancel' });
        assert.deepEqual(line(await claim({ onlyEndpoints: [e.id] })), ['a3']);
        // Live traffic and turns (no scope) follow the same rule.
        await store.ingest([item('b'), item('b')]);
        assert.deepEqual(line(await claim({ skipEndpoints: [fifo.id] })), [], 'b1 is still in flight');
      },
    );

    test(
      'a claim shared one each over endpoints passes over a keyed head that waits for its line',
      options,
      async () => {
        const appId = ids('app');
        await store.insertApp(testApp(appId, now));
        const [keyed, plain] = [
          testEndpoint(ids('endpoint'), appId, now),
          testEndpoint(ids('endpoint'), appId, now),
        ];
        for (const e of [keyed, plain]) await store.insertEndpoint(e);
        const to = (e: Endpoint, orderingKey?: string) =>
          testIngestItem(
            ids,
            appId,
            now,
            { eventType: 'x', ...(orderingKey ? { orderingKey } : {}) },
            { route: () => [e.id] },
          );
        await store.ingest([to(keyed, 'a')]);
        assert.deepEqual(line(await claim({ onlyEndpoints: [keyed.id] })), ['a1']);
        // Behind a1 (in flight): a2, the keyed endpoint's oldest due, then an unkeyed one; the plain
        // endpoint's two. All of it waited past the live window: the claim serves it by turns.
        now += 1;
        await store.ingest([to(keyed, 'a'), to(keyed), to(plain), to(plain)]);
        now += 10_000;
        const turns = await claim({ limit: 2, onlyEndpoints: [keyed.id, plain.id] });
        assert.deepEqual(
          turns.map((d) => `${d.endpointId === keyed.id ? 'keyed' : 'plain'} ${line([d])[0]}`).sort(),
          ['keyed -', 'plain -'],
          'one each, the keyed endpoint its unkeyed delivery',
        );
      },
    );
  });
}
