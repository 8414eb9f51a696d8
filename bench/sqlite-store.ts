/**
 * The SQLite store's share of a live delivery: `node bench/sqlite-store.ts [flags]`.
 *
 * What the server's store does for each message of the end-to-end phase, without HTTP: batches
 * of new 1 KB messages to one endpoint are ingested with the dispatcher's handoff (each delivery
 * leased in the ingest transaction, as a server with free slots does), then their outcomes are
 * recorded (success, the attempt logged) in one batch. Prints the CPU this process spent per
 * delivery in each half (user + system, `process.cpuUsage`) and the wall time: the part of the
 * server's CPU per delivery (`npm run bench`) that is SQLite's and the store's, which noise on a
 * shared machine moves far less than the end-to-end rates. Each round runs in a fresh file.
 *
 *   --rounds N     batches measured, after 100 batches of warm-up (default 600)
 *   --batch N      messages per batch (default 32: `npm run bench -- --only e2e` prints 35-41
 *                  messages per ingest commit and 23-26 outcomes per outcome commit in its
 *                  throughput phase, 2-3 at 1,000 msg/s; `--batch 4` costs about twice as much
 *                  a delivery)
 *   --sync MODE    FULL (default) or NORMAL, as HOOKLINE_SQLITE_SYNCHRONOUS
 *   --repeat N     runs, each on a new file (default 3)
 *   --schema FILE  SQL run on the migrated database before the run: to measure a schema change
 *                  (an index dropped, a table rebuilt) before writing its migration
 *   --claim        the deliveries wait in a queue and are claimed, as when one endpoint's slots
 *                  are all busy (the end-to-end phase, where the client publishes faster than
 *                  they deliver: most deliveries are claimed there): each batch is ingested
 *                  without the handoff behind a standing queue of `--queue` due deliveries, the
 *                  oldest batch's worth is claimed (limit 100, as the dispatcher asks) and their
 *                  outcomes recorded; prints the claim's CPU per delivery as a third part
 *   --queue N      with --claim, due deliveries standing in the queue (default 400)
 *   --drain N      instead: a backlog of N deliveries due a minute ago, spread round robin over
 *                  `--endpoints` endpoints (an outage's backlog, as `npm run bench -- --only
 *                  drain` loads it), claimed `--batch` at a time and their outcomes recorded until
 *                  it is gone; prints the claim's and the outcome's CPU per delivery
 *   --endpoints N  with --drain, endpoints the backlog is spread over (default 100)
 *   --json FILE    also write the medians as figures (`bench/compare.ts`; `node bench/ab.ts A B
 *                  --script sqlite-store.ts -- FLAGS` alternates two revisions under this script)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { createIdGenerator } from '../packages/server/src/core/ids.ts';
import type { DeliveryOutcome } from '../packages/server/src/core/outcome.ts';
import { createSecretBox } from '../packages/server/src/core/secret-box.ts';
import { createSqliteStore } from '../packages/server/src/store/sqlite/sqlite-store.ts';
import type { ClaimedDelivery, IngestHandoff, Store } from '../packages/server/src/store/store.ts';
import { testApp, testAttempt, testEndpoint, testIngestItem } from '../packages/server/test/stores.ts';
import { Results } from './figures.ts';
import { median, wholeNumber } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '600' },
    batch: { type: 'string', default: '32' },
    sync: { type: 'string', default: 'FULL' },
    repeat: { type: 'string', default: '3' },
    schema: { type: 'string' },
    claim: { type: 'boolean', default: false },
    queue: { type: 'string', default: '400' },
    drain: { type: 'string' },
    endpoints: { type: 'string', default: '100' },
    json: { type: 'string' },
  },
});
const DRAIN = args.drain === undefined ? null : wholeNumber('drain', args.drain);
const ENDPOINTS = wholeNumber('endpoints', args.endpoints!);
const CLAIM = args.claim === true;
const QUEUE = wholeNumber('queue', args.queue!);
const ROUNDS = wholeNumber('rounds', args.rounds!);
const BATCH = wholeNumber('batch', args.batch!);
const REPEAT = wholeNumber('repeat', args.repeat!);
const WARMUP = 100;
if (args.sync !== 'FULL' && args.sync !== 'NORMAL')
  throw new Error(`--sync takes FULL or NORMAL, not ${args.sync}`);
const SYNC = args.sync;
const SCHEMA = args.schema === undefined ? null : readFileSync(args.schema, 'utf8');
const PAYLOAD = JSON.stringify({ type: 'invoice.paid', data: 'x'.repeat(1000) });

/** This process's CPU so far (user + system), µs. */
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** A successful attempt's outcome for a delivery. */
const success = (
  ids: ReturnType<typeof createIdGenerator>,
  d: ClaimedDelivery,
  now: number,
): DeliveryOutcome => ({
  deliveryId: d.id,
  leaseUntil: d.leaseUntil,
  next: { kind: 'success' },
  attempt: testAttempt(ids('attempt'), d, now),
});

