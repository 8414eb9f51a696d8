/**
 * Hookline benchmark: `npm run bench [-- flags]` (or `node bench/run.ts [flags]`).
 *
 * Processes on one machine: this one (the undici load client), a `node:http` receiver, and
 * Hookline started like `npm start` on a fresh SQLite file or PostgreSQL database (the local
 * server), with default delivery settings. Every Hookline rate is printed as a ratio of the raw
 * loopback ceiling measured first in the same run (absolute numbers vary between runs on a
 * shared machine; ratios much less). Every loop is bounded by a count and a time cap, and every
 * process, file and database the run starts or creates is stopped or removed at the end, also on
 * failure.
 *
 * What it measures (sections run in this order):
 *   - the raw loopback ceiling: undici Pool -> node:http receiver, 1 KB JSON;
 *   - with --peer bullmq: a do-it-yourself BullMQ + Redis stack on the same receiver and payloads
 *     (end to end, latency, CPU per delivery), and each store's end to end as a multiple of it;
 *   - SQLite (--store sqlite, the default, or both), synchronous FULL (the default) and NORMAL:
 *     durable ingest with the worker disabled (and its CPU per message) and the backlog delivery
 *     after it; ingest with delivery running, deliveries/s, end to end, CPU per delivery; publish
 *     -> delivery latency at a steady rate; the inbound gateway (acknowledged requests/s,
 *     request -> 200 latency);
 *   - PostgreSQL (--store postgres, or both): durable ingest by one API process with no worker;
 *     one API process and 1, 2 and 4 worker processes: the same figures as SQLite's, with the
 *     CPU per delivery split into Hookline's processes and PostgreSQL's, and deliveries per
 *     CPU-second; more workers against one;
 *   - on each store, draining a backlog of due deliveries (on 1 endpoint, then spread over 100),
 *     loaded by SQL with the server stopped, while new messages go to another endpoint (their
 *     publish -> delivery latency meanwhile);
 *   - with --grow, on each store: end to end (the median of 3 rounds) on an empty database and
 *     again with 1M messages and 5M attempts stored (loaded by SQL), latency with retention
 *     expiring old history, and the server's RSS with 1M deliveries pending;
 *   - the ceiling again, for reference (it rises as the processes warm up);
 *   - a summary: every figure, its ratio of the ceiling and its target (met or not), as a Markdown
 *     table for the README; --json FILE writes it for `node bench/compare.ts A.json B.json`.
 *
 * Flags:
 *   --help, -h             this list
 *   --quick                smaller counts and shorter phases (for development; noisier)
 *   --store S              sqlite (default), postgres, or both
 *   --peer bullmq          also run the BullMQ + Redis peer (Redis at 127.0.0.1:6379, started
 *                          and stopped by the bench when nothing answers there)
 *   --grow                 the "data grows" phases (long: minutes of bulk loading per store)
 *   --grow-messages N      messages preloaded by --grow (default 1,000,000; 100,000 with --quick),
 *                          with 5 attempts each
 *   --backlog N            due deliveries in the backlog drains (default 100,000; 10,000 with --quick)
 *   --workers LIST         PostgreSQL deployments: worker counts beside one API process, and
 *                          "all" for one process with both roles (default all,1,2,4)
 *   --e2e-endpoints N      the end-to-end phases publish round robin to N applications of one
 *                          endpoint each (default 1). With N > 1 their figures are named "over N
 *                          endpoints" and carry no targets and no BullMQ multiples: those are
 *                          of one endpoint, whose 2 × HOOKLINE_ENDPOINT_CONCURRENCY leases all
 *                          workers share
 *   --concurrency N        client concurrency (default 64)
 *   --latency-rate N       messages/s for the publish -> delivery latency phases (default 1000)
 *   --inbound-rate N       requests/s for the inbound acknowledgement latency (default 500)
 *   --probe-rate N         messages/s to another endpoint while a backlog drains (default 100)
 *   --drain-workers N      worker processes in the PostgreSQL drains (default 1)
 *   --drain-quiet          the PostgreSQL drains under a quiet queue's statistics: as many
 *                          delivered deliveries analyzed before the backlog is written, as when an
 *                          endpoint comes back from an outage after a quiet period
 *   --json FILE            also write every figure as JSON (for bench/compare.ts)
 *   --only LIST            run only these sections (the ceiling always runs): ingest, e2e,
 *                          inbound (SQLite only), drain, peer, grow; peer and grow need no flag then
 *   --cpu-prof             run Hookline under `node --cpu-prof`; profiles land in
 *                          $TMPDIR/hookline-bench-profiles (`node bench/profile-summary.ts <file>`)
 * PostgreSQL: HOOKLINE_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres); each
 * phase uses a new database, dropped afterwards.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sign } from '@hookline/receiver';
import { Pool } from 'undici';
import {
  createStore,
  type Deployment,
  deploy,
  dropStore,
  type EngineTotals,
  engineTotals,
  NO_TOTALS,
  processGroups,
  type StoreHandle,
  type StoreKind,
  type Sync,
  stopEverything,
} from './deploy.ts';
import { type Figure, fmtRatio, fmtValue, Results } from './figures.ts';
import {
  ADMIN_TOKEN,
  closedLoop,
  closedLoopTasks,
  type HooklineProc,
  now,
  openLoop,
  openLoopTasks,
  type PerRequest,
  payloadOf,
  percentile,
  type ReceiverProc,
  sleep,
  startReceiverProcess,
  wholeNumber,
  wholeNumbers,
} from './lib.ts';
import { type BullmqPeer, PEER_CONCURRENCY, startBullmqPeer } from './peer-bullmq.ts';
import { addPendingDeliveries, fillBacklog, openBulk, preloadHistory } from './preload.ts';
import { CpuMeter, diskWriteBytes, MachineCpu, RssSampler, runDelaySeconds, WalMeter } from './proc.ts';

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

/** The flags, as this file's header comment lists them (printed by --help). */
function usage(): string {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const from = lines.indexOf(' * Flags:');
  const to = lines.findIndex((l, i) => i > from && l.startsWith(' */'));
  return [
    'Usage: npm run bench [-- flags]',
    ...lines.slice(from, to).map((l) => l.replace(/^ \* ?/, '')),
  ].join('\n');
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h', default: false },
  quick: { type: 'boolean', default: false },
  store: { type: 'string', default: 'sqlite' },
  peer: { type: 'string' },
  grow: { type: 'boolean', default: false },
  'grow-messages': { type: 'string' },
  backlog: { type: 'string' },
  workers: { type: 'string', default: 'all,1,2,4' },
  'e2e-endpoints': { type: 'string', default: '1' },
  concurrency: { type: 'string', default: '64' },
  'latency-rate': { type: 'string', default: '1000' },
  'inbound-rate': { type: 'string', default: '500' },
  'probe-rate': { type: 'string', default: '100' },
  'drain-quiet': { type: 'boolean', default: false },
  'drain-workers': { type: 'string', default: '1' },
  json: { type: 'string' },
  only: { type: 'string' },
  'cpu-prof': { type: 'boolean', default: false },
} as const;
let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>;
try {
  parsed = parseArgs({ options: OPTIONS });
} catch (err) {
  fail(`${(err as Error).message} (npm run bench -- --help lists the flags)`);
}
const args = parsed.values;
if (args.help) {
  console.log(usage());
  process.exit(0);
}
const positive = (name: string, raw: string | undefined, fallback: number): number =>
  raw === undefined ? fallback : wholeNumber(name, raw);

if (!['sqlite', 'postgres', 'both'].includes(args.store!)) fail('--store must be sqlite, postgres or both');
if (args.peer !== undefined && args.peer !== 'bullmq') fail('--peer must be bullmq');
const STORES: StoreKind[] = args.store === 'both' ? ['sqlite', 'postgres'] : [args.store as StoreKind];
const SECTION_NAMES = ['ingest', 'e2e', 'inbound', 'drain', 'peer', 'grow'] as const;
type SectionName = (typeof SECTION_NAMES)[number];
const ONLY = args.only?.split(',').map((s) => s.trim()) as SectionName[] | undefined;
if (ONLY?.some((s) => !SECTION_NAMES.includes(s))) fail(`--only takes a list of ${SECTION_NAMES.join(', ')}`);
/** Whether a section runs: by default every one but peer and grow, which need their flags; --only picks. */
const runs = (s: SectionName): boolean =>
  ONLY ? ONLY.includes(s) : s === 'peer' ? args.peer === 'bullmq' : s === 'grow' ? args.grow! : true;

