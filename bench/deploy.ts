/**
 * Hookline as the bench runs it: a fresh database (a SQLite file in a temp dir, or a new
 * PostgreSQL database on the local server) and the server processes on it, each started like
 * `npm start` with HOOKLINE_* settings. Everything created here is remembered, so that
 * `stopEverything()` stops it even when a phase fails.
 */
import { join } from 'node:path';
import { spawnHookline } from '../packages/server/test/child.ts';
import { createTestDatabase, PG_SECRET_KEY } from '../packages/server/test/pg.ts';
import { metricValue } from '../packages/server/test/prometheus.ts';
import { type HooklineProc, removeDir, tempDir } from './lib.ts';
import { postgresProcesses } from './proc.ts';

export type StoreKind = 'sqlite' | 'postgres';
export type Sync = 'FULL' | 'NORMAL';

export interface StoreHandle {
  kind: StoreKind;
  /** `SQLite` or `PostgreSQL`, for labels. */
  label: string;
  databaseUrl: string;
  /** The PostgreSQL database's name (empty for SQLite). */
  dbName: string;
  /** Removes the file or drops the database. */
  drop(): Promise<void>;
}

export interface Deployment {
  store: StoreHandle;
  /** The process that serves the HTTP API. */
  api: HooklineProc;
  /**
   * Every Hookline process, named `hookline` (SQLite, one process), `api`, `worker 1`, ..., with
   * where it serves `/metrics` (a worker on a port of its own, HOOKLINE_METRICS_PORT).
   */
  procs: { name: string; h: HooklineProc; metricsUrl: string }[];
  stop(): Promise<void>;
}

const stores = new Set<StoreHandle>();
const deployments = new Set<Deployment>();

export async function createStore(kind: StoreKind): Promise<StoreHandle> {
  let store: StoreHandle;
  if (kind === 'sqlite') {
    const dir = tempDir();
    store = {
      kind,
      label: 'SQLite',
      databaseUrl: `sqlite:${join(dir, 'hookline.db')}`,
      dbName: '',
      drop: async () => removeDir(dir),
    };
  } else {
    const db = await createTestDatabase('bench');
    store = { kind, label: 'PostgreSQL', databaseUrl: db.url, dbName: db.name, drop: () => db.drop() };
  }
  stores.add(store);
  return store;
}

export async function dropStore(store: StoreHandle): Promise<void> {
  stores.delete(store);
  await store.drop();
}

/**
 * Starts Hookline on `store`. `workers: 0`: the API only (HOOKLINE_ROLE=api, nothing is
 * delivered). Otherwise on SQLite one process with both roles (the SQLite store is for one
 * process), on PostgreSQL one API process and `workers` worker processes, or with `combined` one
 * process with both roles (`hookline serve`'s default).
 */
export async function deploy(
  store: StoreHandle,
  options: {
    workers: number;
    combined?: boolean;
    sync?: Sync;
    env?: Record<string, string>;
    cpuProfDir?: string | null;
  },
): Promise<Deployment> {
  const env = (role: string): Record<string, string> => ({
    HOOKLINE_DATABASE_URL: store.databaseUrl,
    HOOKLINE_ROLE: role,
    ...(store.kind === 'postgres' ? { HOOKLINE_SECRET_KEY: PG_SECRET_KEY } : {}),
    ...(store.kind === 'sqlite' ? { HOOKLINE_SQLITE_SYNCHRONOUS: options.sync ?? 'FULL' } : {}),
    ...options.env,
  });
  const start = async (name: string, role: string) => {
    const h = await spawnHookline({
      env: env(role),
      // A worker-only process serves /metrics on a port of its own.
      ownMetricsPort: role === 'worker',
      nodeArgs: options.cpuProfDir
        ? [
            '--cpu-prof',
            `--cpu-prof-dir=${options.cpuProfDir}`,
            `--cpu-prof-name=hookline-${store.kind}-${name.replace(' ', '')}-${Date.now()}.cpuprofile`,
          ]
        : [],
    });
    return { name, h, metricsUrl: h.metricsUrl };
  };

  const procs: Deployment['procs'] = [];
  const dep: Deployment = {
    store,
    api: null as unknown as HooklineProc,
    procs,
    async stop() {
      deployments.delete(dep);
      // Workers first, so nothing is claimed after the API is gone; then the API.
      for (const p of [...procs].reverse()) await p.h.stop().catch(() => {});
    },
  };
  deployments.add(dep);
  try {
    if (store.kind === 'sqlite' || options.workers === 0 || options.combined) {
      const role = options.workers === 0 ? 'api' : 'all';
      procs.push(await start(store.kind === 'sqlite' ? 'hookline' : 'api', role));
    } else {
      procs.push(await start('api', 'api'));
      procs.push(
        ...(await Promise.all(
          Array.from({ length: options.workers }, (_, i) => start(`worker ${i + 1}`, 'worker')),
        )),
      );
    }
  } catch (err) {
    await dep.stop();
    throw err;
  }
  dep.api = procs[0]!.h;
  return dep;
}

