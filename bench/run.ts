/**
 * Hookline benchmark: `npm run bench` (or `node bench/run.ts [--quick] [--cpu-prof]`).
 *
 * Three processes on one machine: this one (the undici load client), a `node:http` receiver,
 * and Hookline started like `npm start` on a temp SQLite file. Measures, in one run:
 *   1. the raw loopback ceiling (undici -> node:http, 1 KB JSON),
 *   2. durable ingest (202s per second), API only and with delivery running, FULL and NORMAL,
 *   3. delivery of a backlog (worker only on the receiver side of the ingest-only runs),
 *   4. end to end (publish N, all N delivered),
 *   5. publish -> delivery latency at a steady moderate rate,
 *   6. inbound gateway: GitHub-signed requests to /in/{source} acknowledged per second, and the
 *      request -> 2xx latency at a steady rate (verify, dedupe, durable write, then answer),
 * and prints each Hookline rate as a share of the ceiling. Every loop is bounded by a count and
 * a time cap.
 *
 *   --quick        smaller counts (about 30 s)
 *   --cpu-prof     run Hookline under `node --cpu-prof`; profiles land in $TMPDIR/hookline-bench-profiles
 *                  (summarize one with `node bench/profile-summary.ts <file>`)
 *   --store postgres       PostgreSQL mode: one API process and 1, then 3, worker processes on a
 *                          fresh database (HOOKLINE_TEST_PG_URL, default the local server);
 *                          ingest/s, deliveries/s and latency, next to the same raw ceiling
 *   --concurrency N        client concurrency (default 64)
 *   --latency-rate N       messages/s for the latency phase (default 500)
 */
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sign } from '@hookline/receiver';
import { Pool } from 'undici';
import { spawnHookline } from '../packages/server/test/child.ts';
import { createTestDatabase, PG_SECRET_KEY, type TestDatabase } from '../packages/server/test/pg.ts';
import {
  ADMIN_TOKEN,
  closedLoop,
  fmtMs,
  fmtPct,
  fmtRate,
  type HooklineProc,
  now,
  openLoop,
  payloadOf,
  percentile,
  type ReceiverProc,
  removeDir,
  startHookline,
  startReceiverProcess,
  tempDir,
} from './lib.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '64' },
    'latency-rate': { type: 'string', default: '500' },
    store: { type: 'string', default: 'sqlite' },
  },
});
if (args.store !== 'sqlite' && args.store !== 'postgres') {
  console.error('bench: --store must be sqlite or postgres');
  process.exit(2);
}

const QUICK = args.quick;
const C = Number(args.concurrency);
const CEILING_COUNT = QUICK ? 5_000 : 20_000;
const INGEST_COUNT = QUICK ? 2_000 : 10_000;
const WARMUP = QUICK ? 300 : 1_000;
const LATENCY_RATE = Number(args['latency-rate']);
const LATENCY_SECONDS = QUICK ? 2 : 5;
const LOOP_CAP_MS = QUICK ? 10_000 : 30_000;
const DELIVERY_CAP_MS = QUICK ? 20_000 : 60_000;
const PROFILE_DIR = join(tmpdir(), 'hookline-bench-profiles');

const PAYLOAD = payloadOf(1024);
const CEILING_BODY = JSON.stringify(PAYLOAD);

type Sync = 'FULL' | 'NORMAL';

interface Row {
  what: string;
  value: string;
  ratio: string;
}
const rows: Row[] = [];
let ceiling = Number.NaN;

function report(what: string, rate: number, explain: string): void {
  const ratio = rate / ceiling;
  rows.push({ what, value: `${fmtRate(rate)}/s`, ratio: Number.isFinite(ratio) ? fmtPct(ratio) : '' });
  console.log(
    `  ${what}: ${fmtRate(rate)}/s${Number.isFinite(ratio) ? ` (${fmtPct(ratio)} of ceiling)` : ''}`,
  );
  console.log(`    ${explain}`);
}

// ---- bookkeeping so that a failure still stops what we started --------------------------------
const started: {
  hooklines: HooklineProc[];
  dirs: string[];
  databases: TestDatabase[];
  receiver: ReceiverProc | null;
} = {
  hooklines: [],
  dirs: [],
  databases: [],
  receiver: null,
};
async function cleanup() {
  for (const h of started.hooklines) await h.stop().catch(() => {});
  await started.receiver?.close().catch(() => {});
  for (const d of started.dirs) removeDir(d);
  for (const db of started.databases) await db.drop().catch(() => {});
}