const QUICK = args.quick;
const C = positive('concurrency', args.concurrency, 64);
const CEILING_COUNT = QUICK ? 5_000 : 20_000;
const INGEST_COUNT = QUICK ? 2_000 : 10_000;
const WARMUP = QUICK ? 300 : 1_000;
const LATENCY_RATE = positive('latency-rate', args['latency-rate'], 1000);
const INBOUND_RATE = positive('inbound-rate', args['inbound-rate'], 500);
const PROBE_RATE = positive('probe-rate', args['probe-rate'], 100);
const LATENCY_SECONDS = QUICK ? 2 : 5;
const LOOP_CAP_MS = QUICK ? 10_000 : 30_000;
const DELIVERY_CAP_MS = QUICK ? 20_000 : 60_000;
const BACKLOG = positive('backlog', args.backlog, QUICK ? 10_000 : 100_000);
const DRAIN_CAP_MS = QUICK ? 30_000 : 90_000;
const DRAIN_QUIET = args['drain-quiet'] === true;
const DRAIN_WORKERS = positive('drain-workers', args['drain-workers'], 1);
const E2E_ENDPOINTS = positive('e2e-endpoints', args['e2e-endpoints'], 1);
/** What the end-to-end figures' keys and labels add with `--e2e-endpoints` above 1. */
const EP_KEY = E2E_ENDPOINTS > 1 ? `_${E2E_ENDPOINTS}ep` : '';
const EP_LABEL = E2E_ENDPOINTS > 1 ? ` over ${E2E_ENDPOINTS} endpoints` : '';
const DEPLOYMENTS = args.workers!.split(',').map((w) => w.trim());
/** PostgreSQL: one process serving the API and delivering (`hookline serve`'s default role). */
const COMBINED = DEPLOYMENTS.includes('all');
const WORKER_COUNTS = DEPLOYMENTS.filter((w) => w !== 'all');
const WORKERS = WORKER_COUNTS.length > 0 ? wholeNumbers('workers', WORKER_COUNTS.join(',')) : [];
const GROW_MESSAGES = positive('grow-messages', args['grow-messages'], QUICK ? 100_000 : 1_000_000);
const GROW_ATTEMPTS_PER_MESSAGE = 5;
const GROW_SPAN_MS = 30 * 86_400_000;
/** With history spread over 30 days, a third of it is older than this and expires. */
const GROW_RETENTION_DAYS = 20;
const RSS_WINDOW_MS = QUICK ? 5_000 : 15_000;
const PROFILE_DIR = args['cpu-prof'] ? join(tmpdir(), 'hookline-bench-profiles') : null;

const PAYLOAD = payloadOf(1024);
const CEILING_BODY = JSON.stringify(PAYLOAD);
const MSG_HEADERS = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const msgBody = (i: number) => JSON.stringify({ eventType: 'invoice.paid', payload: { ...PAYLOAD, seq: i } });

/** The performance goals set for the delivery engine, which the summary checks each figure against. */
const TARGETS = {
  sqlite: { e2e: 0.3, ingest: 0.4, p50: 2, p99: 10, drain: 0.25, inboundP99: 10, vsPeer: 1.0 },
  postgres: { e2e: 0.15, p50: 10, p99: 50, drain: 0.25, vsPeer: 0.5 },
  grownVsEmpty: 0.9,
  rssMB: 200,
  /** More workers: not slower, and no more CPU per delivery (within 10 %). */
  moreWorkers: 1.0,
  perCpuVsOne: 0.9,
  retentionP99: 1.1,
};

const results = new Results();
let receiver: ReceiverProc;
let peer: BullmqPeer | null = null;
const fmtN = (n: number) => n.toLocaleString('en-US');

// ---- printing ---------------------------------------------------------------------------------

let sectionNo = 0;
function section(title: string) {
  console.log(`\n[${++sectionNo}] ${title}`);
}

/** Prints a figure as it is measured, with a line saying what it is. */
function show(f: Figure, explain?: string) {
  const ratio = f.ofCeiling !== undefined ? ` (${fmtRatio(f.ofCeiling)} of ceiling)` : '';
  const target = f.target ? `   [target ${f.target.text}: ${f.target.met ? 'met' : 'not met'}]` : '';
  console.log(`  ${f.label}: ${fmtValue(f.value, f.unit)}${ratio}${target}`);
  if (explain) console.log(`    ${explain}`);
}

// ---- helpers ----------------------------------------------------------------------------------

interface AppHandle {
  appId: string;
  endpointIds: string[];
  /** The publish path of the app. */
  path: string;
}

/** Creates an application with one endpoint per URL. */
async function createApp(h: HooklineProc, uid: string, urls: string[]): Promise<AppHandle> {
  const app = await h.call('POST', '/api/v1/app', { name: uid, uid });
  if (app.status !== 201)
    throw new Error(`creating the app failed: ${app.status} ${JSON.stringify(app.body)}`);
  const endpointIds: string[] = [];
  for (const url of urls) endpointIds.push(await createEndpoint(h, app.body.id, url));
  return { appId: app.body.id, endpointIds, path: `/api/v1/app/${app.body.id}/msg` };
}
async function createEndpoint(h: HooklineProc, appId: string, url: string): Promise<string> {
  const ep = await h.call('POST', `/api/v1/app/${appId}/endpoint`, { url });
  if (ep.status !== 201)
    throw new Error(`creating the endpoint failed: ${ep.status} ${JSON.stringify(ep.body)}`);
  return ep.body.id;
}

/** Publishes `count` messages with `C` requests in flight; reports failures and the time cap. */
async function publish(h: HooklineProc, path: PerRequest<string>, count: number) {
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
    if (r.ok + r.failed < count) console.log(`    (stopped at the time cap after ${r.ok} of ${count})`);
    return r;
  } finally {
    await pool.close();
  }
}

/** Publish `WARMUP` messages and wait for their deliveries (JIT, connections, caches). */
async function warmUp(dep: Deployment, path: PerRequest<string>) {
  await receiver.reset();
  const r = await publish(dep.api, path, WARMUP);
  await receiver.waitFor(r.ok, DELIVERY_CAP_MS);
}

/**
 * Sorted latencies (ms) of the ids in `sentAt`. One that never arrived (within the phase's cap)
 * counts as Infinity, so that losing messages cannot make a percentile look better.
 */
function latencies(sentAt: Map<string, number>, arrived: Map<string, number>): number[] {
  const lat: number[] = [];
  for (const [id, t] of sentAt) {
    const a = arrived.get(id);
    lat.push(a === undefined ? Number.POSITIVE_INFINITY : a - t);
  }
  return lat.sort((a, b) => a - b);
}

/** Records p50 and p99 as figures `${key}_p50` / `${key}_p99`; prints them with max and counts. */
function latencyFigures(
  key: string,
  label: string,
  lat: number[],
  explain: string,
  targets: { p50?: number; p99?: number } = {},
) {
  const p50 = results.ms(`${key}_p50`, `${label}, p50`, percentile(lat, 50), targets.p50);
  const p99 = results.ms(`${key}_p99`, `${label}, p99`, percentile(lat, 99), targets.p99);
  show(p50);
  show(p99);
  const lost = lat.filter((x) => x === Number.POSITIVE_INFINITY).length;
  const arrived = lat.length - lost;
  console.log(`    max ${fmtValue(lat[arrived - 1] ?? Number.NaN, 'ms')}; ${explain}`);
  if (lost > 0) console.log(`    (${fmtN(lost)} never arrived within the cap: counted as infinitely late)`);
}

/** PostgreSQL's CPU seconds over a phase: the bench database's backends and the shared background processes. */
const postgresSeconds = (cpu: Record<string, number>) =>
  (cpu.postgres ?? Number.NaN) + (cpu.postgresShared ?? 0);

