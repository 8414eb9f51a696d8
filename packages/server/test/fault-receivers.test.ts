/**
 * Receivers that misbehave must not slow down one that works: endpoints that hang, reset the
 * connection, trickle their answer, send an endless or a huge body, redirect, or answer 429
 * with odd Retry-After values, next to a healthy endpoint, on both stores. The healthy
 * endpoint's median delivery latency with them present stays within max(2 × solo, solo + 50 ms) in
 * one of up to three rounds of 30 messages.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startHookline, type TestServer } from './helpers.ts';
import { testStores } from './pg.ts';

const MESSAGES = 30;
const FAULTS = [
  'hang',
  'reset',
  'trickle',
  'endless',
  'huge',
  'redirect',
  '429-negative',
  '429-huge',
  '429-past-date',
  '429-garbage',
] as const;

const RETRY_AFTER: Record<string, string> = {
  '429-negative': '-5',
  '429-huge': '999999999999999999999',
  '429-past-date': 'Wed, 21 Oct 2015 07:28:00 GMT',
  '429-garbage': 'soon, maybe',
};

/** One server playing every fault, by path; each stream stops by itself after 20 s at most. */
async function startFaultServer(): Promise<{
  url: string;
  hits: Map<string, number>;
  close(): Promise<void>;
}> {
  const hits = new Map<string, number>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const every = (ms: number, res: ServerResponse, fn: () => void) => {
    const started = Date.now();
    const t = setInterval(() => {
      if (res.destroyed || Date.now() - started > 20_000) {
        clearInterval(t);
        timers.delete(t);
        res.destroy();
        return;
      }
      fn();
    }, ms);
    timers.add(t);
  };
  const server: Server = createServer((req, res) => {
    req.resume();
    const fault = (req.url ?? '').slice(1);
    hits.set(fault, (hits.get(fault) ?? 0) + 1);
    switch (fault) {
      case 'hang':
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'trickle':
        res.writeHead(200, { 'content-type': 'text/plain' });
        every(200, res, () => res.write('.'));
        return;
      case 'endless':
        res.writeHead(200, { 'content-type': 'text/plain' });
        every(5, res, () => res.write(Buffer.alloc(64 * 1024, 0x61)));
        return;
      case 'huge':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(64 * 1024 * 1024) });
        every(2, res, () => res.write(Buffer.alloc(256 * 1024, 0x62)));
        return;
      case 'redirect':
        res.writeHead(307, { location: '/redirect' });
        res.end();
        return;
      default:
        res.writeHead(429, { 'retry-after': RETRY_AFTER[fault] ?? '1' });
        res.end('slow down');
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearInterval(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A healthy receiver that reports when each message (by webhook-id) arrived. */
async function startHealthy(): Promise<{
  url: string;
  arrived(id: string): Promise<number>;
  close(): Promise<void>;
}> {
  const seen = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      const at = performance.now();
      seen.set(id, at);
      waiting.get(id)?.(at);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrived: (id) =>
      new Promise((resolve, reject) => {
        const at = seen.get(id);
        if (at !== undefined) return resolve(at);
        const t = setTimeout(() => reject(new Error(`message ${id} did not arrive in 15 s`)), 15_000);
        waiting.set(id, (when) => {
          clearTimeout(t);
          resolve(when);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

for (const store of await testStores()) {
  describe(`faulty receivers next to a healthy one on ${store.name}`, store.options, () => {
    let server: TestServer;
    let drop: () => Promise<void> = async () => {};
    let faults: Awaited<ReturnType<typeof startFaultServer>>;
    let healthy: Awaited<ReturnType<typeof startHealthy>>;

    before(async () => {
      const db = await store.open('faults');
      drop = db.drop;
      faults = await startFaultServer();
      healthy = await startHealthy();
      server = await startHookline({
        env: {
          ...db.env,
          HOOKLINE_DELIVERY_TIMEOUT: '2',
          // Faulty endpoints come back quickly, so they keep pressing on the dispatcher.
          HOOKLINE_RETRY_SCHEDULE: '0.5,0.5,0.5,0.5',
        },
      });
      await server.call('POST', '/api/v1/event-type', { name: 'fault.test', description: 'x' });
      await server.call('POST', '/api/v1/app', { name: 'healthy', uid: 'healthy' });
      await server.call('POST', '/api/v1/app', { name: 'faulty', uid: 'faulty' });
      const ep = await server.call('POST', '/api/v1/app/healthy/endpoint', { url: `${healthy.url}/ok` });
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
      for (const fault of FAULTS) {
        const r = await server.call('POST', '/api/v1/app/faulty/endpoint', { url: `${faults.url}/${fault}` });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    });
    after(async () => {
      await server?.close();
      await faults?.close();
      await healthy?.close();
      await drop();
    });

    /** Publishes to the healthy app one message at a time; each one's publish-to-arrival time. */
    const latencies = async (alongside: () => Promise<void>) => {
      const out: number[] = [];
      for (let i = 0; i < MESSAGES; i++) {
        await alongside();
        const sent = performance.now();
        const r = await server.call('POST', '/api/v1/app/healthy/msg', {
          eventType: 'fault.test',
          payload: { i },
        });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        out.push((await healthy.arrived(r.body.id)) - sent);
      }
      return out;
    };

    test('the healthy endpoint keeps its latency while the others hang, reset, trickle, flood, redirect and throttle', async (t) => {
      // Warm-up: connections, prepared statements and JIT.
      await latencies(async () => {});
      const solo = median(await latencies(async () => {}));
      // Every faulty endpoint gets work before the measurement and a message more with each healthy one.
      const publishFaulty = async () => {
        const r = await server.call('POST', '/api/v1/app/faulty/msg', {
          eventType: 'fault.test',
          payload: {},
        });
        assert.equal(r.status, 202, JSON.stringify(r.body));
      };
      for (let i = 0; i < 5; i++) await publishFaulty();
      await new Promise((r) => setTimeout(r, 300));
      const allowed = Math.max(2 * solo, solo + 50);
      // Up to three rounds of 30: a healthy endpoint that waits behind the faulty ones (their
      // 2 s timeouts, their 0.5 s retries) misses the bound in every round, while a burst of
      // other work on a shared machine (other test files run alongside) spoils one round at most.
      const rounds: number[] = [];
      while (rounds.length < 3 && !rounds.some((m) => m <= allowed))
        rounds.push(median(await latencies(publishFaulty)));
      t.diagnostic(
        `median latency solo ${solo.toFixed(1)} ms, with faulty endpoints ${rounds.map((m) => m.toFixed(1)).join(' / ')} ms (allowed ${allowed.toFixed(1)} ms); fault hits ${JSON.stringify(Object.fromEntries(faults.hits))}`,
      );
      // The faults really happened: every faulty endpoint was called.
      for (const fault of FAULTS) assert.ok((faults.hits.get(fault) ?? 0) > 0, `${fault} was never called`);
      assert.ok(
        rounds.some((m) => m <= allowed),
        `healthy median ${rounds.map((m) => m.toFixed(1)).join(' / ')} ms in ${rounds.length} rounds > allowed ${allowed.toFixed(1)} ms`,
      );
      // Nothing of it became a server error: the API still answers.
      const health = await server.call('GET', '/api/v1/health');
      assert.ok(health.status < 300, JSON.stringify(health.body));
    });
  });
}
