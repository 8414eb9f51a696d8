/**
 * Live traffic without a claim (IngestHandoff): in a process that serves the API and delivers,
 * a new delivery to a plain endpoint is leased to the dispatcher in the ingest transaction and
 * sent right after the commit, on both stores (on PostgreSQL within the limit claims keep across
 * processes: pg-ingest.test.ts). These tests count what the claims return to show which path
 * each delivery took, and hold the handed-off deliveries to the same guarantees as claimed ones.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createIdGenerator } from '../src/core/ids.ts';
import { headersOf, startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';
import { testIngestItem } from './stores.ts';

/** Counts what the dispatcher's claims bring back. */
function countClaims(server: TestServer): { deliveries: number } {
  const store = server.hookline.store;
  const counted = { deliveries: 0 };
  const claimDue = store.claimDue.bind(store);
  store.claimDue = async (o) => {
    const got = await claimDue(o);
    counted.deliveries += got.deliveries.length;
    return got;
  };
  return counted;
}

async function makeEndpoint(server: TestServer, app: string, body: Record<string, unknown>) {
  const res = await server.call('POST', `/api/v1/app/${app}/endpoint`, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const secret = await server.call('GET', `/api/v1/app/${app}/endpoint/${res.body.id}/secret`);
  return { id: res.body.id as string, secret: secret.body.key as string };
}

function handedOverSuite(kind: TestStoreKind): void {
  let server: TestServer;
  let recv: TestReceiver;
  let db: Awaited<ReturnType<TestStoreKind['open']>>;
  before(async () => {
    db = await kind.open('handoff');
    server = await startHookline({ env: db.env });
    recv = await startReceiver();
    assert.equal((await server.call('POST', '/api/v1/app', { name: 'Handoff', uid: 'h' })).status, 201);
  });
  after(async () => {
    await server.close();
    await recv.close();
    await db.drop();
  });

  test('live messages to a plain endpoint go out without a claim, signed, and are recorded', async () => {
    const claims = countClaims(server);
    const ep = await makeEndpoint(server, 'h', { url: `${recv.url}/plain` });
    const before = recv.requests.length;
    const publish = (i: number) =>
      server.call('POST', '/api/v1/app/h/msg', { eventType: 'order.paid', payload: { i } });
    // On PostgreSQL one after the other: two ingest statements at once for one endpoint would
    // meet on its claim lock, and the second's deliveries would wait for a claim (by design).
    const sent =
      kind.name === 'sqlite' ? await Promise.all(Array.from({ length: 40 }, (_, i) => publish(i))) : [];
    for (let i = 0; kind.name !== 'sqlite' && i < 40; i++) sent.push(await publish(i));
    for (const r of sent) assert.equal(r.status, 202);
    await recv.waitFor(before + 40);
    await server.hookline.dispatcher!.drain();
    const got = recv.requests.slice(before);
    const wh = new Webhook(ep.secret);
    const ids = new Set(got.map((r) => (wh.verify(r.body.toString(), headersOf(r)) as { i: number }).i));
    assert.equal(ids.size, 40);
    assert.equal(claims.deliveries, 0, 'every delivery was handed over, none claimed');
    for (const r of sent) {
      const attempts = await server.call('GET', `/api/v1/app/h/attempt/msg/${r.body.id}`);
      assert.equal(attempts.body.data.length, 1);
      assert.equal(attempts.body.data[0].status, 0);
    }
    const stats = await server.call('GET', `/api/v1/app/h/endpoint/${ep.id}/stats`);
    assert.equal(stats.body.success, 40);
    assert.equal(stats.body.sending, 0);
  });

  test('FIFO and rate-limited endpoints, and deliveries scheduled for later, wait for a claim', async () => {
    assert.equal((await server.call('POST', '/api/v1/app', { name: 'Claimed', uid: 'h2' })).status, 201);
    const claims = countClaims(server);
    for (const name of ['fifo.e', 'rate.e', 'later.e'])
      assert.equal(
        (await server.call('POST', '/api/v1/event-type', { name, description: name })).status,
        201,
      );
    await makeEndpoint(server, 'h2', { url: `${recv.url}/fifo`, fifo: true, filterTypes: ['fifo.e'] });
    await makeEndpoint(server, 'h2', { url: `${recv.url}/later`, filterTypes: ['later.e'] });
    await makeEndpoint(server, 'h2', {
      url: `${recv.url}/slow`,
      rateLimit: 1000,
      filterTypes: ['rate.e'],
    });
    const before = recv.requests.length;
    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await server.call('POST', '/api/v1/app/h2/msg', { eventType: 'fifo.e', payload: { i } })).status,
        202,
      );
      assert.equal(
        (await server.call('POST', '/api/v1/app/h2/msg', { eventType: 'rate.e', payload: { i } })).status,
        202,
      );
    }
    const later = await server.call('POST', '/api/v1/app/h2/msg', {
      eventType: 'later.e',
      payload: { later: true },
      deliverAt: new Date(Date.now() + 800).toISOString(),
    });
    assert.equal(later.status, 202);
    await recv.waitFor(before + 7);
    await server.hookline.dispatcher!.drain();
    assert.equal(claims.deliveries, 7);
    const fifo = recv.requests.slice(before).filter((r) => r.url === '/fifo');
    assert.deepEqual(
      fifo.map((r) => JSON.parse(r.body.toString()).i),
      [0, 1, 2],
    );
  });

  test('due work a claim left behind goes out while a steady stream of deliveries runs beside it', async () => {
    assert.equal((await server.call('POST', '/api/v1/app', { name: 'Beside', uid: 'b' })).status, 201);
    for (const name of ['backlog.e', 'live.e'])
      assert.equal(
        (await server.call('POST', '/api/v1/event-type', { name, description: name })).status,
        201,
      );
    // A FIFO endpoint's deliveries always wait for a claim; the plain one's are handed over.
    const backlog = await makeEndpoint(server, 'b', {
      url: `${recv.url}/backlog`,
      fifo: true,
      filterTypes: ['backlog.e'],
    });
    await makeEndpoint(server, 'b', { url: `${recv.url}/live`, filterTypes: ['live.e'] });
    // The first claim after the backlog message leaves it behind (as a claim does when another
    // worker is leasing those rows, or when its scan stops short) and says, as such a claim does,
    // that what it left waits for something it cannot time: the dispatcher is told nothing new,
    // and only its own look again after a short while finds the delivery.
    const store = server.hookline.store;
    const claimDue = store.claimDue.bind(store);
    let hide = true;
    let hidden = 0;
    store.claimDue = async (o) => {
      if (!hide) return claimDue(o);
      hide = false;
      hidden++;
      const claim = await claimDue({ ...o, skipEndpoints: [...o.skipEndpoints, backlog.id] });
      return { ...claim, blockedUntil: o.now };
    };
    const queued = await server.call('POST', '/api/v1/app/b/msg', { eventType: 'backlog.e', payload: {} });
    assert.equal(queued.status, 202);
    // Live traffic beside it: a message every 10 ms for 1.5 s, each delivered and recorded.
    let liveSent = 0;
    let backlogAtLive = -1;
    const end = Date.now() + 1500;
    while (Date.now() < end) {
      const r = await server.call('POST', '/api/v1/app/b/msg', {
        eventType: 'live.e',
        payload: { i: liveSent },
      });
      assert.equal(r.status, 202);
      liveSent++;
      if (backlogAtLive < 0 && recv.requests.some((q) => q.url === '/backlog')) backlogAtLive = liveSent;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(hidden, 1, 'one claim left the backlog behind');
    assert.ok(liveSent > 20, `the stream ran (${liveSent} live messages)`);
    // Before the fix the timer was pushed back by every delivery that finished, so the backlog
    // waited until the stream stopped.
    assert.ok(
      backlogAtLive > 0 && backlogAtLive < liveSent,
      `the backlog delivery went out while the stream ran (after live message ${backlogAtLive} of ${liveSent})`,
    );
    await server.hookline.dispatcher!.drain();
    store.claimDue = claimDue;
    assert.equal(recv.requests.filter((q) => q.url === '/backlog').length, 1);
    assert.equal(recv.requests.filter((q) => q.url === '/live').length, liveSent);
  });
}