async function hookline(dataDir: string, sync: Sync, role: 'all' | 'api'): Promise<HooklineProc> {
  const h = await startHookline({
    dataDir,
    env: { HOOKLINE_SQLITE_SYNCHRONOUS: sync, HOOKLINE_ROLE: role },
    nodeArgs: args['cpu-prof']
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${PROFILE_DIR}`,
          `--cpu-prof-name=hookline-${role}-${sync}-${Date.now()}.cpuprofile`,
        ]
      : [],
  });
  started.hooklines.push(h);
  return h;
}

async function stopHookline(h: HooklineProc) {
  await h.stop();
  started.hooklines.splice(started.hooklines.indexOf(h), 1);
}

/** Creates the application and one endpoint pointing at the receiver; returns the publish path. */
async function setup(h: HooklineProc, receiverUrl: string): Promise<string> {
  const app = await h.call('POST', '/api/v1/app', { name: 'Bench', uid: 'bench' });
  if (app.status !== 201)
    throw new Error(`creating the app failed: ${app.status} ${JSON.stringify(app.body)}`);
  const ep = await h.call('POST', `/api/v1/app/${app.body.id}/endpoint`, { url: `${receiverUrl}/webhook` });
  if (ep.status !== 201)
    throw new Error(`creating the endpoint failed: ${ep.status} ${JSON.stringify(ep.body)}`);
  return `/api/v1/app/${app.body.id}/msg`;
}

const MSG_HEADERS = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const msgBody = (i: number) => JSON.stringify({ eventType: 'invoice.paid', payload: { ...PAYLOAD, seq: i } });

async function publish(h: HooklineProc, path: string, count: number) {
  const pool = new Pool(h.url, { connections: C, pipelining: 1 });
  try {
    const r = await closedLoop({
      pool,
      count,
      concurrency: C,
      timeCapMs: LOOP_CAP_MS,
      path,
      headers: MSG_HEADERS,
      body: msgBody,
      okStatus: 202,
    });
    if (r.failed > 0) console.log(`    (${r.failed} publish requests failed; first: ${r.firstStatus})`);
    if (r.ok < count) console.log(`    (stopped at the time cap after ${r.ok} of ${count})`);
    return r;
  } finally {
    await pool.close();
  }
}

// ---- phases -----------------------------------------------------------------------------------

async function measureCeiling(receiver: ReceiverProc) {
  const pool = new Pool(receiver.url, { connections: C, pipelining: 1 });
  try {
    const common = {
      pool,
      concurrency: C,
      timeCapMs: LOOP_CAP_MS,
      path: '/webhook',
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_ceiling' },
      body: () => CEILING_BODY,
      okStatus: 200,
    };
    await closedLoop({ ...common, count: Math.min(2_000, CEILING_COUNT) }); // warm-up (JIT, sockets)
    const r = await closedLoop({ ...common, count: CEILING_COUNT });
    ceiling = r.rate;
    console.log(`  ceiling: ${fmtRate(r.rate)} req/s (${r.ok} requests in ${r.elapsedMs.toFixed(0)} ms)`);
    console.log(
      `    undici Pool (${C} keep-alive connections) -> node:http receiver, ${CEILING_BODY.length}-byte JSON, answers 200; no Hookline involved.`,
    );
    rows.push({ what: `raw loopback ceiling (C=${C})`, value: `${fmtRate(r.rate)}/s`, ratio: '100%' });
  } finally {
    await pool.close();
  }
}

/** API only (HOOKLINE_ROLE=api): pure ingest. Then a worker drains the backlog on the same file. */
async function measureIngestOnly(receiver: ReceiverProc, sync: Sync) {
  const dir = tempDir();
  started.dirs.push(dir);
  const api = await hookline(dir, sync, 'api');
  const path = await setup(api, receiver.url);
  await publish(api, path, WARMUP);
  const r = await publish(api, path, INGEST_COUNT);
  report(
    `ingest, API only, ${sync}`,
    r.rate,
    `${r.ok} messages (1 KB) accepted with 202 in ${r.elapsedMs.toFixed(0)} ms, ${C} concurrent requests, HOOKLINE_ROLE=api (no delivery), synchronous=${sync}.`,
  );
  await stopHookline(api);

  // The backlog: WARMUP + ok deliveries wait in the file. A full process now delivers them.
  const backlog = WARMUP + r.ok;
  await receiver.reset();
  const worker = await hookline(dir, sync, 'all');
  const d = await receiver.waitFor(backlog, DELIVERY_CAP_MS);
  const rate = ((d.count - 1) * 1000) / (d.at - d.firstAt);
  report(
    `delivery of a backlog, ${sync}`,
    rate,
    `${d.count}/${backlog} queued deliveries sent to the receiver (first to last arrival, ${(d.at - d.firstAt).toFixed(0)} ms); no API traffic at the same time.`,
  );
  if (d.count < backlog) console.log(`    (time cap reached: ${backlog - d.count} not delivered)`);
  await stopHookline(worker);
}

/** API and worker together: ingest while delivering, then end to end until the last arrives. */
async function measureEndToEnd(receiver: ReceiverProc, sync: Sync, withLatency: boolean) {
  const dir = tempDir();
  started.dirs.push(dir);
  const h = await hookline(dir, sync, 'all');
  const path = await setup(h, receiver.url);
  await receiver.reset();
  await publish(h, path, WARMUP);
  await receiver.waitFor(WARMUP, DELIVERY_CAP_MS);

  await receiver.reset();
  const t0 = now();
  const r = await publish(h, path, INGEST_COUNT);
  report(
    `ingest while delivering, ${sync}`,
    r.rate,
    `${r.ok} messages accepted in ${r.elapsedMs.toFixed(0)} ms with the worker delivering them at the same time (HOOKLINE_ROLE=all).`,
  );
  const d = await receiver.waitFor(r.ok, DELIVERY_CAP_MS);
  const e2e = (d.count * 1000) / (d.at - t0);
  report(
    `end to end, ${sync}`,
    e2e,
    `${d.count}/${r.ok} messages published and delivered in ${(d.at - t0).toFixed(0)} ms (first request sent -> last delivery arrived at the receiver).`,
  );
  if (d.count < r.ok) console.log(`    (time cap reached: ${r.ok - d.count} not delivered)`);

  if (withLatency) await measureLatency(receiver, h, path, sync);
  await stopHookline(h);
}

async function measureLatency(receiver: ReceiverProc, h: HooklineProc, path: string, sync: string) {
  await receiver.reset(true);
  const count = LATENCY_RATE * LATENCY_SECONDS;
  const sentAt = new Map<string, number>();
  let refused = 0;
  const pool = new Pool(h.url, { connections: C, pipelining: 1 });
  let sent: number;
  try {
    ({ sent } = await openLoop({
      pool,
      count,
      ratePerSec: LATENCY_RATE,
      maxOutstanding: C,
      timeCapMs: LATENCY_SECONDS * 1000 + 10_000,
      path,
      headers: MSG_HEADERS,
      body: msgBody,
      onResponse: (_i, status, body, at) => {
        if (status === 202) sentAt.set((JSON.parse(body) as { id: string }).id, at);
        else refused++;
      },
    }));
  } finally {
    await pool.close();
  }
  await receiver.waitFor(sentAt.size, DELIVERY_CAP_MS);
  const arrived = await receiver.times();
  const lat: number[] = [];
  for (const [id, t] of sentAt) {
    const a = arrived.get(id);
    if (a !== undefined) lat.push(a - t);
  }
  lat.sort((a, b) => a - b);
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  const max = lat[lat.length - 1] ?? Number.NaN;
  console.log(
    `  publish -> delivery latency at ${LATENCY_RATE} msg/s, ${sync}: p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)}, max ${fmtMs(max)}`,
  );
  console.log(
    `    ${lat.length}/${sent} messages; time from sending the API request to the receiver having the delivery's body (open loop, ${refused} refused).`,
  );
  rows.push({
    what: `latency p50 / p99 @ ${LATENCY_RATE}/s, ${sync}`,
    value: `${fmtMs(p50)} / ${fmtMs(p99)}`,
    ratio: '',
  });
}