/** How `postgresSeconds` splits, per item (`us`: seconds to µs per item). */
const postgresDetail = (cpu: Record<string, number>, us: (s: number) => number) =>
  `backends of the bench database ${fmtValue(us(cpu.postgres ?? Number.NaN), 'µs')} + WAL writer, checkpointer and background writer ${fmtValue(us(cpu.postgresShared ?? 0), 'µs')} (shared with whatever else uses the server).`;

/** CPU figures of a phase that delivered `count` messages; `cpu` from a CpuMeter over processGroups. */
function cpuFigures(key: string, label: string, cpu: Record<string, number>, count: number, pg: boolean) {
  const us = (s: number) => (s * 1e6) / count;
  const hookline = (cpu.api ?? 0) + (cpu.workers ?? 0);
  const postgres = postgresSeconds(cpu);
  show(
    results.other(`${key}.cpu_hookline`, `${label}: CPU per delivery, Hookline`, us(hookline), 'µs', 'lower'),
    pg && cpu.workers !== undefined
      ? `API process ${fmtValue(us(cpu.api ?? 0), 'µs')} + worker processes ${fmtValue(us(cpu.workers), 'µs')} (user + system CPU from /proc over the phase, ÷ deliveries).`
      : 'user + system CPU of the Hookline process from /proc over the phase, ÷ deliveries.',
  );
  let total = hookline;
  if (pg) {
    total += postgres;
    show(
      results.other(
        `${key}.cpu_postgres`,
        `${label}: CPU per delivery, PostgreSQL`,
        us(postgres),
        'µs',
        'lower',
      ),
      postgresDetail(cpu, us),
    );
  }
  show(
    results.other(
      `${key}.per_cpu_s`,
      `${label}: deliveries per CPU-second`,
      count / total,
      '/CPU-s',
      'higher',
    ),
    `${fmtN(count)} deliveries ÷ ${total.toFixed(2)} CPU-seconds (${pg ? 'Hookline + PostgreSQL' : 'Hookline'}).`,
  );
}

/**
 * The claims and the group commits of a phase that delivered `count` messages: from
 * `engineTotals` before and after it.
 */
function engineFigures(key: string, label: string, before: EngineTotals, after: EngineTotals, count: number) {
  const leased = after.leased - before.leased;
  const empty = after.empty - before.empty;
  const claims = leased + empty;
  show(
    results.other(
      `${key}.claims`,
      `${label}: claims per 1,000 deliveries`,
      (claims * 1000) / count,
      'per 1,000',
      'lower',
    ),
    `${fmtN(claims)} claims (hookline_claims_total of every process), ${fmtN(empty)} of them empty (${claims > 0 ? ((100 * empty) / claims).toFixed(0) : 0} %); ${fmtN(after.deliveries - before.deliveries)} deliveries leased${key.startsWith('sqlite') || key.startsWith('postgres.all') ? ' (the others handed over by the ingest)' : ''}.`,
  );
  const timed = after.timedClaims - before.timedClaims;
  if (timed > 0) {
    show(
      results.other(
        `${key}.claim_ms`,
        `${label}: mean claim duration`,
        (1000 * (after.claimSeconds - before.claimSeconds)) / timed,
        'ms',
        'lower',
      ),
      `over ${fmtN(timed)} claims that came back, database round trip included (hookline_claim_duration_seconds of every process).`,
    );
  }
  // Items per transaction of the group commits (hookline_write_batch_size): each commit has a
  // cost of its own, so these say how much of it a delivery carries.
  const batches = [
    [
      'ingest',
      'messages per ingest commit',
      after.ingestItems - before.ingestItems,
      after.ingestCommits - before.ingestCommits,
    ],
    [
      'outcomes',
      'outcomes per outcome commit',
      after.outcomeItems - before.outcomeItems,
      after.outcomeCommits - before.outcomeCommits,
    ],
  ] as const;
  for (const [kind, what, items, commits] of batches) {
    if (commits === 0) continue;
    show(
      results.other(`${key}.batch_${kind}`, `${label}: ${what}`, items / commits, 'per commit', 'higher'),
      `${fmtN(items)} in ${fmtN(commits)} transactions (hookline_write_batch_size{kind="${kind}"} of every process).`,
    );
  }
}

// ---- phases -----------------------------------------------------------------------------------

/** The raw loopback ceiling: the same 1 KB JSON POSTs straight to the receiver, no Hookline. */
async function ceilingRate() {
  const pool = new Pool(receiver.url, { connections: C, pipelining: 1 });
  try {
    const common = {
      pool,
      concurrency: C,
      timeCapMs: LOOP_CAP_MS,
      path: '/ceiling',
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_ceiling' },
      body: () => CEILING_BODY,
      okStatus: 200,
    };
    await closedLoop({ ...common, count: Math.min(2_000, CEILING_COUNT) }); // warm-up (JIT, sockets)
    return await closedLoop({ ...common, count: CEILING_COUNT });
  } finally {
    await pool.close();
  }
}

/**
 * The yardstick of every ratio: measured at the start, after a 2,000-request warm-up, the way the
 * earlier baselines were measured. Measured again at the end for reference only:
 * it keeps rising as the two processes warm up (15k -> 45k req/s over 160k requests on the 2-core
 * machine), so the end figure shows how far the start one is from a fully warm loopback.
 */
async function measureCeiling(again: boolean) {
  const r = await ceilingRate();
  const explain = `${r.ok} requests in ${r.elapsedMs.toFixed(0)} ms; undici Pool (${C} keep-alive connections) -> node:http receiver, ${CEILING_BODY.length}-byte JSON, answers 200.`;
  if (!again) {
    results.ceiling = r.rate;
    show(results.rate('ceiling', `raw loopback ceiling (undici → node:http, C=${C})`, r.rate), explain);
  } else {
    show(
      results.other(
        'ceiling.end',
        'raw loopback ceiling again at the end (warm; for reference, ratios use the first)',
        r.rate,
        '/s',
        'higher',
      ),
      explain,
    );
  }
}

/**
 * Messages accepted per second with nothing delivering (`HOOKLINE_ROLE=api`), and the CPU each
 * costs: the Hookline process, and on PostgreSQL the database's backends. Returns what the run
 * published (the backlog it leaves), with the deployment still running.
 */
async function ingestOnly(store: StoreHandle, key: string, label: string, sync?: Sync) {
  const api = await deploy(store, { workers: 0, ...(sync ? { sync } : {}), cpuProfDir: PROFILE_DIR });
  const app = await createApp(api.api, 'bench', [`${receiver.url}/webhook`]);
  await publish(api.api, app.path, WARMUP);
  const meter = new CpuMeter(processGroups(api)).start();
  const r = await publish(api.api, app.path, INGEST_COUNT);
  const cpu = meter.stop();
  show(
    results.rate(`${key}.ingest_api_only`, `${label}: durable ingest, API only`, r.rate),
    `${r.ok} messages (1 KB) accepted with 202 in ${r.elapsedMs.toFixed(0)} ms, ${C} concurrent requests, HOOKLINE_ROLE=api (no delivery).`,
  );
  const us = (seconds: number) => (seconds * 1e6) / r.ok;
  show(
    results.other(
      `${key}.ingest_cpu_hookline`,
      `${label}: CPU per message accepted, Hookline`,
      us(cpu.api ?? 0),
      'µs',
      'lower',
    ),
    'user + system CPU of the API process from /proc over the phase, ÷ messages accepted.',
  );
  if (store.kind === 'postgres')
    show(
      results.other(
        `${key}.ingest_cpu_postgres`,
        `${label}: CPU per message accepted, PostgreSQL`,
        us(postgresSeconds(cpu)),
        'µs',
        'lower',
      ),
      postgresDetail(cpu, us),
    );
  return { api, published: WARMUP + r.ok };
}

/** SQLite, API only (HOOKLINE_ROLE=api): pure ingest. Then a full process drains that backlog. */
async function measureIngestOnly(sync: Sync) {
  const key = `sqlite.${sync.toLowerCase()}`;
  const label = `SQLite ${sync}`;
  const store = await createStore('sqlite');
  const { api, published: backlog } = await ingestOnly(store, key, label, sync);
  await api.stop();

  await receiver.reset();
  const full = await deploy(store, { workers: 1, sync, cpuProfDir: PROFILE_DIR });
  const d = await receiver.waitFor(backlog, DELIVERY_CAP_MS);
  show(
    results.rate(
      `${key}.backlog_delivery`,
      `${label}: delivery of a backlog`,
      ((d.count - 1) * 1000) / (d.at - d.firstAt),
    ),
    `${d.count}/${backlog} queued deliveries sent to the receiver (first to last arrival, ${(d.at - d.firstAt).toFixed(0)} ms); no API traffic at the same time.`,
  );
  if (d.count < backlog) console.log(`    (time cap reached: ${backlog - d.count} not delivered)`);
  await full.stop();
  await dropStore(store);
}