/** A claim as the dispatcher makes one: `limit` at most, `perEndpoint` leases an endpoint. */
const claimDue = (store: Store, now: number, limit: number, perEndpoint: number) =>
  store.claimDue({ now, limit, leaseMs: 30_000, leasePerEndpoint: true, perEndpoint, skipEndpoints: [] });

interface Figures {
  ingest: number;
  claim: number;
  complete: number;
  wall: number;
}

async function run(): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-sqlite-store-'));
  const path = join(dir, 'hookline.db');
  try {
    const open = () => createSqliteStore({ path, secretBox: createSecretBox('bench'), synchronous: SYNC });
    let store = open();
    await store.migrate();
    if (SCHEMA !== null) {
      await store.close();
      const db = new DatabaseSync(path);
      db.exec(SCHEMA);
      db.close();
      store = open();
    }
    let now = Date.now();
    const ids = createIdGenerator(() => now);
    const appId = ids('app');
    await store.insertApp(testApp(appId, now, { name: 'bench' }));
    if (DRAIN !== null) return await drain(store, ids, appId, now);
    await store.insertEndpoint(testEndpoint(ids('endpoint'), appId, now));
    let taken: ClaimedDelivery[] = [];
    const handoff: IngestHandoff = {
      leaseMs: 30_000,
      perEndpoint: 64,
      take: () => true,
      taken: (d) => taken.push(...d),
      untake: () => {},
    };
    const item = () => testIngestItem(ids, appId, now, { payload: PAYLOAD });
    const spent = { ingest: 0, claim: 0, complete: 0 };
    /** Claims the oldest `n` due deliveries, as the dispatcher asks (limit 100, one endpoint). */
    const claim = async (n: number) => {
      const got = await claimDue(store, now, 100, n);
      if (got.deliveries.length !== n) throw new Error(`claimed ${got.deliveries.length} of ${n}`);
      return got.deliveries;
    };
    // The standing queue the claims take from (due 1 ms apart, the oldest first).
    if (CLAIM)
      for (let i = 0; i < QUEUE; i += BATCH) {
        now += 1;
        await store.ingest(Array.from({ length: Math.min(BATCH, QUEUE - i) }, item));
      }
    const round = async (measure: boolean) => {
      now += 3;
      taken = [];
      const c0 = cpu();
      await store.ingest(Array.from({ length: BATCH }, item), CLAIM ? null : handoff);
      const c1 = cpu();
      if (CLAIM) taken = await claim(BATCH);
      const c2 = cpu();
      if (taken.length !== BATCH) throw new Error(`handed off or claimed ${taken.length} of ${BATCH}`);
      await store.completeDeliveries(
        taken.map((d) => success(ids, d, now)),
        now,
      );
      const c3 = cpu();
      if (measure) {
        spent.ingest += c1 - c0;
        spent.claim += c2 - c1;
        spent.complete += c3 - c2;
      }
    };
    for (let i = 0; i < WARMUP; i++) await round(false);
    const t0 = performance.now();
    for (let i = 0; i < ROUNDS; i++) await round(true);
    const wall = performance.now() - t0;
    const stats = await store.queueStats(now, []);
    await store.close();
    const left = CLAIM ? QUEUE : 0;
    if (stats.pending !== left) throw new Error(`${stats.pending} deliveries left pending, not ${left}`);
    const n = ROUNDS * BATCH;
    return {
      ingest: spent.ingest / n,
      claim: spent.claim / n,
      complete: spent.complete / n,
      wall: (wall * 1000) / n,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `--drain`: a backlog of DRAIN deliveries due a minute ago over ENDPOINTS endpoints, claimed
 * BATCH at a time (as the dispatcher asks when that many slots freed) and recorded until it is
 * gone. The claims' and outcomes' CPU per delivery.
 */
async function drain(
  store: Store,
  ids: ReturnType<typeof createIdGenerator>,
  appId: string,
  now: number,
): Promise<Figures> {
  const endpointIds = Array.from({ length: ENDPOINTS }, () => ids('endpoint'));
  for (const id of endpointIds) await store.insertEndpoint(testEndpoint(id, appId, now));
  const due = now - 60_000;
  for (let i = 0; i < DRAIN!; i += 500) {
    const n = Math.min(500, DRAIN! - i);
    await store.ingest(
      Array.from({ length: n }, (_, k) =>
        testIngestItem(
          ids,
          appId,
          due,
          { payload: PAYLOAD },
          { route: () => [endpointIds[(i + k) % ENDPOINTS]!] },
        ),
      ),
    );
  }
  const spent = { claim: 0, complete: 0 };
  let delivered = 0;
  const t0 = performance.now();
  while (delivered < DRAIN!) {
    now += 2;
    const c0 = cpu();
    const { deliveries } = await claimDue(store, now, BATCH, 64);
    const c1 = cpu();
    if (deliveries.length === 0) throw new Error(`the claim found nothing with ${DRAIN! - delivered} left`);
    await store.completeDeliveries(
      deliveries.map((d) => success(ids, d, now)),
      now,
    );
    spent.claim += c1 - c0;
    spent.complete += cpu() - c1;
    delivered += deliveries.length;
  }
  const wall = performance.now() - t0;
  await store.close();
  return {
    ingest: 0,
    claim: spent.claim / DRAIN!,
    complete: spent.complete / DRAIN!,
    wall: (wall * 1000) / DRAIN!,
  };
}

console.log(
  DRAIN !== null
    ? `SQLite store, ${SYNC}: a backlog of ${DRAIN} due deliveries over ${ENDPOINTS} endpoints per run, claimed ${BATCH} at a time + outcomes recorded${SCHEMA !== null ? `, schema changed by ${args.schema}` : ''}`
    : `SQLite store, ${SYNC}: ${ROUNDS} batches of ${BATCH} messages to 1 endpoint per run (after ${WARMUP} of warm-up), ${CLAIM ? `ingest behind a queue of ${QUEUE} due + claim` : 'ingest with handoff'} + outcomes recorded${SCHEMA !== null ? `, schema changed by ${args.schema}` : ''}`,
);
const total = (f: Figures) => f.ingest + f.claim + f.complete;
const parts = (f: (k: keyof Figures) => number) =>
  `${DRAIN !== null ? '' : `ingest ${f('ingest').toFixed(1)}, `}${CLAIM || DRAIN !== null ? `claim ${f('claim').toFixed(1)}, ` : ''}outcome ${f('complete').toFixed(1)}`;
const all: Figures[] = [];
for (let i = 0; i < REPEAT; i++) {
  const f = await run();
  all.push(f);
  console.log(
    `  run ${i + 1}: CPU per delivery ${total(f).toFixed(1)} µs (${parts((k) => f[k])}), wall ${f.wall.toFixed(1)} µs`,
  );
}
console.log(
  `  median: CPU per delivery ${median(all.map(total)).toFixed(1)} µs (${parts((k) => median(all.map((f) => f[k])))})`,
);
if (args.json !== undefined) {
  const results = new Results();
  const part = (key: keyof Figures, label: string) =>
    results.other(
      `store.${key}`,
      `SQLite store: ${label}, CPU per delivery`,
      median(all.map((f) => f[key])),
      'µs',
      'lower',
    );
  results.other('store.cpu', 'SQLite store: CPU per delivery', median(all.map(total)), 'µs', 'lower');
  if (DRAIN === null) part('ingest', 'ingest');
  if (CLAIM || DRAIN !== null) part('claim', 'claim');
  part('complete', 'outcome');
  results.write(
    args.json,
    `node bench/sqlite-store.ts ${process.argv.slice(2).join(' ')}`,
    performance.now() / 1000,
  );
}