for (const kind of await testStores()) {
  describe(`new deliveries handed to the dispatcher at commit (${kind.name})`, kind.options, () =>
    handedOverSuite(kind),
  );
}

function sharedLimitSuite(kind: TestStoreKind): void {
  let server: TestServer;
  let db: Awaited<ReturnType<TestStoreKind['open']>>;
  let slow: Server;
  let url = '';
  let open = 0;
  let most = 0;
  let served = 0;
  before(async () => {
    slow = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        open++;
        most = Math.max(most, open);
        setTimeout(() => {
          open--;
          served++;
          res.end('ok');
        }, 25);
      });
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    db = await kind.open('handoff_limit');
    server = await startHookline({
      env: { HOOKLINE_ENDPOINT_CONCURRENCY: '3', HOOKLINE_ADAPTIVE_CONCURRENCY: 'false', ...db.env },
    });
    await server.call('POST', '/api/v1/app', { name: 'Limit', uid: 'l' });
  });
  after(async () => {
    await server.close();
    slow.closeAllConnections();
    await new Promise<void>((r) => slow.close(() => r()));
    await db.drop();
  });

  test('a burst larger than the limit: at most the limit in flight, every message delivered once', async () => {
    const claims = countClaims(server);
    await makeEndpoint(server, 'l', { url });
    const sent = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        server.call('POST', '/api/v1/app/l/msg', { eventType: 'burst', payload: { i } }),
      ),
    );
    for (const r of sent) assert.equal(r.status, 202);
    const deadline = Date.now() + 20_000;
    while (served < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await server.hookline.dispatcher!.drain();
    assert.equal(served, 30);
    assert.ok(most <= 3, `at most 3 requests in flight to the endpoint, saw ${most}`);
    // The first few were handed over at commit; the rest queued behind the limit and were claimed.
    assert.ok(claims.deliveries > 0 && claims.deliveries < 30, `claimed ${claims.deliveries} of 30`);
  });
}