/**
 * One process (SQLite) or one API and `workers` worker processes (PostgreSQL): ingest while
 * delivering, deliveries/s, end to end, CPU per delivery, then publish -> delivery latency.
 */
async function measureEndToEnd(o: {
  kind: StoreKind;
  workers: number;
  /** PostgreSQL: one process with both roles instead of an API process and workers. */
  combined?: boolean;
  sync?: Sync;
  key: string;
  label: string;
  targets: { e2e?: number; ingest?: number; p50?: number; p99?: number };
}) {
  // With --e2e-endpoints: figures of their own, without the one endpoint's targets.
  if (E2E_ENDPOINTS > 1) o = { ...o, key: o.key + EP_KEY, label: o.label + EP_LABEL, targets: {} };
  const store = await createStore(o.kind);
  const dep = await deploy(store, {
    workers: o.workers,
    combined: o.combined ?? false,
    ...(o.sync ? { sync: o.sync } : {}),
    cpuProfDir: PROFILE_DIR,
  });
  // One application of one endpoint each, published to round robin (one unless --e2e-endpoints).
  const apps: AppHandle[] = [];
  for (let i = 0; i < E2E_ENDPOINTS; i++)
    apps.push(await createApp(dep.api, i === 0 ? 'bench' : `bench-${i}`, [`${receiver.url}/webhook`]));
  const path = apps.length === 1 ? apps[0]!.path : (i: number) => apps[i % apps.length]!.path;
  await warmUp(dep, path);

  await receiver.reset();
  const totals0 = await engineTotals(dep);
  const wal = o.kind === 'postgres' ? await WalMeter.start(store.databaseUrl) : null;
  const meter = new CpuMeter(processGroups(dep)).start();
  // Whether the phase is bound by the machine's cores or by waits (lock, commit, round trip): a
  // second thread or process can only help where the cores have room.
  const waits = new CpuMeter(processGroups(dep), 500, runDelaySeconds).start();
  const machine = new MachineCpu().start();
  const t0 = now();
  const r = await publish(dep.api, path, INGEST_COUNT);
  show(
    results.rate(`${o.key}.ingest`, `${o.label}: ingest while delivering`, r.rate, o.targets.ingest),
    `${r.ok} messages accepted in ${r.elapsedMs.toFixed(0)} ms while ${o.kind === 'sqlite' || o.combined ? 'the same process delivers them' : `${o.workers} worker process(es) deliver them`}.`,
  );
  const d = await receiver.waitFor(r.ok, DELIVERY_CAP_MS);
  const cpu = meter.stop();
  const waited = waits.stop();
  const busy = machine.stop();
  show(
    results.rate(
      `${o.key}.deliveries`,
      `${o.label}: deliveries`,
      ((d.count - 1) * 1000) / (d.at - d.firstAt),
    ),
    `${d.count}/${r.ok} deliveries, first to last arrival in ${(d.at - d.firstAt).toFixed(0)} ms.`,
  );
  show(
    results.rate(`${o.key}.e2e`, `${o.label}: end to end`, (d.count * 1000) / (d.at - t0), o.targets.e2e),
    `${d.count}/${r.ok} messages published and delivered in ${(d.at - t0).toFixed(0)} ms (first request sent -> last delivery arrived at the receiver).`,
  );
  if (d.count < r.ok) console.log(`    (time cap reached: ${r.ok - d.count} not delivered)`);
  console.log(
    `    longest pause: between two answers to the load client ${r.pauseMs.toFixed(0)} ms (ending ${(r.pauseEndMs / 1000).toFixed(1)} s in), between two deliveries ${d.pauseMs.toFixed(0)} ms (ending ${((d.pauseEndAt - t0) / 1000).toFixed(1)} s in).`,
  );
  cpuFigures(o.key, o.label, cpu, d.count, o.kind === 'postgres');
  printWaits(waited, (now() - t0) / 1000, busy);
  if (wal) {
    const bytes = await wal.stop();
    show(
      results.other(
        `${o.key}.wal`,
        `${o.label}: WAL per delivery, PostgreSQL`,
        bytes / 1024 / d.count,
        'KB',
        'lower',
      ),
      `${fmtN(Math.round(bytes / 1024))} KB of write-ahead log over the phase (the whole server's; nothing else writes meanwhile) ÷ deliveries: what a change to the rows and index entries written saves shows here without the noise CPU time has.`,
    );
  }
  engineFigures(o.key, o.label, totals0, await engineTotals(dep), d.count);

  await measurePublishLatency(dep, path, `${o.key}.latency`, o.label, o.targets);
  await dep.stop();
  printWarnings(dep);
  await dropStore(store);
}

/** A server's first retention pass begins this long after a worker starts (delivery/periodic.ts). */
const FIRST_PASS_MS = 5_000;

/**
 * Warms a just-started deployment up (`warmUp`), then waits until FIRST_PASS_MS after its start,
 * when a worker's first retention pass begins.
 */
async function warmUntilFirstPass(dep: Deployment, path: string) {
  const started = now();
  await warmUp(dep, path);
  await sleep(Math.max(0, FIRST_PASS_MS - (now() - started)));
}

