/**
 * Retention, run by the worker role: payloads and attempt logs older than the retention period
 * are deleted in small batches (short transactions, no long locks). Message records outlive
 * their payloads, marked as expunged. Several workers may run it at once: each batch skips the
 * rows another worker is working on. Where history is kept by day (PostgreSQL's partitions), it
 * goes by whole UTC days (`periodStart`).
 *
 * A pass catching up on a large history (retention just turned on, or shortened) is paced: its
 * partition drops (PostgreSQL) and its batches take at most `DUTY` of the time, and on a store
 * whose batches hold the event loop (SQLite) each batch is sized to take about
 * `BATCH_TARGET_MS`; on PostgreSQL batches keep their size (a statement's cost is mostly fixed
 * there). Whatever the store, the pass takes its time from the deliveries: on SQLite the event
 * loop's, on PostgreSQL the database's CPU, and each partition drop also locks the table that
 * every insert goes to. At half of the time, publishing at 1,000 msg/s over a million stored
 * messages fell behind while a pass caught up on 20 days, on SQLite (p50 470 ms) and on
 * PostgreSQL (p50 707-862 ms, its drops back to back or paced); at a fifth it kept up (SQLite p50
 * 4-6 ms; PostgreSQL 26-134 ms against 21-102 ms without retention in four runs on a machine at
 * the edge of that rate), the pass taking longer (`npm run bench -- --grow`, "retention running";
 * docs/benchmarks.md).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Store } from '../store/store.ts';
import { createPeriodic, type Periodic } from './periodic.ts';

/** A batch should take about this long (on SQLite it holds the event loop meanwhile). */
export const BATCH_TARGET_MS = 5;
/** The share of the time a catching-up pass spends in partition drops and batches; it waits the rest. */
export const DUTY = 0.2;
/** Rows in a pass's first batch, and the fewest in any. */
const FIRST_BATCH = 100;
const MIN_BATCH = 20;
/** The longest wait between two batches. */
const MAX_PAUSE_MS = 1_000;

/**
 * The next batch's size: halved after a batch that took longer than `BATCH_TARGET_MS`, doubled
 * after one that took less than half of it, within [MIN_BATCH, max].
 */
export function nextBatch(size: number, tookMs: number, max: number): number {
  if (tookMs > BATCH_TARGET_MS) return Math.max(Math.min(MIN_BATCH, max), Math.floor(size / 2));
  if (tookMs < BATCH_TARGET_MS / 2) return Math.min(max, size * 2);
  return size;
}

/** How long to wait after a drop or batch that took `tookMs`, so that they take `DUTY` of the time. */
export const pauseAfter = (tookMs: number): number => Math.min(MAX_PAUSE_MS, (tookMs * (1 - DUTY)) / DUTY);

const DAY_MS = 86_400_000;

/**
 * Where a pass's period begins: `cutoff`, or on a store that keeps history by day the start of
 * the UTC day of `cutoff`. A day there goes whole once all of it is past the period (kept up to
 * a day longer): its partitions are dropped, and none of its rows is deleted one by one. Cut at
 * `cutoff` instead, each pass (every ten minutes) deleted the rows that had just passed it, every
 * attempt log and payload ever written, row by row, and the day's partitions were empty by the
 * time they were dropped.
 */
export function periodStart(cutoff: number, byDay: boolean): number {
  return byDay ? Math.floor(cutoff / DAY_MS) * DAY_MS : cutoff;
}

/**
 * A full pass deletes in batches until nothing old is left, and returns what it did: partitions
 * dropped whole (PostgreSQL), payloads emptied, attempts deleted.
 */
export type Retention = Periodic<{ partitions: number; payloads: number; attempts: number }>;

export function createRetention(deps: {
  store: Store;
  clock: Clock;
  logger: Logger;
  retentionMs: number;
  /** Time between passes (default 10 minutes). */
  intervalMs?: number;
  /** Rows per batch at most (default 500). */
  batch?: number;
}): Retention {
  const { store, clock, logger, retentionMs } = deps;
  const intervalMs = deps.intervalMs ?? 600_000;
  const maxBatch = deps.batch ?? 500;
  return createPeriodic({
    name: 'retention pass',
    logger,
    intervalMs,
    async pass(stopping) {
      const before = periodStart(clock.now() - retentionMs, store.capabilities.historyByDay);
      const synchronous = store.capabilities.synchronousWrites;
      /** The rest after a drop or batch that took `tookMs`; whether the pass goes on. */
      const rest = async (tookMs: number) => {
        await sleep(pauseAfter(tookMs));
        return !stopping();
      };
      // Whole days go first, paced like the batches.
      const { partitions } = await store.dropHistory(
        before,
        clock.now(),
        async (took) => !stopping() && (await rest(took)),
      );
      if (partitions > 0)
        logger.info({ partitions }, 'retention: dropped days of old attempts and inbound request bytes');
      const total = { partitions, payloads: 0, attempts: 0 };
      let batch = synchronous ? Math.min(FIRST_BATCH, maxBatch) : maxBatch;
      while (!stopping()) {
        const started = performance.now();
        const r = await store.expunge(before, clock.now(), batch);
        const took = performance.now() - started;
        total.payloads += r.payloads;
        total.attempts += r.attempts;
        if (r.payloads < batch && r.attempts < batch) break;
        if (synchronous) batch = nextBatch(batch, took, maxBatch);
        await rest(took);
      }
      if (total.payloads + total.attempts > 0)
        logger.info(total, 'retention: expunged old payloads and attempts');
      return total;
    },
  });
}
