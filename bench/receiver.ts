/**
 * The benchmark's webhook receiver, run as its own process so it does not share a core with the
 * load client. A plain `node:http` server that reads the body and answers 200.
 *
 * It counts requests in total and per path (the bench gives each kind of traffic its own path:
 * a backlog on `/webhook`, latency probes on `/probe`, ...), and talks to the parent over IPC:
 *   -> { port, otherPort }                     once listening (both ports count alike; the other
 *                                              stands for another receiver host)
 *   <- { cmd: 'reset', track }                 zero the counters; `track` records webhook-id arrival
 *                                              times: `true` for every request, a path for that path only
 *   <- { cmd: 'waitFor', n, timeoutMs, path }  -> { cmd: 'reached', count, at, firstAt } when `n`
 *                                              requests arrived (on `path`, or in total), or the timeout
 *                                              passed; `at` is the arrival of the last one, `firstAt` of
 *                                              the first since the reset; `pauseMs` the longest time
 *                                              between two arrivals, `pauseEndAt` the arrival ending it
 *   <- { cmd: 'times' }                        -> { cmd: 'times', times: [id, ms][] }
 *   <- { cmd: 'exit' }
 * Times are `performance.timeOrigin + performance.now()`: comparable across processes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const now = () => performance.timeOrigin + performance.now();
const RESPONSE = '{"ok":true}';

interface Counter {
  count: number;
  firstAt: number;
  lastAt: number;
  /** The longest time between two arrivals, and the arrival that ended it. */
  pauseMs: number;
  pauseEndAt: number;
}
const newCounter = (): Counter => ({ count: 0, firstAt: 0, lastAt: 0, pauseMs: 0, pauseEndAt: 0 });

let total = newCounter();
let byPath = new Map<string, Counter>();
let track: boolean | string = false;
let times: [string, number][] = [];
let waiter: { n: number; path: string | null; timer: NodeJS.Timeout } | null = null;

const counterOf = (path: string | null): Counter =>
  path === null ? total : (byPath.get(path) ?? newCounter());

function bump(c: Counter, at: number) {
  if (c.count > 0 && at - c.lastAt > c.pauseMs) {
    c.pauseMs = at - c.lastAt;
    c.pauseEndAt = at;
  }
  c.count++;
  c.lastAt = at;
  if (c.count === 1) c.firstAt = at;
}

function answer() {
  const c = counterOf(waiter?.path ?? null);
  if (waiter) clearTimeout(waiter.timer);
  waiter = null;
  process.send!({
    cmd: 'reached',
    count: c.count,
    at: c.lastAt,
    firstAt: c.firstAt,
    pauseMs: c.pauseMs,
    pauseEndAt: c.pauseEndAt,
  });
}

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    const at = now();
    const q = req.url!.indexOf('?');
    const path = q === -1 ? req.url! : req.url!.slice(0, q);
    bump(total, at);
    let c = byPath.get(path);
    if (!c) {
      c = newCounter();
      byPath.set(path, c);
    }
    bump(c, at);
    if (track === true || track === path) {
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') times.push([id, at]);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': RESPONSE.length });
    res.end(RESPONSE);
    if (waiter && counterOf(waiter.path).count >= waiter.n) answer();
  });
});
server.keepAliveTimeout = 60_000;

process.on(
  'message',
  (m: { cmd: string; track?: boolean | string; n?: number; timeoutMs?: number; path?: string | null }) => {
    switch (m.cmd) {
      case 'reset':
        total = newCounter();
        byPath = new Map();
        track = m.track ?? false;
        times = [];
        process.send!({ cmd: 'reset' });
        break;
      case 'waitFor': {
        const path = m.path ?? null;
        waiter = { n: m.n!, path, timer: setTimeout(answer, m.timeoutMs ?? 60_000) };
        if (counterOf(path).count >= m.n!) answer();
        break;
      }
      case 'times':
        process.send!({ cmd: 'times', times });
        break;
      case 'exit':
        server.closeAllConnections();
        server.close();
        process.disconnect();
        break;
    }
  },
);
process.on('disconnect', () => process.exit(0));

// A second address for traffic that stands for another receiver host (another customer's
// endpoint): undici pools connections per origin, so it does not queue behind the first one's.
const other = createServer(server.listeners('request')[0] as Parameters<typeof createServer>[1]);
server.listen(0, '127.0.0.1', () => {
  other.listen(0, '127.0.0.1', () => {
    process.send!({
      port: (server.address() as AddressInfo).port,
      otherPort: (other.address() as AddressInfo).port,
    });
  });
});