/** What the deployment's processes counted so far (`engineTotals`). */
export interface EngineTotals {
  /** The dispatchers' claims: leased some, came back empty; and the deliveries they leased. */
  leased: number;
  empty: number;
  deliveries: number;
  /** The dispatchers' claims that came back, and the seconds they took (database round trip included). */
  timedClaims: number;
  claimSeconds: number;
  /** Group commits of new messages and of attempt outcomes: transactions, and items in them. */
  ingestCommits: number;
  ingestItems: number;
  outcomeCommits: number;
  outcomeItems: number;
}

export const NO_TOTALS: EngineTotals = {
  leased: 0,
  empty: 0,
  deliveries: 0,
  timedClaims: 0,
  claimSeconds: 0,
  ingestCommits: 0,
  ingestItems: 0,
  outcomeCommits: 0,
  outcomeItems: 0,
};

/**
 * The dispatchers' claims and the group commits so far, summed over the deployment's processes
 * (`hookline_claims_total`, `hookline_claimed_deliveries_total`, `hookline_claim_duration_seconds`,
 * `hookline_write_batch_size`).
 */
export async function engineTotals(dep: Deployment): Promise<EngineTotals> {
  const total = { ...NO_TOTALS };
  for (const p of dep.procs) {
    const text = await (await fetch(p.metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
    const value = (name: string, labels: Record<string, string>) => metricValue(text, name, labels) ?? 0;
    total.leased += value('hookline_claims_total', { claimer: 'dispatcher', result: 'leased' });
    total.empty += value('hookline_claims_total', { claimer: 'dispatcher', result: 'empty' });
    total.deliveries += value('hookline_claimed_deliveries_total', { claimer: 'dispatcher' });
    total.timedClaims += value('hookline_claim_duration_seconds_count', { claimer: 'dispatcher' });
    total.claimSeconds += value('hookline_claim_duration_seconds_sum', { claimer: 'dispatcher' });
    total.ingestCommits += value('hookline_write_batch_size_count', { kind: 'ingest' });
    total.ingestItems += value('hookline_write_batch_size_sum', { kind: 'ingest' });
    total.outcomeCommits += value('hookline_write_batch_size_count', { kind: 'outcomes' });
    total.outcomeItems += value('hookline_write_batch_size_sum', { kind: 'outcomes' });
  }
  return total;
}

/** PIDs per group for the CPU meter: Hookline's API and workers, PostgreSQL's processes. */
export function processGroups(dep: Deployment): () => Record<string, number[]> {
  const api = dep.procs.filter((p) => !p.name.startsWith('worker')).map((p) => p.h.proc.pid!);
  const workers = dep.procs.filter((p) => p.name.startsWith('worker')).map((p) => p.h.proc.pid!);
  return () => {
    const groups: Record<string, number[]> = { api };
    if (workers.length > 0) groups.workers = workers;
    if (dep.store.kind === 'postgres') {
      const pg = postgresProcesses(dep.store.dbName);
      groups.postgres = pg.backends;
      groups.postgresShared = pg.shared;
    }
    return groups;
  };
}

/** Stops every Hookline process and removes every database this module started or created. */
export async function stopEverything(): Promise<void> {
  for (const d of [...deployments]) await d.stop().catch(() => {});
  for (const s of [...stores]) await dropStore(s).catch(() => {});
}
