/**
 * Hookline in a child process, started the way its users start it (`node .../main.ts serve`, or
 * `npm start`) with settings in HOOKLINE_* variables. Used by the crash test, the CLI test and
 * the benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** The admin token every test and benchmark server is started with. */
export const ADMIN_TOKEN = 'hl_test_admin_token';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const MAIN = resolve(ROOT, 'packages/server/src/cli/main.ts');

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

export interface HooklineChild {
  url: string;
  /** Its `/metrics` URL: on its own port with `ownMetricsPort`, else on the API's. */
  metricsUrl: string;
  proc: ChildProcess;
  /** The last 20 kB of what it printed. */
  output(): string;
  /** Resolves with the exit code, or the signal that ended it. */
  exited: Promise<number | string | null>;
  /** Calls the API with the admin token. */
  call<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Sends a signal (to npm and the server together when started through npm). */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM (graceful shutdown), SIGKILL after 15 s; resolves once it has exited. */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** HOOKLINE_* settings; the port is chosen here unless given. */
  env?: Record<string, string>;
  /** Start through `npm start` (as the README does) instead of node directly. */
  viaNpm?: boolean;
  /** Extra node flags, such as `--cpu-prof`. */
  nodeArgs?: string[];
  cwd?: string;
  /**
   * `/metrics` on a port of its own (HOOKLINE_METRICS_PORT), chosen here like the API's: how a
   * worker-only process serves it. Found in `HooklineChild.metricsUrl`.
   */
  ownMetricsPort?: boolean;
}

/**
 * Starts Hookline and waits until it has printed its start line (it prints it once it listens)
 * and `/health` answers 200, or a worker has started (20 s at most). A port chosen here (the
 * API's, unless HOOKLINE_PORT is given, and the metrics port with `ownMetricsPort`) can be taken
 * by another listener between `freePort` and the server's own listen: then the server stops with
 * "port ... is in use", and it is started again on other ports.
 */
export async function spawnHookline(options: SpawnOptions = {}): Promise<HooklineChild> {
  const fixed = options.env?.HOOKLINE_PORT;
  for (let tries = 1; ; tries++) {
    const port = fixed ?? String(await freePort());
    const metricsPort = options.ownMetricsPort ? String(await freePort()) : null;
    try {
      return await spawnOn(options, port, metricsPort);
    } catch (err) {
      // A port given by the caller is theirs to choose again.
      if (!(err instanceof PortTaken) || err.port === fixed || tries >= 5) throw err;
    }
  }
}

/** The server could not listen on a port chosen for it: another listener took it first. */
class PortTaken extends Error {
  readonly port: string;
  constructor(message: string, port: string) {
    super(message);
    this.port = port;
  }
}

async function spawnOn(
  options: SpawnOptions,
  port: string,
  metricsPort: string | null,
): Promise<HooklineChild> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    HOOKLINE_HOST: '127.0.0.1',
    HOOKLINE_ADMIN_TOKEN: ADMIN_TOKEN,
    HOOKLINE_ALLOW_PRIVATE_NETWORKS: 'true',
    ...options.env,
    HOOKLINE_PORT: port,
    ...(metricsPort !== null ? { HOOKLINE_METRICS_PORT: metricsPort } : {}),
  };
  const proc = options.viaNpm
    ? // Its own process group, so a signal reaches npm and the server it started together.
      spawn('npm', ['start', '--prefix', ROOT], {
        cwd: options.cwd ?? ROOT,
        env,
        stdio: 'pipe',
        detached: true,
      })
    : spawn(process.execPath, [...(options.nodeArgs ?? []), MAIN, 'serve'], {
        cwd: options.cwd ?? ROOT,
        env,
        stdio: 'pipe',
      });
  let out = '';
  const keep = (c: Buffer) => {
    out = (out + c.toString()).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  // 'close', not 'exit': it also waits for the output pipes to close. Under `npm start` npm can
  // exit before the server it started has printed its last lines (and the server holds the pipes).
  const exited = new Promise<number | string | null>((ok) =>
    proc.once('close', (code, sig) => ok(sig ?? code)),
  );
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (options.viaNpm) process.kill(-proc.pid!, sig);
      else proc.kill(sig);
    } catch {
      // already gone
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  // A worker-only process serves no HTTP: it is ready once it prints its start line.
  const workerOnly = env.HOOKLINE_ROLE === 'worker';
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      await exited; // its last output
      const message = `hookline exited during start (${proc.exitCode ?? proc.signalCode}):\n${out}`;
      const taken = [port, metricsPort].find((p) => p !== null && out.includes(`port ${p} is in use`));
      throw taken ? new PortTaken(message, taken) : new Error(message);
    }
    // The start line first: a `/health` answered before it may come from another test's
    // listener on the same port, not from this server.
    const started = out.includes(') using ');
    const healthy = workerOnly
      ? out.includes('(worker) using')
      : started &&
        (await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).then(
          (r) => r.status === 200,
          () => false,
        ));
    if (healthy) break;
    if (Date.now() > deadline) {
      signal('SIGKILL');
      throw new Error(`hookline did not become healthy within 20 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    metricsUrl: `http://127.0.0.1:${metricsPort ?? port}/metrics`,
    proc,
    output: () => out,
    exited,
    signal,
    async call(method, path, body) {
      const res = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      signal('SIGTERM');
      const t = setTimeout(() => signal('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