/**
 * Inbound: GitHub-signed requests (signed before the clock starts) posted to /in/{source}, each
 * with its own X-GitHub-Delivery, while the worker forwards them to the receiver. The answer comes
 * after verification, the dedupe check and the durable write (group commit), before forwarding.
 */
async function measureInbound(receiver: ReceiverProc, sync: Sync) {
  const dir = tempDir();
  started.dirs.push(dir);
  const h = await hookline(dir, sync, 'all');
  const secret = 'bench-github-secret';
  const src = await h.call('POST', '/api/v1/source', {
    name: 'bench-github',
    verification: { scheme: 'github', secrets: [secret] },
    dedupe: { header: 'X-GitHub-Delivery', windowSeconds: 3600 },
    destinations: [{ url: `${receiver.url}/webhook` }],
  });
  if (src.status !== 201)
    throw new Error(`creating the source failed: ${src.status} ${JSON.stringify(src.body)}`);
  const total = WARMUP + INGEST_COUNT + LATENCY_RATE * LATENCY_SECONDS;
  const bodies: string[] = [];
  const headers: Record<string, string>[] = [];
  for (let i = 0; i < total; i++) {
    const body = JSON.stringify({ action: 'opened', ...PAYLOAD, seq: i });
    bodies.push(body);
    headers.push({
      'content-type': 'application/json',
      'x-github-event': 'issues',
      'x-github-delivery': `bench-${i}`,
      ...sign({ scheme: 'github', body, secret }).headers,
    });
  }
  const path = '/in/bench-github';
  const pool = new Pool(h.url, { connections: C, pipelining: 1 });
  try {
    let offset = 0;
    const loop = (count: number) => {
      const base = offset;
      offset += count;
      return closedLoop({
        pool,
        count,
        concurrency: C,
        timeCapMs: LOOP_CAP_MS,
        path,
        headers: (i) => headers[base + i]!,
        body: (i) => bodies[base + i]!,
        okStatus: 200,
      });
    };
    await receiver.reset();
    await loop(WARMUP);
    const r = await loop(INGEST_COUNT);
    if (r.failed > 0) console.log(`    (${r.failed} requests failed; first: ${r.firstStatus})`);
    report(
      `inbound accepted, ${sync}`,
      r.rate,
      `${r.ok} GitHub-signed 1 KB requests to /in/{source} answered 200 in ${r.elapsedMs.toFixed(0)} ms (verified, deduped, stored durably), ${C} concurrent, forwarding running at the same time.`,
    );

    const lat: number[] = [];
    let refused = 0;
    const base = offset;
    const { sent } = await openLoop({
      pool,
      count: LATENCY_RATE * LATENCY_SECONDS,
      ratePerSec: LATENCY_RATE,
      maxOutstanding: C,
      timeCapMs: LATENCY_SECONDS * 1000 + 10_000,
      path,
      headers: (i) => headers[base + i]!,
      body: (i) => bodies[base + i]!,
      onResponse: (_i, status, _body, at) => {
        if (status === 200) lat.push(now() - at);
        else refused++;
      },
    });
    lat.sort((a, b) => a - b);
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    console.log(
      `  inbound acknowledgement latency at ${LATENCY_RATE} req/s, ${sync}: p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)}, max ${fmtMs(lat[lat.length - 1] ?? Number.NaN)}`,
    );
    console.log(
      `    ${lat.length}/${sent} requests; from sending the request to its 200 (open loop, ${refused} refused).`,
    );
    rows.push({
      what: `inbound ack p50 / p99 @ ${LATENCY_RATE}/s, ${sync}`,
      value: `${fmtMs(p50)} / ${fmtMs(p99)}`,
      ratio: '',
    });
  } finally {
    await pool.close();
  }
  await stopHookline(h);
}