for (const kind of await testStores()) {
  describe(
    `handed-off and claimed deliveries share the per-endpoint limit (${kind.name})`,
    kind.options,
    () => sharedLimitSuite(kind),
  );
}

/**
 * A receiver that holds every request while `holding` is set (its answer waits in `release`),
 * answering 200; `served` counts the answers and `bodies` keeps what each answered request sent.
 */
interface HeldReceiver {
  url: string;
  holding: boolean;
  readonly release: (() => void)[];
  served: number;
  readonly bodies: Buffer[];
  /** Stops holding and answers every request held. */
  releaseAll(): void;
  close(): Promise<void>;
}

async function startHeldReceiver(holding: boolean): Promise<HeldReceiver> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = () => {
        held.served++;
        held.bodies.push(Buffer.concat(chunks));
        res.end('ok');
      };
      if (held.holding) held.release.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const held: HeldReceiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    holding,
    release: [],
    served: 0,
    bodies: [],
    releaseAll() {
      held.holding = false;
      for (const r of held.release.splice(0)) r();
    },
    async close() {
      held.releaseAll();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return held;
}

function heldEndpointSuite(kind: TestStoreKind): void {
  let server: TestServer;
  let db: Awaited<ReturnType<TestStoreKind['open']>>;
  let held: HeldReceiver;
  before(async () => {
    held = await startHeldReceiver(false);
    db = await kind.open('handoff_held');
    server = await startHookline({
      env: { HOOKLINE_ENDPOINT_CONCURRENCY: '3', HOOKLINE_ADAPTIVE_CONCURRENCY: 'false', ...db.env },
    });
    await server.call('POST', '/api/v1/app', { name: 'Held', uid: 'busy' });
  });
  after(async () => {
    await server.close();
    await held.close();
    await db.drop();
  });

  test('the new delivery waits for a free slot instead of a claim at each message; none is lost', async () => {
    const store = server.hookline.store;
    let calls = 0;
    let claimed = 0;
    const claimDue = store.claimDue.bind(store);
    store.claimDue = async (o) => {
      calls++;
      const got = await claimDue(o);
      claimed += got.deliveries.length;
      return got;
    };
    await makeEndpoint(server, 'busy', { url: held.url });
    held.holding = true;
    const publish = async (i: number) =>
      assert.equal(
        (await server.call('POST', '/api/v1/app/busy/msg', { eventType: 'held', payload: { i } })).status,
        202,
      );
    // Limit 3: the first three are handed over at commit and held by the receiver; the next two
    // are claimed (the endpoint is claimed for while its hand holds at most one and a half times
    // its limit, 4) and wait in hand; from then on the endpoint is at its limit here, and a claim
    // would skip it.
    for (let i = 0; i < 5; i++) await publish(i);
    const deadline = Date.now() + 10_000;
    while ((held.release.length < 3 || claimed < 2) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(held.release.length, 3, 'three requests held at the receiver');
    assert.equal(claimed, 2, 'two claimed to wait in hand');
    await new Promise((r) => setTimeout(r, 100));
    // More messages for that endpoint: no claim until a slot frees (there is nothing else due).
    const before = calls;
    for (let i = 5; i < 8; i++) await publish(i);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(calls - before, 0, 'no claim while the endpoint is at its limit here');
    held.releaseAll();
    const until = Date.now() + 10_000;
    while (held.served < 8 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await server.hookline.dispatcher!.drain();
    assert.deepEqual(
      held.bodies.map((b) => (JSON.parse(b.toString()) as { i: number }).i).sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
  });
}

for (const kind of await testStores()) {
  describe(
    `a dispatcher holding all it may of an endpoint does not claim for it on new work (${kind.name})`,
    kind.options,
    () => heldEndpointSuite(kind),
  );
}

function liveReserveSuite(kind: TestStoreKind): void {
  let server: TestServer;
  let recv: TestReceiver;
  let db: Awaited<ReturnType<TestStoreKind['open']>>;
  let held: HeldReceiver;
  before(async () => {
    held = await startHeldReceiver(true);
    recv = await startReceiver();
    db = await kind.open('handoff_reserve');
    // 16 slots in the process: claims fill 14 of them, and 2 stay for live traffic.
    server = await startHookline({
      env: {
        HOOKLINE_CONCURRENCY: '16',
        HOOKLINE_ENDPOINT_CONCURRENCY: '2',
        HOOKLINE_ADAPTIVE_CONCURRENCY: 'false',
        ...db.env,
      },
    });
  });
  after(async () => {
    held.releaseAll();
    await server.close();
    await recv.close();
    await held.close();
    await db.drop();
  });

  test('a backlog over many endpoints leaves slots for a new message to another endpoint', async () => {
    const app = await server.call('POST', '/api/v1/app', { name: 'Backlog', uid: 'backlog' });
    assert.equal(app.status, 201);
    for (let i = 0; i < 10; i++) await makeEndpoint(server, 'backlog', { url: `${held.url}/b${i}` });
    assert.equal((await server.call('POST', '/api/v1/app', { name: 'Live', uid: 'live' })).status, 201);
    await makeEndpoint(server, 'live', { url: `${recv.url}/live` });
    // Due deliveries written while no one delivered them (an endpoint back after an outage): 20
    // messages to the 10 endpoints, claimed as the receiver holds every request it gets.
    const ids = createIdGenerator();
    const now = Date.now();
    await server.hookline.store.ingest(
      Array.from({ length: 20 }, () => testIngestItem(ids, app.body.id as string, now)),
    );
    server.hookline.dispatcher!.wake();
    // The claims stop at 14 in flight and in hand (2 in flight and 2 in hand an endpoint at
    // most): the process's 16 less its reserve.
    let seen = -1;
    const deadline = Date.now() + 10_000;
    while (held.release.length !== seen && Date.now() < deadline) {
      seen = held.release.length;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(held.release.length >= 7 && held.release.length <= 14, `${held.release.length} requests held`);
    assert.equal(held.served, 0);
    // A new message to another application's endpoint is sent at once, the backlog still held.
    const before = recv.requests.length;
    const live = await server.call('POST', '/api/v1/app/live/msg', { eventType: 'live', payload: { n: 1 } });
    assert.equal(live.status, 202);
    await recv.waitFor(before + 1, 5_000);
    assert.equal(held.served, 0, 'the backlog was still held when the new message arrived');
    // Released, the backlog goes out whole, each delivery once.
    held.releaseAll();
    const until = Date.now() + 20_000;
    while (held.served < 200 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await server.hookline.dispatcher!.drain();
    assert.equal(held.served, 200);
    assert.equal(recv.requests.length, before + 1);
  });
}

for (const kind of await testStores()) {
  describe(`claims leave part of the process's slots for live traffic (${kind.name})`, kind.options, () =>
    liveReserveSuite(kind),
  );
}
