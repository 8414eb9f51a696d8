/**
 * PostgreSQL for tests: the real server on this machine (HOOKLINE_TEST_PG_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres). Each test file gets its own database, cloned
 * from a migrated template, so files run in parallel; the template is built once (under an
 * advisory lock) per version of the migrations.
 *
 * When PostgreSQL is not reachable the PostgreSQL tests are skipped with the reason, except in
 * CI (CI=true), where they fail: CI must run them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import pg from 'pg';
import { createSecretBox } from '../src/core/secret-box.ts';
import { POSTGRES_MIGRATIONS } from '../src/store/postgres/migrations.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';

export const PG_ADMIN_URL = process.env.HOOKLINE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The secret key every process of a PostgreSQL test shares. */
export const PG_SECRET_KEY = 'hookline-test-secret-key-shared-by-postgres-tests';
const TEMPLATE_LOCK = 7_240_002;

/** `PG_ADMIN_URL` with another database name. */
export function pgUrl(database: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

let availability: Promise<string | null> | null = null;
/** Null when PostgreSQL answers; otherwise why not. */
export function pgUnavailableReason(): Promise<string | null> {
  availability ??= (async () => {
    // Generous: a busy machine (a parallel test run) can take seconds to accept a connection.
    const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 10_000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return null;
    } catch (err) {
      return `PostgreSQL at ${PG_ADMIN_URL} is not reachable (${(err as Error).message})`;
    } finally {
      await c.end().catch(() => {});
    }
  })();
  return availability;
}

/**
 * Options for `describe`/`test`: `{ skip: reason }` when PostgreSQL is missing outside CI.
 * In CI a missing PostgreSQL throws, so the run fails instead of passing without it.
 */
export async function pgTestOptions(): Promise<{ skip?: string }> {
  const reason = await pgUnavailableReason();
  if (reason === null) return {};
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must run the PostgreSQL suite`);
  const message = `PostgreSQL suite skipped: ${reason}. Start PostgreSQL or set HOOKLINE_TEST_PG_URL.`;
  process.stderr.write(`# ${message}\n`);
  return { skip: message };
}

/** Runs `fn` on a connection to the server's admin database (creating and dropping databases). */
export async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

const templateName = () =>
  `hookline_template_${createHash('sha256').update(JSON.stringify(POSTGRES_MIGRATIONS)).digest('hex').slice(0, 12)}`;

async function ensureTemplate(c: pg.Client): Promise<string> {
  const name = templateName();
  const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount) return name;
  // Templates of earlier versions of the migrations are no longer needed.
  const stale = await c.query(
    "SELECT datname FROM pg_database WHERE datname LIKE 'hookline\\_template\\_%' AND datname <> $1",
    [name],
  );
  for (const r of stale.rows) {
    await c.query(`ALTER DATABASE ${r.datname} WITH IS_TEMPLATE false`);
    await c.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`);
  }
  await c.query(`CREATE DATABASE ${name}`);
  const store = createPostgresStore({ url: pgUrl(name), secretBox: createSecretBox(PG_SECRET_KEY) });
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
  await c.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE true`);
  return name;
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A new, migrated, empty database for one test file (or one test); `schema: false` skips the schema. */
export async function createTestDatabase(
  label = 'db',
  options: { schema?: boolean } = {},
): Promise<TestDatabase> {
  const name = `hookline_t_${label.replace(/[^a-z0-9_]/gi, '').toLowerCase()}_${randomBytes(5).toString('hex')}`;
  await admin(async (c) => {
    if (options.schema === false) {
      await c.query(`CREATE DATABASE ${name}`);
      return;
    }
    await c.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    try {
      const template = await ensureTemplate(c);
      await c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
    }
  });
  return {
    name,
    url: pgUrl(name),
    drop: () =>
      admin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }),
  };
}

/**
 * A new database with the schema as it was before migration `version` (an older Hookline's, to
 * upgrade in a test), and a client on it; end the client before the store migrates.
 */
export async function createDatabaseBefore(
  label: string,
  version: number,
): Promise<{ database: TestDatabase; client: pg.Client }> {
  const database = await createTestDatabase(label, { schema: false });
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at BIGINT)',
  );
  for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version < version)) {
    await client.query(m.sql);
    await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)', [
      m.version,
      m.name,
    ]);
  }
  return { database, client };
}

/**
 * A TCP proxy on 127.0.0.1 in front of PostgreSQL that a test can cut and restore, to play a
 * database outage without touching the shared server. While cut, open connections are reset
 * and new ones are refused (accepted and reset at once).
 */
export interface PgProxy {
  port: number;
  /** A database URL through the proxy. */
  url(database: string): string;
  /** Resets every connection and refuses new ones (a crashed or restarting server). */
  cut(): void;
  /**
   * Stops forwarding without closing anything, and accepts new connections that never answer
   * (a network partition): only timeouts can tell.
   */
  stall(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startPgProxy(): Promise<PgProxy> {
  const target = new URL(PG_ADMIN_URL);
  const sockets = new Set<Socket>();
  let down = false;
  let stalled = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    if (stalled) {
      // Accept and say nothing; dropped when the proxy is restored.
      sockets.add(client);
      client.on('error', () => {});
      return;
    }
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url(database) {
      const u = new URL(PG_ADMIN_URL);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      u.pathname = `/${database}`;
      return u.toString();
    },
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    stall() {
      stalled = true;
      for (const sock of sockets) {
        sock.unpipe();
        sock.pause();
      }
    },
    restore() {
      // Connections that lived through a stall are broken: drop them, as a real network would.
      if (stalled) {
        for (const sock of sockets) sock.destroy();
        sockets.clear();
      }
      down = false;
      stalled = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A store a test can run on: SQLite (the default of `startHookline`) or a PostgreSQL database. */
export interface TestStoreKind {
  name: 'sqlite' | 'postgres';
  /** `describe`/`test` options: skips PostgreSQL when it is missing outside CI. */
  options: { skip?: string };
  /** HOOKLINE_* settings for a fresh database, and how to remove it. */
  open(label: string): Promise<{ env: Record<string, string>; drop(): Promise<void> }>;
}

/** The stores to run on (HOOKLINE_TEST_STORES=sqlite,postgres narrows the list). */
export async function testStores(): Promise<TestStoreKind[]> {
  const selected = process.env.HOOKLINE_TEST_STORES?.split(',').map((s) => s.trim());
  const kinds: TestStoreKind[] = [];
  if (!selected || selected.includes('sqlite')) {
    kinds.push({ name: 'sqlite', options: {}, open: async () => ({ env: {}, drop: async () => {} }) });
  }
  if (!selected || selected.includes('postgres')) {
    kinds.push({
      name: 'postgres',
      options: await pgTestOptions(),
      async open(label) {
        const db = await createTestDatabase(label);
        return {
          env: { HOOKLINE_DATABASE_URL: db.url, HOOKLINE_SECRET_KEY: PG_SECRET_KEY },
          drop: () => db.drop(),
        };
      },
    });
  }
  return kinds;
}
