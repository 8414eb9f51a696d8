/**
 * Each event type's own retry schedule (`PUT /api/v1/event-type/{name}/retry-schedule`), as the
 * dispatchers use it: read from the store every few seconds (one small query over the event
 * types that have one), so choosing a delay stays a map lookup on the hot path. A schedule set
 * through any process is in force everywhere within `refreshMs`.
 */
import type { Logger } from 'pino';
import type { RetryPolicy } from '../core/retry.ts';
import type { Store } from '../store/store.ts';

export interface RetrySchedules {
  /** The policy for messages of this event type: the server's, with the event type's schedule if it has one. */
  policyFor(eventType: string): RetryPolicy;
  /** Reads the schedules again now. */
  refresh(): Promise<void>;
  stop(): void;
}

export function createRetrySchedules(
  store: Store,
  base: RetryPolicy,
  logger: Logger,
  refreshMs = 5_000,
): RetrySchedules {
  let policies = new Map<string, RetryPolicy>();
  const refresh = async () => {
    try {
      const schedules = await store.eventTypeRetrySchedules();
      policies = new Map([...schedules].map(([name, scheduleMs]) => [name, { ...base, scheduleMs }]));
    } catch (err) {
      // The database is down: deliveries fail to record anyway; keep the last schedules.
      logger.warn({ err }, 'could not read the event types’ retry schedules');
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), refreshMs);
  timer.unref();
  return {
    policyFor: (eventType) => policies.get(eventType) ?? base,
    refresh,
    stop: () => clearInterval(timer),
  };
}
