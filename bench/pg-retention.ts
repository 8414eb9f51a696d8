/**
 * A PostgreSQL retention pass timed alone: `node bench/pg-retention.ts [flags]`.
 *
 * What a worker's first pass costs the database when retention has days to catch up on (turned
 * on, or shortened), without the noise of the latency it moves (`npm run bench -- --grow`,
 * "retention running", reads that latency at 1,000 msg/s and moves tens of milliseconds between
 * runs on a shared machine). A database gets `--messages` messages over 30 days, one delivered
 * delivery and 5 attempts each, loaded by SQL as the bench's `--grow` loads them; then, on a new
 * copy of it for each pass, this checkout's retention (`createRetention`, with its pacing) runs
 * one pass at `--hour` o'clock UTC of the history's last day with `HOOKLINE_RETENTION_DAYS` =
 * `--days`. Prints what the pass removed, the CPU seconds PostgreSQL's processes for the copy
 * spent (from /proc: PostgreSQL runs on this machine) and the pass's time (most of it the pauses
 * its pacing takes between drops and batches).
 *
 *   --messages N   messages of history (default 200,000; 1,000,000 is the bench's `--grow`)
 *   --days N       the retention period in days (default 20: a third of the history expires)
 *   --hour H       the UTC hour of the pass (default 23: most of the oldest day is expired; at 1
 *                  little of it is)
 *   --repeat N     passes, each on a new copy of the loaded database (default 3)
 *   --template DB  a database loaded by an earlier run with `--keep`: no loading (its schema is
 *                  of the checkout that loaded it; each pass's store migrates its copy)
 *   --keep         keep the loaded database and print its name, for `--template`
 *   --json FILE    also write the medians as figures (`bench/compare.ts`; `node bench/ab.ts A B
 *                  --script pg-retention.ts -- --template DB` alternates two revisions)
 *
 * Uses HOOKLINE_TEST_PG_URL like the tests (default the local server, trust auth).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { createManualClock } from '../packages/server/src/core/clock.ts';
import { createSecretBox } from '../packages/server/src/core/secret-box.ts';
import { createRetention } from '../packages/server/src/delivery/retention.ts';
import { createPostgresStore } from '../packages/server/src/store/postgres/postgres-store.ts';
import { admin, createTestDatabase, PG_SECRET_KEY, pgUrl } from '../packages/server/test/pg.ts';
import { deploy, stopEverything } from './deploy.ts';
import { Results } from './figures.ts';
import { median, sleep, startReceiverProcess, wholeNumber } from './lib.ts';
import { openBulk, preloadHistory } from './preload.ts';
import { cpuSeconds, postgresProcesses } from './proc.ts';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    days: { type: 'string', default: '20' },
    hour: { type: 'string', default: '23' },
    repeat: { type: 'string', default: '3' },
    template: { type: 'string' },
    keep: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const MESSAGES = wholeNumber('messages', args.messages!);
const DAYS = wholeNumber('days', args.days!);
const HOUR = Number(args.hour);
if (!Number.isInteger(HOUR) || HOUR < 0 || HOUR > 23) {
  console.error('--hour: a whole number from 0 to 23');
  process.exit(2);
}
const REPEAT = wholeNumber('repeat', args.repeat!);
const DAY = 86_400_000;
const SPAN_MS = 30 * DAY;

/** Loads a new database with the history; returns its name (kept: the caller drops it). */
async function load(): Promise<string> {
  const receiver = await startReceiverProcess();
  // Not the bench's createStore: its databases are dropped when the program ends (--keep).
  const db = await createTestDatabase('bench_retention');
  try {
    const store = {
      kind: 'postgres',
      label: 'PostgreSQL',
      databaseUrl: db.url,
      dbName: db.name,
      drop: db.drop,
    } as const;
    const dep = await deploy(store, { workers: 1 });
    const app = await dep.api.call('POST', '/api/v1/app', { name: 'retention', uid: 'retention' });
    const ep = await dep.api.call('POST', `/api/v1/app/${app.body.id}/endpoint`, {
      url: `${receiver.url}/webhook`,
    });
    if (app.status !== 201 || ep.status !== 201) throw new Error('creating the application failed');
    // One delivered message: the templates of the history's rows.
    const msg = await dep.api.call('POST', `/api/v1/app/${app.body.id}/msg`, {
      eventType: 'bench.retention',
      payload: { n: 0 },
    });
    if (msg.status !== 202) throw new Error(`publishing failed: ${msg.status}`);
    for (let i = 0; i < 100; i++) {
      const a = await dep.api.call('GET', `/api/v1/app/${app.body.id}/attempt/msg/${msg.body.id}`);
      if (a.status === 200 && a.body.data.length > 0) break;
      await sleep(100);
    }
    await dep.stop();
    const started = performance.now();
    const bulk = await openBulk(store.databaseUrl);
    try {
      await preloadHistory(bulk, {
        messages: MESSAGES,
        spanMs: SPAN_MS,
        now: Date.now(),
        appId: app.body.id,
        endpointId: ep.body.id,
        attemptsPerMessage: 5,
      });
    } finally {
      await bulk.close();
    }
    console.log(
      `  loaded ${MESSAGES.toLocaleString('en-US')} messages and ${(MESSAGES * 5).toLocaleString('en-US')} attempts in ${((performance.now() - started) / 1000).toFixed(0)} s: ${store.dbName}`,
    );
    return store.dbName;
  } catch (err) {
    await db.drop();
    throw err;
  } finally {
    await receiver.close();
  }
}

