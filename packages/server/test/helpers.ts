/**
 * Test harness: a real Hookline on a free port with its own SQLite file, and a real webhook
 * receiver that records what it gets and can be told to fail, stall or hang up.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { TracerProvider } from '@opentelemetry/api';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { type HooklineConfig, loadConfig } from '../src/config.ts';
import type { Clock } from '../src/core/clock.ts';
import { createHookline, type Hookline } from '../src/hookline.ts';

import { ADMIN_TOKEN } from './child.ts';

export { ADMIN_TOKEN };

export interface TestServer {
  url: string;
  token: string;
  hookline: Hookline;
  dataDir: string;
  /** Calls the API with the admin token; returns status and parsed JSON. */
  call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export function tempDir(prefix = 'hookline-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Starts Hookline in this process. `env` takes HOOKLINE_* settings; `clock` replaces time. */
export async function startHookline(
  options: {
    env?: Record<string, string>;
    clock?: Clock;
    config?: Partial<HooklineConfig>;
    dataDir?: string;
    /** Where spans go (an in-memory exporter); else the OTEL_* variables decide. */
    tracerProvider?: TracerProvider;
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir();
  const config = loadConfig(
    {
      HOOKLINE_PORT: '0',
      HOOKLINE_DATABASE_URL: `sqlite:${join(dataDir, 'hookline.db')}`,
      HOOKLINE_ADMIN_TOKEN: ADMIN_TOKEN,
      HOOKLINE_ALLOW_PRIVATE_NETWORKS: 'true',
      HOOKLINE_LOG_LEVEL: 'silent',
      ...options.env,
    },
    options.config,
  );
  const hookline = await createHookline(config, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.tracerProvider ? { tracerProvider: options.tracerProvider } : {}),
    logger: pino({ level: config.logLevel }),
  });
  const url = (await hookline.start())!;
  return {
    url,
    token: ADMIN_TOKEN,
    hookline,
    dataDir,
    async call(method, path, body, headers = {}) {
      const res = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: parsed as any };
    },
    async close() {
      await hookline.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

/** What the receiver does with the next request. */
export type Behaviour =
  | { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }
  | { reset: true }
  | { hang: true };

export interface TestReceiver {
  url: string;
  requests: ReceivedRequest[];
  /** Behaviours used in order, one per request; after they run out, `fallback` answers. */
  queue(...b: Behaviour[]): void;
  fallback: Behaviour;
  /** Requests that have arrived and are waiting out a `delayMs` before their answer. */
  readonly delayed: number;
  /** Resolves once `n` requests in total have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<TestReceiver> {
  const requests: ReceivedRequest[] = [];
  const queued: Behaviour[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const hanging = new Set<import('node:http').ServerResponse>();
  let delayed = 0;
  const receiver: TestReceiver = {
    url: '',
    requests,
    get delayed() {
      return delayed;
    },
    queue: (...b) => queued.push(...b),
    fallback: { status: 200, body: 'ok' },
    waitFor(n, timeoutMs = 10_000) {
      if (requests.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`receiver got ${requests.length} requests, expected ${n}`)),
          timeoutMs,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      });
      for (const w of waiters.filter((x) => requests.length >= x.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      const b = queued.shift() ?? receiver.fallback;
      if ('reset' in b) {
        req.socket.destroy();
        return;
      }
      if ('hang' in b) {
        hanging.add(res);
        return;
      }
      const answer = () => {
        res.writeHead(b.status, { 'content-type': 'text/plain', ...b.headers });
        res.end(b.body ?? '');
      };
      if (b.delayMs) {
        delayed++;
        setTimeout(() => {
          delayed--;
          answer();
        }, b.delayMs);
      } else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}

/** The request's headers as plain strings, the way a receiver passes them to a verifier. */
export function headersOf(r: ReceivedRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * Checks a delivery as a receiver would: a JSON POST whose `webhook-id` is the message id, and
 * whose signature verifies with `standardwebhooks` under each given secret. Returns the payload.
 */
export function verifyDelivery(r: ReceivedRequest, secrets: string | string[], msgId: string): unknown {
  const headers = headersOf(r);
  assert.equal(r.method, 'POST');
  assert.equal(headers['webhook-id'], msgId);
  assert.match(headers['content-type'] ?? '', /^application\/json/);
  let parsed: unknown;
  for (const secret of Array.isArray(secrets) ? secrets : [secrets]) {
    parsed = new Webhook(secret).verify(r.body.toString('utf8'), headers);
  }
  return parsed;
}

/**
 * Forced garbage collections and what the young generation holds, for tests of what finished
 * work leaves reachable: what survives a young collection is copied, and promoted at the next.
 */
export function youngGeneration(): {
  collect(type: 'minor' | 'major'): void;
  /** Bytes in use in the young generation's semi-space. */
  used(): number;
} {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: { type: 'minor' | 'major' }) => void;
  return {
    collect: (type) => gc({ type }),
    used: () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size,
  };
}