/** Publish -> delivery latency at `LATENCY_RATE` (open loop), as figures `${key}_p50|_p99`. */
async function measurePublishLatency(
  dep: Deployment,
  path: PerRequest<string>,
  key: string,
  label: string,
  targets: { p50?: number; p99?: number } = {},
) {
  await receiver.reset(true);
  const sentAt = new Map<string, number>();
  let refused = 0;
  const pool = new Pool(dep.api.url, { connections: C, pipelining: 1 });
  let sent: number;
  // How long the processes' main threads waited for a core meanwhile: on a small machine the
  // latency is partly queueing behind the other processes of the run.
  const totals0 = await engineTotals(dep);
  const waits = new CpuMeter(processGroups(dep), 500, runDelaySeconds).start();
  const machine = new MachineCpu().start();
  const started = now();
  try {
    ({ sent } = await openLoop({
      pool,
      count: LATENCY_RATE * LATENCY_SECONDS,
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
  const waited = waits.stop();
  const busy = machine.stop();
  const seconds = (now() - started) / 1000;
  await receiver.waitFor(sentAt.size, DELIVERY_CAP_MS);
  const lat = latencies(sentAt, await receiver.times());
  latencyFigures(
    key,
    `${label}: publish → delivery at ${fmtN(LATENCY_RATE)} msg/s`,
    lat,
    `${lat.filter(Number.isFinite).length}/${sent} messages; from sending the API request to the receiver having the delivery's body (open loop, ${refused} refused).`,
    targets,
  );
  printWaits(waited, seconds, busy);
  engineFigures(
    key,
    `${label}: at ${fmtN(LATENCY_RATE)} msg/s`,
    totals0,
    await engineTotals(dep),
    lat.length,
  );
}

/**
 * Inbound: GitHub-signed requests (signed before the clock starts) posted to /in/{source}, each
 * with its own X-GitHub-Delivery, while the worker forwards them to the receiver. The answer comes
 * after verification, the dedupe check and the durable write (group commit), before forwarding.
 */
async function measureInbound(sync: Sync) {
  const store = await createStore('sqlite');
  const dep = await deploy(store, { workers: 1, sync, cpuProfDir: PROFILE_DIR });
  const secret = 'bench-github-secret';
  const src = await dep.api.call('POST', '/api/v1/source', {
    name: 'bench-github',
    verification: { scheme: 'github', secrets: [secret] },
    dedupe: { header: 'X-GitHub-Delivery', windowSeconds: 3600 },
    destinations: [{ url: `${receiver.url}/webhook` }],
  });
  if (src.status !== 201)
    throw new Error(`creating the source failed: ${src.status} ${JSON.stringify(src.body)}`);
  const total = WARMUP + INGEST_COUNT + INBOUND_RATE * LATENCY_SECONDS;
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
  const label = `SQLite ${sync}: inbound`;
  const pool = new Pool(dep.api.url, { connections: C, pipelining: 1 });
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
    show(
      results.rate('sqlite.inbound.accepted', `${label} requests acknowledged`, r.rate),
      `${r.ok} GitHub-signed 1 KB requests to /in/{source} answered 200 in ${r.elapsedMs.toFixed(0)} ms (verified, deduped, stored durably), ${C} concurrent, forwarding running at the same time.`,
    );
    // Their forwards are delivered before the latency is measured: at a steady rate, not beside
    // the tail of the backlog the closed loop left (accepted faster than forwarded).
    await receiver.waitFor(WARMUP + INGEST_COUNT, DELIVERY_CAP_MS);

    const lat: number[] = [];
    let refused = 0;
    const base = offset;
    const { sent } = await openLoop({
      pool,
      count: INBOUND_RATE * LATENCY_SECONDS,
      ratePerSec: INBOUND_RATE,
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
    latencyFigures(
      'sqlite.inbound.ack',
      `${label}: request → 2xx at ${fmtN(INBOUND_RATE)} req/s`,
      lat,
      `${lat.length}/${sent} requests; from sending the request to its 200 (open loop, ${refused} refused), once the forwards of the requests before were delivered.`,
      { p99: TARGETS.sqlite.inboundP99 },
    );
  } finally {
    await pool.close();
  }
  await dep.stop();
  await dropStore(store);
}

/**
 * A backlog of `BACKLOG` due deliveries (1 endpoint, or spread round-robin over `endpoints`),
 * loaded by SQL while the server is stopped (an endpoint back after an outage, a worker back
 * after a crash). Then Hookline starts (SQLite: one process; PostgreSQL: API + 1 worker) and
 * drains it, while new messages go to an endpoint of another application (on another receiver
 * address, as another customer's host would be) at `PROBE_RATE`: drain rate (first to last
 * arrival) and the probes' publish -> delivery latency.
 */
async function measureDrain(kind: StoreKind, endpoints: number) {
  const targets = TARGETS[kind];
  // Under a quiet queue's statistics (--drain-quiet, PostgreSQL): figures of their own.
  const quiet = DRAIN_QUIET && kind === 'postgres';
  const workers = kind === 'postgres' ? DRAIN_WORKERS : 1;
  const key = `${kind}.drain_${endpoints}ep${quiet ? '_quiet' : ''}${workers === 1 ? '' : `_${workers}w`}`;
  const store = await createStore(kind);
  const on = `${endpoints} endpoint${endpoints === 1 ? '' : 's'}${quiet ? ' (quiet statistics)' : ''}${workers === 1 ? '' : `, ${workers} workers`}`;
  let dep = await deploy(store, { workers: 0 });
  const backlogApp = await createApp(
    dep.api,
    'backlog',
    Array.from({ length: endpoints }, () => `${receiver.url}/webhook`),
  );
  // Another customer's endpoint: another host (origin), as it would be in production.
  const probeApp = await createApp(dep.api, 'probe', [`${receiver.otherUrl}/probe`]);
  // The template the backlog is cloned from: one message, one delivery per endpoint.
  const first = await dep.api.call('POST', backlogApp.path, { eventType: 'invoice.paid', payload: PAYLOAD });
  if (first.status !== 202) throw new Error(`publishing failed: ${first.status}`);
  await dep.stop();

  const t0 = now();
  const bulk = await openBulk(store.databaseUrl);
  try {
    await fillBacklog(bulk, {
      appId: backlogApp.appId,
      endpointIds: backlogApp.endpointIds,
      count: BACKLOG - endpoints,
      now: Date.now(),
      quiet,
    });
  } finally {
    await bulk.close();
  }
  console.log(
    `  (${fmtN(BACKLOG)} due deliveries${quiet ? ', after as many delivered ones analyzed,' : ''} loaded by SQL in ${((now() - t0) / 1000).toFixed(1)} s)`,
  );

  await receiver.reset('/probe');
  dep = await deploy(store, { workers, cpuProfDir: PROFILE_DIR });
  const sampler = new RssSampler(pidsOf(dep));
  // The machine meanwhile: the probe's tail is mostly waiting for a core (docs/benchmarks.md).
  const machine = new MachineCpu().start();
  const waits = new CpuMeter(processGroups(dep), 500, runDelaySeconds).start();
  const written = () => dep.procs.reduce((n, p) => n + (diskWriteBytes(p.h.proc.pid!) ?? Number.NaN), 0);
  const written0 = kind === 'sqlite' ? written() : Number.NaN;
  const drainStarted = now();
  let drained = false;
  const drain = receiver.waitFor(BACKLOG, DRAIN_CAP_MS, '/webhook').then((d) => {
    drained = true;
    // A drain that did not finish is measured to the cap, not to its last arrival: a backlog
    // that stalls with some of it left must not read as fast.
    return d.count < BACKLOG ? { ...d, at: now() } : d;
  });
  const sentAt = new Map<string, number>();
  let refused = 0;
  const pool = new Pool(dep.api.url, { connections: C, pipelining: 1 });
  let sent = 0;
  try {
    ({ sent } = await openLoop({
      pool,
      count: Math.ceil((PROBE_RATE * DRAIN_CAP_MS) / 1000),
      ratePerSec: PROBE_RATE,
      maxOutstanding: C,
      timeCapMs: DRAIN_CAP_MS,
      stop: () => drained,
      path: probeApp.path,
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
  const d = await drain;
  const writtenBytes = written() - written0;
  const rss = sampler.stop();
  const busy = machine.stop();
  const waited = waits.stop();
  const drainSeconds = (now() - drainStarted) / 1000;
  show(
    results.rate(
      key,
      `${store.label}: drain of ${fmtN(BACKLOG)} due on ${on}`,
      ((d.count - 1) * 1000) / (d.at - d.firstAt),
      targets.drain,
    ),
    `${fmtN(d.count)}/${fmtN(BACKLOG)} delivered, ${d.count < BACKLOG ? 'first arrival to the time cap' : 'first to last arrival'} in ${(d.at - d.firstAt).toFixed(0)} ms${kind === 'postgres' ? ` (1 API + ${workers} worker process${workers === 1 ? '' : 'es'})` : ''}.`,
  );
  if (d.count < BACKLOG)
    console.log(
      `    (time cap of ${DRAIN_CAP_MS / 1000} s reached: ${fmtN(BACKLOG - d.count)} not delivered)`,
    );
  if (kind === 'sqlite')
    show(
      results.other(
        `${key}.disk_writes`,
        `${store.label}: drain on ${on}: written to disk per delivery`,
        writtenBytes / 1024 / d.count,
        'KB',
        'lower',
      ),
      `${fmtN(Math.round(writtenBytes / 1024))} KB written by the Hookline process over the drain (write_bytes of /proc/PID/io: the WAL's pages and the checkpoints' copies into the database file, counted as they are dirtied) ÷ deliveries: the pages a change saves show here without the noise rates have.`,
    );
  // Claims since the workers started (they start draining at once).
  engineFigures(key, `${store.label}: drain on ${on}`, NO_TOTALS, await engineTotals(dep), d.count);
  rssFigure(
    `${key}.rss`,
    `${store.label}: drain on ${on}: server RSS`,
    dep,
    rss,
    'from its start to the end of the drain',
  );
  await receiver.waitFor(sentAt.size, DELIVERY_CAP_MS, '/probe');
  const lat = latencies(sentAt, await receiver.times());
  latencyFigures(
    `${key}.probe`,
    `${store.label}: during the drain on ${on}, another endpoint's publish → delivery`,
    lat,
    `${lat.filter(Number.isFinite).length}/${sent} messages at ${PROBE_RATE}/s to an endpoint of another application (another receiver host) while the backlog drained (${refused} refused).`,
    { p99: targets.p99 },
  );
  printWaits(waited, drainSeconds, busy);
  await dep.stop();
  printWarnings(dep);
  await dropStore(store);
}

/**
 * How long the processes' main threads waited for a core over a phase of `seconds` (the run
 * delays of a CpuMeter over processGroups with `runDelaySeconds`), and how busy the machine's
 * cores were, when measured: on a small machine latency is partly queueing behind the other
 * processes of the run.
 */
function printWaits(waited: Record<string, number>, seconds: number, busy?: number) {
  const machine =
    busy === undefined || Number.isNaN(busy)
      ? ''
      : `the machine's cores ${(busy * 100).toFixed(0)} % busy (/proc/stat, every process of the run); `;
  console.log(
    `    meanwhile: ${machine}waiting for a core (main threads' run delay, /proc/PID/schedstat), seconds per second: ${Object.entries(
      waited,
    )
      .filter(([, s]) => Number.isFinite(s))
      // One process on SQLite: Hookline's, which processGroups calls the API.
      .map(
        ([group, s]) =>
          `${group === 'api' && !('workers' in waited) ? 'Hookline' : group} ${(s / seconds).toFixed(2)}`,
      )
      .join(', ')}.`,
  );
}

/**
 * Prints what the deployment's processes logged at warn level or above (the last 20 KB of each
 * one's output): a claim or a commit that failed and was retried, a pool that ran dry, shows next
 * to the figures it slowed instead of only as a slower phase.
 */
function printWarnings(dep: Deployment) {
  for (const p of dep.procs) {
    const found = new Map<string, number>();
    for (const line of p.h.output().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string };
        if ((entry.level ?? 0) < 40) continue;
        const msg = entry.msg ?? '(no message)';
        found.set(msg, (found.get(msg) ?? 0) + 1);
      } catch {
        // a line cut by the 20 KB window
      }
    }
    if (found.size === 0) continue;
    const list = [...found].map(([msg, n]) => `${n} × "${msg}"`).join('; ');
    console.log(`    ${p.name} logged at warn level or above: ${list}.`);
  }
}

/** The BullMQ + Redis peer: end to end, CPU per delivery, latency at `LATENCY_RATE`. */
async function measurePeer() {
  peer = await startBullmqPeer({ url: receiver.url, path: '/peer' });
  const p = peer;
  if (p.startedRedis) console.log('  (no Redis answered at 127.0.0.1:6379: started one for this run)');
  const label = `BullMQ + Redis (worker concurrency ${PEER_CONCURRENCY})`;
  const add = (prefix: string) => (i: number) =>
    p.add(`${prefix}_${i}`, { ...PAYLOAD, seq: i }).then(() => true as const);

  await receiver.reset();
  await closedLoopTasks({ count: WARMUP, concurrency: C, timeCapMs: LOOP_CAP_MS, task: add('warm') });
  await receiver.waitFor(WARMUP, DELIVERY_CAP_MS, '/peer');

  await receiver.reset();
  const meter = new CpuMeter(() => p.groups()).start();
  const t0 = now();
  const r = await closedLoopTasks({
    count: INGEST_COUNT,
    concurrency: C,
    timeCapMs: LOOP_CAP_MS,
    task: add('e2e'),
  });
  if (r.failed > 0) console.log(`    (${r.failed} adds failed; first: ${r.firstStatus})`);
  show(
    results.rate('peer.bullmq.enqueue', `${label}: jobs added while delivering`, r.rate),
    `${r.ok} jobs added in ${r.elapsedMs.toFixed(0)} ms, ${C} in flight (the producer talks to Redis directly: no HTTP API).`,
  );
  const d = await receiver.waitFor(r.ok, DELIVERY_CAP_MS, '/peer');
  const cpu = meter.stop();
  show(
    results.rate('peer.bullmq.e2e', `${label}: end to end`, (d.count * 1000) / (d.at - t0)),
    `${d.count}/${r.ok} jobs added and delivered in ${(d.at - t0).toFixed(0)} ms (first add -> last delivery arrived).`,
  );
  const us = (s: number | undefined) => ((s ?? Number.NaN) * 1e6) / d.count;
  show(
    results.other(
      'peer.bullmq.cpu',
      `${label}: CPU per delivery`,
      us(cpu.worker) + us(cpu.redis),
      'µs',
      'lower',
    ),
    `worker process ${fmtValue(us(cpu.worker), 'µs')} + Redis ${fmtValue(us(cpu.redis), 'µs')}.`,
  );

  await receiver.reset('/peer');
  const sentAt = new Map<string, number>();
  const { sent } = await openLoopTasks({
    count: LATENCY_RATE * LATENCY_SECONDS,
    ratePerSec: LATENCY_RATE,
    maxOutstanding: C,
    timeCapMs: LATENCY_SECONDS * 1000 + 10_000,
    task: (i, at) =>
      p.add(`lat_${i}`, { ...PAYLOAD, seq: i }).then(
        () => void sentAt.set(`lat_${i}`, at),
        () => {},
      ),
  });
  await receiver.waitFor(sentAt.size, DELIVERY_CAP_MS, '/peer');
  const lat = latencies(sentAt, await receiver.times());
  latencyFigures(
    'peer.bullmq.latency',
    `${label}: add → delivery at ${fmtN(LATENCY_RATE)} msg/s`,
    lat,
    `${lat.filter(Number.isFinite).length}/${sent} jobs; from calling queue.add to the receiver having the body.`,
  );
  await p.close();
  peer = null;
}

/** Hookline's end to end as a multiple of the peer's (after both were measured). */
function peerMultiples() {
  const peerE2e = results.get('peer.bullmq.e2e');
  if (!peerE2e) return;
  section('Hookline end to end as a multiple of BullMQ + Redis (same run)');
  const rows: [key: string, label: string, target?: number][] = [
    ['sqlite.full', 'SQLite FULL', TARGETS.sqlite.vsPeer],
    ['postgres.all', 'PostgreSQL, 1 process'],
    ...WORKERS.map((w): [string, string, number?] => [
      `postgres.w${w}`,
      `PostgreSQL, ${w} worker${w === 1 ? '' : 's'}`,
      w === 1 ? TARGETS.postgres.vsPeer : undefined,
    ]),
  ];
  for (const [key, label, target] of rows) {
    const e2e = results.get(`${key}.e2e`);
    if (e2e)
      show(
        results.multiple(
          `${key}.e2e_vs_bullmq`,
          `${label}: end to end ÷ BullMQ`,
          e2e.value,
          peerE2e.value,
          target,
        ),
      );
  }
}

/** PostgreSQL with more workers against one: end to end and deliveries per CPU-second. */
function workerScaling() {
  const one = WORKERS.includes(1) ? 1 : null;
  if (one === null) return;
  const e2e1 = results.get(`postgres.w1${EP_KEY}.e2e`);
  const cpu1 = results.get(`postgres.w1${EP_KEY}.per_cpu_s`);
  if (!e2e1 || !cpu1) return;
  for (const w of WORKERS.filter((w) => w !== 1)) {
    const e2e = results.get(`postgres.w${w}${EP_KEY}.e2e`);
    const cpu = results.get(`postgres.w${w}${EP_KEY}.per_cpu_s`);
    // The targets are of one endpoint (see --e2e-endpoints).
    const oneEndpoint = E2E_ENDPOINTS === 1;
    if (e2e)
      show(
        results.multiple(
          `postgres.w${w}${EP_KEY}.e2e_vs_w1`,
          `PostgreSQL: end to end, ${w} workers ÷ 1 worker${EP_LABEL}`,
          e2e.value,
          e2e1.value,
          oneEndpoint && w === 2 ? TARGETS.moreWorkers : undefined,
          oneEndpoint && w === 2 ? '≥ 1.00× (not slower)' : undefined,
        ),
      );
    if (cpu)
      show(
        results.multiple(
          `postgres.w${w}${EP_KEY}.per_cpu_s_vs_w1`,
          `PostgreSQL: deliveries per CPU-second, ${w} workers ÷ 1 worker${EP_LABEL}`,
          cpu.value,
          cpu1.value,
          oneEndpoint ? TARGETS.perCpuVsOne : undefined,
          oneEndpoint ? `≥ ${TARGETS.perCpuVsOne.toFixed(2)}× (CPU per delivery flat)` : undefined,
        ),
      );
  }
}

/**
 * Rounds of the "flat as data grows" end-to-end figures: one round of 10,000 messages moved
 * 0.61-0.97x between runs of the same build (5 December), more than the 10% it is to tell apart.
 */
const GROW_ROUNDS = QUICK ? 1 : 3;

/**
 * End to end on a running deployment (after a warm-up): `GROW_ROUNDS` rounds of `INGEST_COUNT`
 * published and delivered, the median round's figures, and every round's rate.
 */
async function endToEndMedian(dep: Deployment, path: string) {
  await warmUp(dep, path);
  const rounds: { rate: number; count: number; ms: number }[] = [];
  for (let i = 0; i < GROW_ROUNDS; i++) {
    await receiver.reset();
    const t0 = now();
    const r = await publish(dep.api, path, INGEST_COUNT);
    const d = await receiver.waitFor(r.ok, DELIVERY_CAP_MS);
    rounds.push({ rate: (d.count * 1000) / (d.at - t0), count: d.count, ms: d.at - t0 });
  }
  const median = [...rounds].sort((a, b) => a.rate - b.rate)[Math.floor(rounds.length / 2)]!;
  const all = rounds.map((r) => `${fmtN(Math.round(r.rate))}/s`).join(', ');
  return { ...median, of: rounds.length === 1 ? '' : ` (the median of ${rounds.length} rounds: ${all})` };
}

const pidsOf = (dep: Deployment) => Object.fromEntries(dep.procs.map((p) => [p.name, p.h.proc.pid!]));

/** The largest RSS of the deployment's processes (bytes per process name from an RssSampler), in MB. */
function rssFigure(
  key: string,
  label: string,
  dep: Deployment,
  rss: Record<string, number>,
  when?: string,
  maxMB?: number,
) {
  const mb = Object.fromEntries(Object.entries(rss).map(([n, b]) => [n, b / 1024 / 1024]));
  const max = Math.max(...Object.values(mb));
  show(
    results.other(
      key,
      label,
      max,
      'MB',
      'lower',
      maxMB !== undefined ? { text: `< ${maxMB} MB`, met: max < maxMB } : undefined,
    ),
    `largest RSS of the ${dep.procs.length === 1 ? 'Hookline process' : 'Hookline processes'}${when ? ` ${when}` : ''} (${Object.entries(
      mb,
    )
      .map(([n, v]) => `${n} ${fmtValue(v, 'MB')}`)
      .join(', ')}).`,
  );
}

/** Counts rows of a running server's database (null when the query fails, e.g. a changed schema). */
async function countRows(store: StoreHandle, sql: string): Promise<number | null> {
  const db = await openBulk(store.databaseUrl, { live: true });
  try {
    const row = await db.one(sql);
    return row ? Number(Object.values(row)[0]) : null;
  } catch {
    return null;
  } finally {
    await db.close();
  }
}

/**
 * "Flat as data grows": end to end on an empty database, then with `GROW_MESSAGES` messages (one
 * delivery and 5 attempts each, over 30 days) loaded by SQL; latency at `LATENCY_RATE` without
 * and with retention expiring the oldest third; the server's RSS with `GROW_MESSAGES` deliveries
 * pending (and draining).
 */
async function measureGrow(kind: StoreKind) {
  const key = `${kind}.grow`;
  const store = await createStore(kind);
  const M = GROW_MESSAGES;
  const label = `${store.label}, ${fmtN(M)} messages stored`;
  let dep = await deploy(store, { workers: 1, cpuProfDir: PROFILE_DIR });
  const app = await createApp(dep.api, 'bench', [`${receiver.url}/webhook`]);
  const empty = await endToEndMedian(dep, app.path);
  show(
    results.rate(`${key}.e2e_empty`, `${store.label}, empty database: end to end`, empty.rate),
    `${empty.count} messages published and delivered in ${empty.ms.toFixed(0)} ms${kind === 'postgres' ? ' (1 API + 1 worker)' : ''}${empty.of}.`,
  );
  rssFigure(
    `${key}.rss_empty`,
    `${store.label}, empty database: server RSS after that`,
    dep,
    new RssSampler(pidsOf(dep)).stop(),
  );
  await dep.stop();

  const t0 = now();
  const bulk = await openBulk(store.databaseUrl);
  const history = { messages: M, spanMs: GROW_SPAN_MS, now: Date.now() };
  try {
    await preloadHistory(bulk, {
      ...history,
      appId: app.appId,
      endpointId: app.endpointIds[0]!,
      attemptsPerMessage: GROW_ATTEMPTS_PER_MESSAGE,
      progress: (done) => {
        if (done === M || done % 200_000 === 0)
          console.log(
            `  (loaded ${fmtN(done)}/${fmtN(M)} messages with their deliveries and attempts, ${((now() - t0) / 1000).toFixed(0)} s)`,
          );
      },
    });
  } finally {
    await bulk.close();
  }
  console.log(
    `  (${fmtN(M)} messages, ${fmtN(M)} deliveries and ${fmtN(M * GROW_ATTEMPTS_PER_MESSAGE)} attempts loaded by SQL in ${((now() - t0) / 1000).toFixed(0)} s)`,
  );

  dep = await deploy(store, { workers: 1, cpuProfDir: PROFILE_DIR });
  const grown = await endToEndMedian(dep, app.path);
  show(
    results.rate(`${key}.e2e_grown`, `${label}: end to end`, grown.rate),
    `${grown.count} messages published and delivered in ${grown.ms.toFixed(0)} ms, with ${fmtN(M * GROW_ATTEMPTS_PER_MESSAGE)} attempts stored${grown.of}.`,
  );
  show(
    results.multiple(
      `${key}.grown_vs_empty`,
      `${label}: end to end ÷ empty database`,
      grown.rate,
      empty.rate,
      TARGETS.grownVsEmpty,
      `≥ ${TARGETS.grownVsEmpty.toFixed(2)}× (within 10 %)`,
    ),
  );
  await dep.stop();

  // Latency without and with retention, each on a server just started the same way (warmed up,
  // then measured from when a worker's first retention pass begins): like against like, since
  // a fresh start alone moves the p99.
  dep = await deploy(store, { workers: 1, cpuProfDir: PROFILE_DIR });
  await warmUntilFirstPass(dep, app.path);
  await measurePublishLatency(dep, app.path, `${key}.latency`, label);
  await dep.stop();

  // Retention: the worker's first pass starts 5 s after it starts; it drops whole days first
  // (PostgreSQL's partitions), then deletes the rest in small batches; the latency window opens
  // about then. Counting rows before the start and after the window shows what it did; whether
  // it was still at work during the window, the pass's own log would tell.
  const counts = async () => ({
    // Payloads still there: in their rows (SQLite, and PostgreSQL's from before migration 22),
    // or apart, in message_payload (PostgreSQL).
    payloads: await countRows(
      store,
      kind === 'postgres'
        ? `SELECT (SELECT count(*) FROM message_payload)
                + (SELECT count(*) FROM message WHERE payload IS NOT NULL AND payload_expunged_at IS NULL) AS n`
        : 'SELECT count(*) AS n FROM message WHERE payload_expunged_at IS NULL',
    ),
    attempts: await countRows(store, 'SELECT count(*) AS n FROM attempt'),
    partitions:
      kind === 'postgres'
        ? await countRows(
            store,
            `SELECT count(*) AS n FROM pg_inherits
             WHERE inhparent IN ('attempt'::regclass, 'message_payload'::regclass, 'inbound_body'::regclass)`,
          )
        : 0,
  });
  const before = await counts();
  dep = await deploy(store, {
    workers: 1,
    cpuProfDir: PROFILE_DIR,
    env: { HOOKLINE_RETENTION_DAYS: String(GROW_RETENTION_DAYS) },
  });
  await warmUntilFirstPass(dep, app.path);
  // The target: retention does not move the p99 (at most 10 % above the figure without it).
  const p99Without = results.get(`${key}.latency_p99`)!.value;
  await measurePublishLatency(
    dep,
    app.path,
    `${key}.retention_latency`,
    `${label}, retention running`,
    kind === 'postgres' ? { p99: p99Without * TARGETS.retentionP99 } : {},
  );
  const after = await counts();
  const diff = (a: number | null, b: number | null) => (a === null || b === null ? Number.NaN : b - a);
  // What was published meanwhile added a payload and an attempt each.
  const published = LATENCY_RATE * LATENCY_SECONDS;
  const payloads = -diff(before.payloads, after.payloads) + published;
  const attempts = -diff(before.attempts, after.attempts) + published;
  const partitions = -diff(before.partitions, after.partitions);
  const n = (v: number) => (Number.isNaN(v) ? 'n/a' : `about ${fmtN(v)}`);
  console.log(
    `    from its start to the window's end, retention (HOOKLINE_RETENTION_DAYS=${GROW_RETENTION_DAYS}) removed ${n(payloads)} payloads and ${n(attempts)} attempts${kind === 'postgres' ? `, ${Number.isNaN(partitions) ? 'n/a' : partitions} partitions (net of those it made ahead) dropped whole` : ''}${payloads <= 0 && attempts <= 0 ? ': it did nothing, so this says nothing about retention' : ''}.`,
  );
  await dep.stop();

  // RSS with M deliveries pending: a second endpoint gets one due delivery per stored message.
  dep = await deploy(store, { workers: 0 });
  const pendingEp = await createEndpoint(dep.api, app.appId, `${receiver.url}/pending`);
  await dep.stop();
  const t1 = now();
  const bulk2 = await openBulk(store.databaseUrl);
  try {
    await addPendingDeliveries(bulk2, { endpointId: pendingEp, history, now: Date.now() });
  } finally {
    await bulk2.close();
  }
  console.log(`  (${fmtN(M)} pending deliveries loaded by SQL in ${((now() - t1) / 1000).toFixed(0)} s)`);
  await receiver.reset();
  dep = await deploy(store, { workers: 1, cpuProfDir: PROFILE_DIR });
  const sampler = new RssSampler(pidsOf(dep));
  await sleep(RSS_WINDOW_MS);
  const rss = sampler.stop();
  const delivered = (await receiver.waitFor(0, 1_000, '/pending')).count;
  await dep.stop();
  rssFigure(
    `${key}.rss_pending`,
    `${label}: server RSS with ${fmtN(M)} deliveries pending`,
    dep,
    rss,
    `over the ${RSS_WINDOW_MS / 1000} s after start, while it delivered ${fmtN(delivered)} of them`,
    TARGETS.rssMB,
  );
  await dropStore(store);
}

// ---- the run ----------------------------------------------------------------------------------

async function runSqlite() {
  if (runs('ingest')) {
    section('SQLite: durable ingest with the worker disabled, then the worker drains that backlog');
    await measureIngestOnly('FULL');
    await measureIngestOnly('NORMAL');
  }
  if (runs('e2e')) await sqliteEndToEnd();
  if (runs('inbound')) {
    section('SQLite: inbound gateway, requests to /in/{source} acknowledged, and acknowledgement latency');
    await measureInbound('FULL');
  }
  if (runs('drain')) {
    section(`SQLite: draining a backlog of ${fmtN(BACKLOG)} due deliveries, new messages meanwhile`);
    await measureDrain('sqlite', 1);
    await measureDrain('sqlite', 100);
  }
}

async function sqliteEndToEnd() {
  section(
    `SQLite: ingest with delivery running, end to end, CPU per delivery, latency at ${fmtN(LATENCY_RATE)} msg/s`,
  );
  const t = TARGETS.sqlite;
  await measureEndToEnd({
    kind: 'sqlite',
    workers: 1,
    sync: 'FULL',
    key: 'sqlite.full',
    label: 'SQLite FULL',
    targets: { e2e: t.e2e, ingest: t.ingest, p50: t.p50, p99: t.p99 },
  });
  await measureEndToEnd({
    kind: 'sqlite',
    workers: 1,
    sync: 'NORMAL',
    key: 'sqlite.normal',
    label: 'SQLite NORMAL',
    targets: {},
  });
}

async function runPostgres() {
  const t = TARGETS.postgres;
  if (runs('ingest')) {
    section('PostgreSQL: durable ingest, one API process with no worker');
    const store = await createStore('postgres');
    const { api } = await ingestOnly(store, 'postgres', 'PostgreSQL');
    await api.stop();
    await dropStore(store);
  }
  if (runs('e2e') && COMBINED) {
    // `hookline serve`'s default: its own new deliveries go from the commit to its sender.
    section('PostgreSQL: 1 process serving the API and delivering');
    await measureEndToEnd({
      kind: 'postgres',
      workers: 1,
      combined: true,
      key: 'postgres.all',
      label: 'PostgreSQL, 1 process',
      targets: {},
    });
  }
  for (const w of runs('e2e') ? WORKERS : []) {
    section(`PostgreSQL: 1 API process + ${w} worker process${w === 1 ? '' : 'es'}`);
    await measureEndToEnd({
      kind: 'postgres',
      workers: w,
      key: `postgres.w${w}`,
      label: `PostgreSQL, ${w} worker${w === 1 ? '' : 's'}`,
      targets: w === 1 ? { e2e: t.e2e, p50: t.p50, p99: t.p99 } : {},
    });
  }
  if (runs('e2e') && WORKERS.length > 1) {
    section('PostgreSQL: more workers against one');
    workerScaling();
  }
  if (runs('drain')) {
    section(`PostgreSQL: draining a backlog of ${fmtN(BACKLOG)} due deliveries, new messages meanwhile`);
    await measureDrain('postgres', 1);
    await measureDrain('postgres', 100);
  }
}

function printSummary(seconds: number) {
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  console.log(`\nSummary (Markdown; ratios are of the ceiling measured in this run)\n`);
  console.log(results.markdown(command, seconds));
  if (args.json) {
    results.write(args.json, command, seconds);
    console.log(`\nFigures written to ${args.json} (compare two runs: node bench/compare.ts A.json B.json)`);
  }
  if (PROFILE_DIR) {
    console.log(`\nCPU profiles of the Hookline processes: ${PROFILE_DIR}`);
    console.log('  summarize one with: node bench/profile-summary.ts <file.cpuprofile>');
  }
}

async function main() {
  const t0 = Date.now();
  console.log(
    `Hookline benchmark${QUICK ? ' (--quick)' : ''}: Node ${process.version}, ${availableParallelism()} CPUs, client concurrency ${C}, store ${STORES.join(' and ')}.`,
  );
  console.log(
    '  The load client (this process), the receiver and Hookline (and PostgreSQL, Redis) share the machine; Hookline runs like `npm start`, default delivery settings, 1 KB payloads.',
  );
  section('Raw loopback ceiling');
  receiver = await startReceiverProcess();
  await measureCeiling(false);

  if (runs('peer')) {
    section('Peer: a do-it-yourself BullMQ + Redis stack (producer -> Redis -> worker process -> receiver)');
    await measurePeer();
  }
  if (STORES.includes('sqlite')) await runSqlite();
  if (STORES.includes('postgres')) await runPostgres();
  if (runs('grow')) {
    for (const kind of STORES) {
      section(
        `${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: flat as data grows (${fmtN(GROW_MESSAGES)} messages, ${fmtN(GROW_MESSAGES * GROW_ATTEMPTS_PER_MESSAGE)} attempts)`,
      );
      await measureGrow(kind);
    }
  }
  peerMultiples();
  section('Raw loopback ceiling, again');
  await measureCeiling(true);
  await cleanup();
  printSummary((Date.now() - t0) / 1000);
}

async function cleanup() {
  await peer?.close().catch(() => {});
  peer = null;
  await stopEverything();
  await receiver?.close().catch(() => {});
}

// A safety net over the per-phase caps: the whole run stops after this long.
const capMinutes =
  (STORES.includes('sqlite') ? (QUICK ? 5 : 10) : 0) +
  (STORES.includes('postgres') ? (QUICK ? 6 : 12) : 0) +
  (runs('peer') ? 2 : 0) +
  (runs('grow') ? STORES.length * (QUICK ? 10 : 45) : 0);
const watchdog = setTimeout(() => {
  console.error(`bench: over the ${capMinutes}-minute cap; stopping`);
  void cleanup().finally(() => process.exit(1));
}, capMinutes * 60_000);
watchdog.unref();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`bench: ${sig}; stopping what it started`);
    void cleanup().finally(() => process.exit(130));
  });
}

main()
  .catch(async (err: unknown) => {
    console.error(err);
    await cleanup();
    process.exitCode = 1;
  })
  .finally(() => clearTimeout(watchdog));