/**
 * PostgreSQL: one API process and `workers` worker processes (`--role api|worker`) on a fresh
 * database. Ingest with delivery running, deliveries per second (first to last arrival), then
 * publish -> delivery latency at a steady rate.
 */
async function measurePostgres(receiver: ReceiverProc, workers: number) {
  const db = await createTestDatabase('bench');
  started.databases.push(db);
  const env = (role: string) => ({
    HOOKLINE_DATABASE_URL: db.url,
    HOOKLINE_SECRET_KEY: PG_SECRET_KEY,
    HOOKLINE_ROLE: role,
  });
  const api = await spawnHookline({ env: env('api') });
  started.hooklines.push(api);
  const workerProcs = await Promise.all(
    Array.from({ length: workers }, () => spawnHookline({ env: env('worker') })),
  );
  started.hooklines.push(...workerProcs);
  const path = await setup(api, receiver.url);
  const label = `${workers} worker${workers === 1 ? '' : 's'}`;
  await receiver.reset();
  await publish(api, path, WARMUP);
  await receiver.waitFor(WARMUP, DELIVERY_CAP_MS);

  await receiver.reset();
  const r = await publish(api, path, INGEST_COUNT);
  report(
    `ingest, PostgreSQL, ${label}`,
    r.rate,
    `${r.ok} messages accepted in ${r.elapsedMs.toFixed(0)} ms by one API process (HOOKLINE_ROLE=api) while ${label} deliver.`,
  );
  const d = await receiver.waitFor(r.ok, DELIVERY_CAP_MS);
  const rate = ((d.count - 1) * 1000) / (d.at - d.firstAt);
  report(
    `deliveries, PostgreSQL, ${label}`,
    rate,
    `${d.count}/${r.ok} deliveries, first to last arrival in ${(d.at - d.firstAt).toFixed(0)} ms, ${label} (HOOKLINE_ROLE=worker) sharing one endpoint.`,
  );
  if (d.count < r.ok) console.log(`    (time cap reached: ${r.ok - d.count} not delivered)`);
  await measureLatency(receiver, api, path, `PostgreSQL, ${label}`);
  for (const h of [api, ...workerProcs]) await stopHookline(h);
}

