/**
 * Retention, run by the worker role: payloads and attempt logs older than the retention period
 * are deleted in small batches (short transactions, no long locks). Message records outlive
 * their payloads, marked as expunged. Several workers may run it at once: each batch skips the
 * rows another worker is working on.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { coerceError } from '../core/errors.ts';
import type { Store } from '../store/store.ts';

export interface Retention {
  start(): void;
  stop(): Promise<void>;
  /** One full pass now: batches until nothing old is left. Returns what it deleted. */
  runOnce(): Promise<{ payloads: number; attempts: number }>;
}

export function createRetention(deps: {
  store: Store;
  clock: Clock;
  logger: Logger;
  retentionMs: number;
  /** Time between passes (default 10 minutes). */
  intervalMs?: number;
  /** Rows per batch (default 500). */
  batch?: number;
}): Retention {
  const { store, clock, logger, retentionMs } = deps;
  const intervalMs = deps.intervalMs ?? 600_000;
  const batch = deps.batch ?? 500;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = false;

  /** `timed`: a pass of the timer, which ends early when the process stops. */
  async function pass(timed: boolean) {
    const total = { payloads: 0, attempts: 0 };
    const before = clock.now() - retentionMs;
    while (!(timed && stopped)) {
      const r = await store.expunge(before, clock.now(), batch);
      total.payloads += r.payloads;
      total.attempts += r.attempts;
      if (r.payloads < batch && r.attempts < batch) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (total.payloads + total.attempts > 0)
      logger.info(total, 'retention: expunged old payloads and attempts');
    return total;
  }

  function tick() {
    running = pass(true)
      .catch((err: unknown) =>
        logger.warn({ err: coerceError(err) }, 'retention pass failed; will try again'),
      )
      .finally(() => {
        running = null;
      });
  }

  return {
    start() {
      stopped = false;
      // First pass soon after start, then every interval.
      timer = setTimeout(
        function loop() {
          tick();
          timer = setTimeout(loop, intervalMs);
          timer.unref?.();
        },
        Math.min(intervalMs, 5_000),
      );
      timer.unref?.();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    runOnce: () => pass(false),
  };
}
