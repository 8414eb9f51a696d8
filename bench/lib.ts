/**
 * Shared pieces of the benchmark: the receiver process, Hookline as a child process started
 * like `npm start`, and a bounded closed-loop load generator on undici.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'undici';
import { type HooklineChild, ROOT, spawnHookline } from '../packages/server/test/child.ts';

export { ADMIN_TOKEN } from '../packages/server/test/child.ts';

/** A flag's value that is not a whole number of 1 or more stops the program with a message (exit 2). */
export function wholeNumber(flag: string, raw: string): number {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isInteger(n) || n < 1) {
    console.error(`--${flag} takes a whole number of 1 or more (got "${raw}")`);
    process.exit(2);
  }
  return n;
}

/** A comma-separated list of `wholeNumber`s (`--workers 1,2,4`). */
export const wholeNumbers = (flag: string, raw: string): number[] =>
  raw.split(',').map((v) => wholeNumber(flag, v));

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export const now = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A JSON object whose serialization is `bytes` long (give or take a few). */
export function payloadOf(bytes: number): Record<string, unknown> {
  const base = { type: 'invoice.paid', id: 'inv_0000000000', amount: 4200, currency: 'eur', note: '' };
  const fill = Math.max(0, bytes - JSON.stringify(base).length);
  return { ...base, note: 'x'.repeat(fill) };
}

// ---- receiver process -------------------------------------------------------------------------

