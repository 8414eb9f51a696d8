/**
 * A background pass that runs now and then (retention, listen endpoint expiry): the first soon
 * after start, then every interval, never two at once, stopped with the process. A failed pass
 * is logged and the next one tries again.
 */
import type { Logger } from 'pino';
import { coerceError } from '../core/errors.ts';

export interface Periodic<T> {
  start(): void;
  /** Ends the timer and waits for a pass in progress (which stops early: see `stopping`). */
  stop(): Promise<void>;
  /** One full pass now, whatever the timer does. */
  runOnce(): Promise<T>;
}

export function createPeriodic<T>(options: {
  /** What the log says when a pass fails ("retention pass"). */
  name: string;
  logger: Logger;
  intervalMs: number;
  /**
   * One pass. `stopping()` turns true once the process stops; a pass of the timer checks it
   * between batches and ends early (a `runOnce` pass is never told to stop).
   */
  pass(stopping: () => boolean): Promise<T>;
}): Periodic<T> {
  const { name, logger, intervalMs } = options;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = false;

  function tick() {
    running = options
      .pass(() => stopped)
      .catch((err: unknown) => logger.warn({ err: coerceError(err) }, `${name} failed; will try again`))
      .finally(() => {
        running = null;
      });
  }

  return {
    start() {
      stopped = false;
      timer = setTimeout(
        function loop() {
          if (!running) tick();
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
    runOnce: () => options.pass(() => false),
  };
}
