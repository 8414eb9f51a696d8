/**
 * When to try a delivery again. One pure function: given how many attempts were made and what
 * the last response said, it returns the delay before the next attempt, or null to give up.
 */

/** Svix's schedule: the first attempt at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

export interface RetryPolicy {
  /** Delays after the 1st, 2nd, ... failed attempt. Its length is the number of retries. */
  scheduleMs: readonly number[];
  /** Each delay is moved randomly by up to this fraction either way, so retries do not stampede. */
  jitter: number;
  /** A `Retry-After` longer than this is cut to it. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  scheduleMs: DEFAULT_RETRY_SCHEDULE_MS,
  jitter: 0.2,
  maxRetryAfterMs: 24 * 3_600_000,
};

/**
 * Delay before the next attempt after `attemptsMade` failed attempts, or null when the schedule
 * is used up. A `Retry-After` (from a 429 or 503) can only make the wait longer, never shorter
 * than the schedule, and is bounded by `maxRetryAfterMs`.
 */
export function nextRetryDelay(
  policy: RetryPolicy,
  attemptsMade: number,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number | null {
  const base = policy.scheduleMs[attemptsMade - 1];
  if (base === undefined) return null;
  const jittered = Math.round(base * (1 + policy.jitter * (2 * random() - 1)));
  if (retryAfterMs === null) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, policy.maxRetryAfterMs));
}

/** Parses a `Retry-After` header: delta seconds or an HTTP date. Returns milliseconds, or null. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}
