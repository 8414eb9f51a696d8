/**
 * The worker of the do-it-yourself webhook stack the bench compares Hookline with
 * (`npm run bench -- --peer bullmq`): a BullMQ worker with concurrency 50 that POSTs each job's
 * payload with undici, signed the Standard Webhooks way, to the bench's receiver. It runs as its
 * own process, as Hookline's worker does. No attempt log, no per-endpoint limits: the least a
 * webhook sender does.
 *
 * IPC with bench/peer-bullmq.ts:
 *   <- { cmd: 'start', queue, prefix, redis: { host, port }, url, concurrency, secret }
 *   -> { cmd: 'ready' }
 *   <- { cmd: 'exit' }   closes the worker and exits
 */
import { createHmac } from 'node:crypto';
import { Worker } from 'bullmq';
import { Pool } from 'undici';

interface Start {
  cmd: 'start';
  queue: string;
  prefix: string;
  redis: { host: string; port: number };
  url: string;
  concurrency: number;
  secret: string;
}

/** What the producer puts in each job. */
export interface WebhookJob {
  id: string;
  path: string;
  eventType: string;
  payload: unknown;
}

let worker: Worker | null = null;
let pool: Pool | null = null;

async function start(cfg: Start) {
  pool = new Pool(cfg.url, { connections: cfg.concurrency, pipelining: 1 });
  const key = Buffer.from(cfg.secret);
  const http = pool;
  worker = new Worker<WebhookJob>(
    cfg.queue,
    async (job) => {
      const body = JSON.stringify(job.data.payload);
      const ts = String(Math.floor(Date.now() / 1000));
      const sig = createHmac('sha256', key).update(`${job.data.id}.${ts}.${body}`).digest('base64');
      const res = await http.request({
        method: 'POST',
        path: job.data.path,
        headers: {
          'content-type': 'application/json',
          'webhook-id': job.data.id,
          'webhook-timestamp': ts,
          'webhook-signature': `v1,${sig}`,
        },
        body,
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
      });
      await res.body.dump();
      if (res.statusCode < 200 || res.statusCode > 299)
        throw new Error(`receiver answered ${res.statusCode}`);
    },
    { connection: cfg.redis, prefix: cfg.prefix, concurrency: cfg.concurrency },
  );
  worker.on('error', (err) => console.error('peer worker:', err));
  await worker.waitUntilReady();
  process.send!({ cmd: 'ready' });
}

async function stop() {
  await worker?.close().catch(() => {});
  await pool?.close().catch(() => {});
  process.exit(0);
}

process.on('message', (m: Start | { cmd: 'exit' }) => {
  if (m.cmd === 'start') void start(m);
  else if (m.cmd === 'exit') void stop();
});
process.on('disconnect', () => void stop());
