/**
 * Scale-out on PostgreSQL: 2 API processes and 3 worker processes (`hookline serve --role ...`
 * as child processes) share one database. 20,000 messages go in through both APIs; one worker
 * is killed with SIGKILL mid-run and a new one started. Every accepted message must reach the
 * receiver. Duplicates are counted: they can only come from deliveries the killed worker had
 * sent but not yet recorded, so they are bounded by the endpoint's in-flight limit, which holds
 * across all workers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pool } from 'undici';
import { ADMIN_TOKEN, type HooklineChild, spawnHookline } from './child.ts';
import { startReceiver } from './helpers.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions } from './pg.ts';

const MESSAGES = Number(process.env.HOOKLINE_SCALE_MESSAGES ?? 20_000);
const PUBLISHERS = 16;
const ENDPOINT_CONCURRENCY = 32;
/** Live leases one endpoint may have across every worker (the dispatcher's prefetch). */
const IN_FLIGHT_LIMIT = ENDPOINT_CONCURRENCY * 2;

test('2 APIs + 3 workers on one database: 20,000 messages, a worker killed, none lost', {
  ...(await pgTestOptions()),
  timeout: 300_000,
}, async (t) => {
  const db = await createTestDatabase('scale');
  const receiver = await startReceiver();
  // A little latency, so deliveries are in flight when the worker dies.
  receiver.fallback = { status: 200, body: 'ok', delayMs: 5 };
  const children: HooklineChild[] = [];
  t.after(async () => {
    for (const c of children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.signal('SIGKILL');
        await c.exited;
      }
    }
    await receiver.close();
    await db.drop();
  });
  const env = (role: string) => ({
    HOOKLINE_DATABASE_URL: db.url,
    HOOKLINE_SECRET_KEY: PG_SECRET_KEY,
    HOOKLINE_ROLE: role,
    HOOKLINE_LOG_LEVEL: 'warn',
    HOOKLINE_CONCURRENCY: '64',
    HOOKLINE_ENDPOINT_CONCURRENCY: String(ENDPOINT_CONCURRENCY),
    // Lease = 2 x 1 s + 10 s: what the killed worker held comes back after 12 s.
    HOOKLINE_DELIVERY_TIMEOUT: '1',
    HOOKLINE_DATABASE_POOL_SIZE: '4',
  });
  const spawn = async (role: string) => {
    const c = await spawnHookline({ env: env(role) });
    children.push(c);
    return c;
  };
  // All five start (and migrate) at once.
  const [api1, api2, ...workers] = await Promise.all([
    spawn('api'),
    spawn('api'),
    spawn('worker'),
    spawn('worker'),
    spawn('worker'),
  ]);

  const app = await api1!.call('POST', '/api/v1/app', { name: 'Scale', uid: 'scale' });
  assert.equal(app.status, 201, JSON.stringify(app.body));
  const ep = await api2!.call('POST', '/api/v1/app/scale/endpoint', { url: `${receiver.url}/hook` });
  assert.equal(ep.status, 201, JSON.stringify(ep.body));

  const received = new Map<string, number>();
  let killedAt = -1;
  let replacement: Promise<HooklineChild> | null = null;
  const countReceived = () => {
    for (let i = countReceived.seen; i < receiver.requests.length; i++) {
      const id = String(receiver.requests[i]!.headers['webhook-id']);
      received.set(id, (received.get(id) ?? 0) + 1);
    }
    countReceived.seen = receiver.requests.length;
  };
  countReceived.seen = 0;

  const accepted = new Set<string>();
  const pools = [api1!, api2!].map((c) => new Pool(c.url, { connections: PUBLISHERS / 2, pipelining: 1 }));
  let next = 0;
  const started = Date.now();
  const publisher = async (k: number) => {
    const pool = pools[k % 2]!;
    while (next < MESSAGES) {
      const i = next++;
      const res = await pool.request({
        method: 'POST',
        path: '/api/v1/app/scale/msg',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ eventType: 'scale.test', payload: { i } }),
      });
      const body = (await res.body.json()) as { id: string };
      assert.equal(res.statusCode, 202, JSON.stringify(body));
      accepted.add(body.id);
      // Mid-run: kill a worker with deliveries in flight and start another.
      if (killedAt < 0 && receiver.requests.length >= MESSAGES / 4) {
        killedAt = receiver.requests.length;
        workers[0]!.signal('SIGKILL');
        replacement = spawn('worker');
      }
    }
  };
  await Promise.all(Array.from({ length: PUBLISHERS }, (_, k) => publisher(k)));
  const ingestSeconds = (Date.now() - started) / 1000;
  for (const p of pools) await p.close();
  assert.ok(replacement, 'a worker was killed mid-run');
  await replacement;
  assert.equal(await workers[0]!.exited, 'SIGKILL');

  const deadline = Date.now() + 120_000;
  for (;;) {
    countReceived();
    if (received.size >= accepted.size && [...accepted].every((id) => received.has(id))) break;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const totalSeconds = (Date.now() - started) / 1000;
  const missing = [...accepted].filter((id) => !received.has(id));
  const duplicates = [...received.values()].reduce((n, c) => n + c - 1, 0);
  t.diagnostic(
    `${accepted.size} accepted in ${ingestSeconds.toFixed(1)} s through 2 APIs; all delivered after ${totalSeconds.toFixed(1)} s by 3 workers (+1 replacement); worker killed after ${killedAt} deliveries; ${receiver.requests.length} requests, ${duplicates} duplicates (bound ${IN_FLIGHT_LIMIT})`,
  );
  assert.equal(accepted.size, MESSAGES);
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} accepted messages never delivered`);
  assert.ok(duplicates <= IN_FLIGHT_LIMIT, `${duplicates} duplicates exceed the in-flight bound`);
  // The last outcomes are recorded a moment after the receiver answered.
  let stats = await api1!.call('GET', `/api/v1/app/scale/endpoint/${ep.body.id}/stats`);
  while (stats.body.success < MESSAGES && Date.now() < deadline + 30_000) {
    await new Promise((r) => setTimeout(r, 200));
    stats = await api1!.call('GET', `/api/v1/app/scale/endpoint/${ep.body.id}/stats`);
  }
  assert.equal(stats.status, 200);
  assert.equal(stats.body.success, MESSAGES, JSON.stringify(stats.body));
});
