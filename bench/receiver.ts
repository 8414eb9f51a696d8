/**
 * The benchmark's webhook receiver, run as its own process so it does not share a core with the
 * load client. A plain `node:http` server that reads the body and answers 200.
 *
 * It talks to the parent over IPC:
 *   -> { port }                          once listening
 *   <- { cmd: 'reset', track }           zero the counter; `track` records webhook-id arrival times
 *   <- { cmd: 'waitFor', n, timeoutMs }  -> { cmd: 'reached', count, at, firstAt } when `n` requests
 *                                           arrived (or the timeout passed); `at` is the arrival of
 *                                           the last one, `firstAt` of the first since the reset
 *   <- { cmd: 'times' }                  -> { cmd: 'times', times: [id, ms][] }
 *   <- { cmd: 'exit' }
 * Times are `performance.timeOrigin + performance.now()`: comparable across processes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const now = () => performance.timeOrigin + performance.now();
const RESPONSE = '{"ok":true}';

let count = 0;
let lastAt = 0;
let firstAt = 0;
let track = false;
let times: [string, number][] = [];
let waiter: { n: number; timer: NodeJS.Timeout } | null = null;

function reached() {
  if (!waiter) return;
  clearTimeout(waiter.timer);
  waiter = null;
  process.send!({ cmd: 'reached', count, at: lastAt, firstAt });
}

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    count++;
    lastAt = now();
    if (count === 1) firstAt = lastAt;
    if (track) {
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') times.push([id, lastAt]);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': RESPONSE.length });
    res.end(RESPONSE);
    if (waiter && count >= waiter.n) reached();
  });
});
server.keepAliveTimeout = 60_000;

process.on('message', (m: { cmd: string; track?: boolean; n?: number; timeoutMs?: number }) => {
  switch (m.cmd) {
    case 'reset':
      count = 0;
      lastAt = 0;
      firstAt = 0;
      track = m.track === true;
      times = [];
      process.send!({ cmd: 'reset' });
      break;
    case 'waitFor':
      if (count >= m.n!) {
        process.send!({ cmd: 'reached', count, at: lastAt, firstAt });
        break;
      }
      waiter = { n: m.n!, timer: setTimeout(reached, m.timeoutMs ?? 60_000) };
      break;
    case 'times':
      process.send!({ cmd: 'times', times });
      break;
    case 'exit':
      server.closeAllConnections();
      server.close();
      process.disconnect();
      break;
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});
