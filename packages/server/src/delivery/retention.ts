/**
 * Retention, run by the worker role: payloads and attempt logs older than the retention period
 * are deleted in small batches (short transactions, no long locks). Message records outlive
 * their payloads, marked as expunged. Several workers may run it at once: each batch skips the
 * rows another worker is working on.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Store } from '../store/store.ts';
import { createPeriodic, type Periodic } from './periodic.ts';

/** A full pass deletes in batches until nothing old is left, and returns what it deleted. */
export type Retention = Periodic<{ payloads: number; attempts: number }>;

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
  return createPeriodic({
    name: 'retention pass',
    logger,
    intervalMs,
    async pass(stopping) {
      const total = { payloads: 0, attempts: 0 };
      const before = clock.now() - retentionMs;
      const { partitions } = await store.dropHistory(before, clock.now());
      if (partitions > 0) logger.info({ partitions }, 'retention: dropped days of old attempts');
      while (!stopping()) {
        const r = await store.expunge(before, clock.now(), batch);
        total.payloads += r.payloads;
        total.attempts += r.attempts;
        if (r.payloads < batch && r.attempts < batch) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (total.payloads + total.attempts > 0)
        logger.info(total, 'retention: expunged old payloads and attempts');
      return total;
    },
  });
}
