/**
 * A peer in the same run: the do-it-yourself webhook stack many teams build instead of a
 * platform. A producer (the bench's load client) adds one BullMQ job per message to Redis; a
 * worker process (bench/peer-bullmq-worker.ts, concurrency 50) takes them and POSTs them with
 * undici to the same receiver, with the same ~1 KB payloads. Jobs are removed once delivered and
 * retried up to 5 times with backoff; nothing else is kept (no attempt log), and Redis here
 * does not write to disk, so an accepted message is not durable as Hookline's are.
 *
 * Redis: the server at 127.0.0.1:6379. When nothing answers there, one is started
 * (`redis-server --daemonize yes`, no persistence) and stopped again at the end, by its PID;
 * a Redis that was already running is left running. The bench's queue lives under its own key
 * prefix with a random name, and is removed at the end.
 */
import { execFile, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { ROOT } from '../packages/server/test/child.ts';
import { removeDir, sleep, tempDir } from './lib.ts';
import type { WebhookJob } from './peer-bullmq-worker.ts';
import { findProcesses } from './proc.ts';

const REDIS = { host: '127.0.0.1', port: 6379 };
export const PEER_CONCURRENCY = 50;

/** True when a Redis server answers PING at `REDIS` within a second. */
function redisAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(REDIS.port, REDIS.host);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export interface BullmqPeer {
  /** Adds one job (the message `id` with its payload); resolves once Redis has it. */
  add(id: string, payload: unknown): Promise<void>;
  /** PIDs for the CPU meter: the peer's worker process and the Redis server. */
  groups(): Record<string, number[]>;
  /** Whether this run started Redis (and will stop it). */
  startedRedis: boolean;
  close(): Promise<void>;
}

/** Starts the peer: Redis if needed, the queue, and the worker process delivering to `url` + `path`. */
export async function startBullmqPeer(options: { url: string; path: string }): Promise<BullmqPeer> {
  let redisPid: number | null = null;
  let redisDir: string | null = null;
  if (!(await redisAnswers())) {
    const dir = tempDir();
    redisDir = dir;
    const pidfile = join(dir, 'redis.pid');
    await new Promise<void>((resolve, reject) =>
      execFile(
        'redis-server',
        [
          '--daemonize',
          'yes',
          '--bind',
          REDIS.host,
          '--port',
          String(REDIS.port),
          '--save',
          '',
          '--appendonly',
          'no',
          '--pidfile',
          pidfile,
          '--dir',
          dir,
        ],
        (err) => (err ? reject(new Error(`cannot start redis-server: ${err.message}`)) : resolve()),
      ),
    );
    const deadline = Date.now() + 5_000;
    while (!(await redisAnswers())) {
      if (Date.now() > deadline) throw new Error('redis-server did not answer within 5 s');
      await sleep(100);
    }
    redisPid = Number(readFileSync(pidfile, 'utf8').trim());
  }
  const stopRedis = () => {
    if (redisPid !== null) {
      try {
        process.kill(redisPid, 'SIGTERM');
      } catch {
        // already gone
      }
      redisPid = null;
    }
    if (redisDir) removeDir(redisDir);
    redisDir = null;
  };

  const name = `webhooks-${randomBytes(4).toString('hex')}`;
  const prefix = 'hookline-bench';
  let queue: Queue<WebhookJob> | null = null;
  const worker = fork(join(ROOT, 'bench/peer-bullmq-worker.ts'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((r) => worker.once('exit', () => r()));
  const close = async () => {
    if (worker.exitCode === null && worker.signalCode === null) {
      if (worker.connected) worker.send({ cmd: 'exit' });
      const t = setTimeout(() => worker.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    }
    if (queue) {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close().catch(() => {});
      queue = null;
    }
    stopRedis();
  };

  try {
    queue = new Queue<WebhookJob>(name, {
      connection: REDIS,
      prefix,
      defaultJobOptions: {
        removeOnComplete: true,
        removeOnFail: 1000,
        attempts: 5,
        backoff: { type: 'exponential', delay: 5_000 },
      },
    });
    await queue.waitUntilReady();
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the BullMQ worker did not start within 20 s')), 20_000);
      worker.once('exit', () => reject(new Error('the BullMQ worker exited during start')));
      worker.on('message', (m: { cmd: string }) => {
        if (m.cmd === 'ready') {
          clearTimeout(t);
          resolve();
        }
      });
      worker.send({
        cmd: 'start',
        queue: name,
        prefix,
        redis: REDIS,
        url: options.url,
        concurrency: PEER_CONCURRENCY,
        secret: randomBytes(24).toString('base64'),
      });
    });
  } catch (err) {
    await close();
    throw err;
  }

  const q = queue;
  const redisServer = () =>
    findProcesses((cmd) => /^(\S*\/)?redis-server /.test(cmd) && cmd.includes(`:${REDIS.port}`));
  return {
    async add(id, payload) {
      await q.add('webhook', { id, path: options.path, eventType: 'invoice.paid', payload });
    },
    groups: () => ({ worker: [worker.pid!], redis: redisServer() }),
    startedRedis: redisPid !== null,
    close,
  };
}