export interface ReceiverProc {
  url: string;
  /** The same receiver on another port: another origin, as another customer's endpoint is. */
  otherUrl: string;
  /** Zeroes the counters. `track`: record webhook-id arrival times, of every request (`true`) or of one path. */
  reset(track?: boolean | string): Promise<void>;
  /** Resolves with the count and the arrival times of the first and the last request since the reset
   * (on `path`, or in total), and the longest time between two arrivals with the arrival that ended
   * it, once `n` arrived or the timeout passed. `n = 0` answers at once. */
  waitFor(
    n: number,
    timeoutMs: number,
    path?: string,
  ): Promise<{ count: number; at: number; firstAt: number; pauseMs: number; pauseEndAt: number }>;
  times(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export async function startReceiverProcess(): Promise<ReceiverProc> {
  const proc = fork(join(ROOT, 'bench/receiver.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = (cmd: string) =>
    new Promise<any>((ok, fail) => {
      const onMsg = (m: any) => {
        if (m.cmd === cmd || (cmd === 'port' && m.port)) {
          proc.off('message', onMsg);
          proc.off('exit', onExit);
          ok(m);
        }
      };
      const onExit = () => fail(new Error('receiver process exited'));
      proc.on('message', onMsg);
      proc.once('exit', onExit);
    });
  const { port, otherPort } = await next('port');
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    otherUrl: `http://127.0.0.1:${otherPort}`,
    async reset(track = false) {
      const p = next('reset');
      proc.send({ cmd: 'reset', track });
      await p;
    },
    async waitFor(n, timeoutMs, path) {
      const p = next('reached');
      proc.send({ cmd: 'waitFor', n, timeoutMs, path: path ?? null });
      return p;
    },
    async times() {
      const p = next('times');
      proc.send({ cmd: 'times' });
      const { times } = (await p) as { times: [string, number][] };
      return new Map(times);
    },
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.send({ cmd: 'exit' });
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

// ---- Hookline child process -------------------------------------------------------------------

export type HooklineProc = HooklineChild;

/** Starts Hookline the way `npm start` does, on a SQLite file in `dataDir`. */
export function startHookline(options: {
  dataDir: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
}): Promise<HooklineProc> {
  return spawnHookline({
    env: { HOOKLINE_DATABASE_URL: `sqlite:${join(options.dataDir, 'hookline.db')}`, ...options.env },
    nodeArgs: options.nodeArgs ?? [],
  });
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'hookline-bench-'));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

// ---- load ----------------------------------------------------------------------------------------

export interface LoadResult {
  ok: number;
  failed: number;
  elapsedMs: number;
  /** ok per second. */
  rate: number;
  firstStatus?: string;
  /** The longest time between two answers, and when (ms after the start) the answer ending it came. */
  pauseMs: number;
  pauseEndMs: number;
}

/**
 * Closed loop over any task: `concurrency` runners each run one task at a time until `count`
 * tasks ran or `timeCapMs` passed. A task resolves `true` on success, or a short description of
 * what went wrong (the first one is kept); a throw counts as a failure too.
 */
export async function closedLoopTasks(options: {
  count: number;
  concurrency: number;
  timeCapMs: number;
  task: (i: number) => Promise<true | string>;
}): Promise<LoadResult> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstStatus: string | undefined;
  const started = now();
  const stopAt = started + options.timeCapMs;
  let lastAnswer = started;
  let pauseMs = 0;
  let pauseEndMs = 0;
  const runner = async () => {
    while (next < options.count && now() < stopAt) {
      const i = next++;
      try {
        const r = await options.task(i);
        const at = now();
        if (at - lastAnswer > pauseMs) {
          pauseMs = at - lastAnswer;
          pauseEndMs = at - started;
        }
        lastAnswer = at;
        if (r === true) ok++;
        else {
          failed++;
          firstStatus ??= r;
        }
      } catch (err) {
        failed++;
        firstStatus ??= String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, runner));
  const elapsedMs = now() - started;
  return {
    ok,
    failed,
    elapsedMs,
    rate: (ok * 1000) / elapsedMs,
    pauseMs,
    pauseEndMs,
    ...(firstStatus !== undefined ? { firstStatus } : {}),
  };
}

/** A value the same for every request of a loop, or one per request. */
export type PerRequest<T> = T | ((i: number) => T);
const forRequest = <T>(value: PerRequest<T>, i: number): T =>
  typeof value === 'function' ? (value as (i: number) => T)(i) : value;

/**
 * Closed loop of HTTP POSTs: `concurrency` workers each send one request at a time until `count`
 * requests were sent or `timeCapMs` passed. `okStatus` decides success; `onResponse` sees each body when given.
 */
export function closedLoop(options: {
  pool: Pool;
  count: number;
  concurrency: number;
  timeCapMs: number;
  path: PerRequest<string>;
  headers: PerRequest<Record<string, string>>;
  body: (i: number) => string;
  okStatus: number;
  onResponse?: (i: number, body: string, sentAt: number) => void;
}): Promise<LoadResult> {
  return closedLoopTasks({
    count: options.count,
    concurrency: options.concurrency,
    timeCapMs: options.timeCapMs,
    task: async (i) => {
      const body = options.body(i);
      const sentAt = now();
      const res = await options.pool.request({
        method: 'POST',
        path: forRequest(options.path, i),
        headers: forRequest(options.headers, i),
        body,
      });
      if (res.statusCode !== options.okStatus) {
        const text = await res.body.text();
        return `${res.statusCode} ${text.slice(0, 200)}`;
      }
      if (options.onResponse) options.onResponse(i, await res.body.text(), sentAt);
      else await res.body.dump();
      return true;
    },
  });
}

/**
 * Open loop over any task at a fixed rate: task i starts at start + i / rate whatever the
 * earlier ones do, with at most `maxOutstanding` open (beyond that the loop waits, which the
 * caller sees as a lower achieved rate). Bounded by `count` and `timeCapMs`; `stop` ends it early.
 * A task must not throw (report failures through its own bookkeeping).
 */
export async function openLoopTasks(options: {
  count: number;
  ratePerSec: number;
  maxOutstanding: number;
  timeCapMs: number;
  stop?: () => boolean;
  task: (i: number, sentAt: number) => Promise<void>;
}): Promise<{ sent: number; elapsedMs: number }> {
  const started = now();
  const stopAt = started + options.timeCapMs;
  const open = new Set<Promise<void>>();
  let sent = 0;
  for (let i = 0; i < options.count && now() < stopAt && !options.stop?.(); i++) {
    const due = started + (i * 1000) / options.ratePerSec;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    while (open.size >= options.maxOutstanding) await Promise.race(open);
    const p = options.task(i, now()).finally(() => open.delete(p));
    open.add(p);
    sent++;
  }
  await Promise.all(open);
  return { sent, elapsedMs: now() - started };
}

/** Open loop of HTTP POSTs at a fixed rate (see `openLoopTasks`); `onResponse` sees every answer. */
export function openLoop(options: {
  pool: Pool;
  count: number;
  ratePerSec: number;
  maxOutstanding: number;
  timeCapMs: number;
  stop?: () => boolean;
  path: PerRequest<string>;
  headers: PerRequest<Record<string, string>>;
  body: (i: number) => string;
  onResponse: (i: number, status: number, body: string, sentAt: number) => void;
}): Promise<{ sent: number; elapsedMs: number }> {
  return openLoopTasks({
    count: options.count,
    ratePerSec: options.ratePerSec,
    maxOutstanding: options.maxOutstanding,
    timeCapMs: options.timeCapMs,
    ...(options.stop ? { stop: options.stop } : {}),
    task: (i, sentAt) =>
      options.pool
        .request({
          method: 'POST',
          path: forRequest(options.path, i),
          headers: forRequest(options.headers, i),
          body: options.body(i),
        })
        .then(async (res) => options.onResponse(i, res.statusCode, await res.body.text(), sentAt))
        .catch((err: unknown) => options.onResponse(i, 0, String(err), sentAt)),
  });
}

/** The median of the finite values (the mean of the middle two for an even count); NaN when none. */
export function median(values: number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const fmtRate = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const fmtMs = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} ms` : 'n/a');
export const fmtPct = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(1)}%` : 'n/a');