async function mainPostgres() {
  const t0 = Date.now();
  console.log(
    `Hookline benchmark, PostgreSQL${QUICK ? ' (--quick)' : ''}: Node ${process.version}, ${availableParallelism()} CPUs, client concurrency ${C}.`,
  );
  console.log('\n[1] Raw loopback ceiling');
  const receiver = await startReceiverProcess();
  started.receiver = receiver;
  await measureCeiling(receiver);
  console.log('\n[2] PostgreSQL, 1 API process + 1 worker process');
  await measurePostgres(receiver, 1);
  console.log('\n[3] PostgreSQL, 1 API process + 3 worker processes');
  await measurePostgres(receiver, 3);
  await cleanup();
  printSummary(t0);
}

function printSummary(t0: number) {
  const w = [
    Math.max(6, ...rows.map((r) => r.what.length)),
    Math.max(5, ...rows.map((r) => r.value.length)),
    10,
  ];
  const line = (a: string, b: string, c: string) =>
    `${a.padEnd(w[0]!)}  ${b.padStart(w[1]!)}  ${c.padStart(w[2]!)}`;
  console.log(`\nSummary (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  console.log(line('figure', 'value', 'of ceiling'));
  console.log(line('-'.repeat(w[0]!), '-'.repeat(w[1]!), '-'.repeat(w[2]!)));
  for (const r of rows) console.log(line(r.what, r.value, r.ratio));
}

async function main() {
  const t0 = Date.now();
  console.log(
    `Hookline benchmark${QUICK ? ' (--quick)' : ''}: Node ${process.version}, ${availableParallelism()} CPUs, client concurrency ${C}.`,
  );
  console.log(
    '  Three processes share the machine: this load client, the receiver, and Hookline (started like `npm start`, default delivery settings).',
  );
  console.log('\n[1] Raw loopback ceiling');
  const receiver = await startReceiverProcess();
  started.receiver = receiver;
  await measureCeiling(receiver);

  console.log('\n[2] Durable ingest with the worker disabled, then the worker drains the backlog');
  await measureIngestOnly(receiver, 'FULL');
  await measureIngestOnly(receiver, 'NORMAL');

  console.log('\n[3] Ingest with delivery running, end to end, and latency');
  await measureEndToEnd(receiver, 'FULL', true);
  await measureEndToEnd(receiver, 'NORMAL', true);

  console.log('\n[4] Inbound gateway: requests to /in/{source} acknowledged, and acknowledgement latency');
  await measureInbound(receiver, 'FULL');

  await cleanup();
  printSummary(t0);
  if (args['cpu-prof']) {
    console.log(`\nCPU profiles of the Hookline processes: ${PROFILE_DIR}`);
    console.log('  summarize one with: node bench/profile-summary.ts <file.cpuprofile>');
  }
}

const watchdog = setTimeout(() => {
  console.error('bench: over the 6-minute cap; stopping');
  void cleanup().finally(() => process.exit(1));
}, 360_000);
watchdog.unref();

(args.store === 'postgres' ? mainPostgres() : main())
  .catch(async (err: unknown) => {
    console.error(err);
    await cleanup();
    process.exitCode = 1;
  })
  .finally(() => clearTimeout(watchdog));
