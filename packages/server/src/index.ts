/**
 * Hookline as a library: `import { startHookline } from 'hookline'` starts a complete Hookline
 * (API, delivery worker, dashboard) in the current process, for tests of your own application
 * and for embedding. `createHookline` and `loadConfig` give full control.
 *
 * ```ts
 * const hookline = await startHookline(); // SQLite in a temporary directory, a free port, dev mode
 * // hookline.url, hookline.adminToken: use the Svix-compatible API at `${hookline.url}/api/v1`
 * await hookline.close();
 * ```
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HooklineConfig, loadConfig } from './config.ts';
import { createHookline, type Hookline, type HooklineDeps, VERSION } from './hookline.ts';

export { ConfigError, DEFAULT_CONFIG, type HooklineConfig, loadConfig } from './config.ts';
export { createHookline, type Hookline, type HooklineDeps, StartupError, VERSION } from './hookline.ts';

/** Options for {@link startHookline}; anything else comes from {@link HooklineConfig} overrides. */
export interface StartHooklineOptions {
  /**
   * `sqlite:<path>` or `postgres://...`. Default: a SQLite file in a new temporary directory,
   * deleted by `close()`.
   */
  readonly databaseUrl?: string | undefined;
  /** Port to listen on; default 0 (a free port: read `url`). */
  readonly port?: number | undefined;
  /** Address to listen on; default 127.0.0.1. */
  readonly host?: string | undefined;
  /** The admin (bearer) token; default a new random one (read `adminToken`). */
  readonly adminToken?: string | undefined;
  /**
   * Development mode: deliveries to localhost and private addresses allowed (your test
   * receiver is on localhost). Default true; needs a loopback `host`.
   */
  readonly dev?: boolean | undefined;
  /** Log level; default `warn`. */
  readonly logLevel?: HooklineConfig['logLevel'] | undefined;
  /** Further settings, as the `HOOKLINE_*` environment variables would set them. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Further settings as configuration fields (applied last). */
  readonly config?: Partial<HooklineConfig> | undefined;
  /** A clock or logger of your own. */
  readonly deps?: HooklineDeps | undefined;
}

/** A running Hookline. */
export interface RunningHookline {
  /** Base URL, e.g. `http://127.0.0.1:40123`; the API is under `/api/v1`. */
  readonly url: string;
  /** Bearer token for the API (`Authorization: Bearer <adminToken>`). */
  readonly adminToken: string;
  readonly version: string;
  /** The Hookline itself (store, config, dispatcher). */
  readonly hookline: Hookline;
  /** Stops it (deliveries in flight get `graceMs`, default 1 s) and removes its temporary directory. */
  close(graceMs?: number): Promise<void>;
}

/** Creates and starts a Hookline in this process. */
export async function startHookline(options: StartHooklineOptions = {}): Promise<RunningHookline> {
  const tempDir = options.databaseUrl === undefined ? mkdtempSync(join(tmpdir(), 'hookline-')) : null;
  const adminToken = options.adminToken ?? `hl_admin_${randomBytes(24).toString('base64url')}`;
  const cleanup = () => {
    if (tempDir !== null) rmSync(tempDir, { recursive: true, force: true });
  };
  let hookline: Hookline;
  let url: string | null;
  try {
    const config = loadConfig(
      { ...options.env },
      {
        databaseUrl: options.databaseUrl ?? `sqlite:${join(tempDir ?? '.', 'hookline.db')}`,
        host: options.host ?? '127.0.0.1',
        port: options.port ?? 0,
        adminToken,
        dev: options.dev ?? true,
        logLevel: options.logLevel ?? 'warn',
        ...options.config,
      },
    );
    hookline = await createHookline(config, options.deps);
  } catch (err) {
    cleanup();
    throw err;
  }
  try {
    url = await hookline.start();
  } catch (err) {
    await hookline.close();
    cleanup();
    throw err;
  }
  if (url === null) {
    await hookline.close();
    cleanup();
    throw new Error('startHookline runs the API: do not set role to worker');
  }
  return {
    url,
    adminToken,
    version: VERSION,
    hookline,
    async close(graceMs = 1_000) {
      try {
        await hookline.close(graceMs);
      } finally {
        cleanup();
      }
    },
  };
}