interface Pass {
  pgCpu: number;
  seconds: number;
  partitions: number;
  payloads: number;
  attempts: number;
}

/** One pass on a new copy of `template`, with this checkout's store and retention. */
async function pass(template: string, i: number): Promise<Pass> {
  const copy = `hookline_t_bench_retention_${process.pid}_${i}`;
  await admin((c) => c.query(`CREATE DATABASE ${copy} TEMPLATE ${template}`));
  const store = createPostgresStore({ url: pgUrl(copy), secretBox: createSecretBox(PG_SECRET_KEY) });
  try {
    await store.migrate();
    // The history's last message: the pass runs at --hour of its day.
    const c = new pg.Client({ connectionString: pgUrl(copy) });
    await c.connect();
    const end = await c
      .query('SELECT max(created_at) AS t FROM message')
      .then((r) => Number(r.rows[0].t))
      .finally(() => c.end());
    const clock = createManualClock(Math.floor(end / DAY) * DAY + HOUR * 3_600_000);
    const retention = createRetention({
      store,
      clock,
      logger: pino({ level: 'silent' }),
      retentionMs: DAYS * DAY,
    });
    await retention.stop();
    const cpu = () => postgresProcesses(copy).backends.reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
    const cpu0 = cpu();
    const started = performance.now();
    const removed = await retention.runOnce();
    const seconds = (performance.now() - started) / 1000;
    // Read before the store closes: its connections are the backends counted.
    const pgCpu = cpu() - cpu0;
    return { pgCpu, seconds, ...removed };
  } finally {
    await store.close();
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`));
  }
}

let template = args.template;
const loaded = template === undefined;
try {
  console.log(
    `PostgreSQL retention pass: ${DAYS} of 30 days expired at ${String(HOUR).padStart(2, '0')}:00 UTC, ${REPEAT} passes`,
  );
  template ??= await load();
  const all: Pass[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const p = await pass(template, i);
    all.push(p);
    console.log(
      `  pass ${i + 1}: PostgreSQL CPU ${p.pgCpu.toFixed(2)} s, ${p.seconds.toFixed(1)} s in all; ${p.partitions} partitions dropped, ${p.payloads.toLocaleString('en-US')} payloads and ${p.attempts.toLocaleString('en-US')} attempts deleted row by row`,
    );
  }
  const m = (f: (p: Pass) => number) => median(all.map(f));
  console.log(
    `  median: PostgreSQL CPU ${m((p) => p.pgCpu).toFixed(2)} s, ${m((p) => p.seconds).toFixed(1)} s in all`,
  );
  if (args.json !== undefined) {
    const results = new Results();
    results.other(
      'retention.pg_cpu',
      'retention pass: PostgreSQL CPU',
      m((p) => p.pgCpu) * 1000,
      'ms',
      'lower',
    );
    results.other(
      'retention.time',
      'retention pass: time, pauses included',
      m((p) => p.seconds) * 1000,
      'ms',
      'lower',
    );
    results.write(
      args.json,
      `node bench/pg-retention.ts ${process.argv.slice(2).join(' ')}`,
      performance.now() / 1000,
    );
  }
} finally {
  if (loaded && template !== undefined && !args.keep)
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`));
  else if (loaded && template !== undefined) console.log(`  kept: --template ${template}`);
  await stopEverything();
}
