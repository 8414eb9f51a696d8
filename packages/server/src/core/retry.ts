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

/** The part of an attempt's result the retry hints are read from. */
type Answer = { ok: true; statusCode: number; headers: Record<string, string>; body: string } | { ok: false };

/** Seconds as a decimal number (`1.5`) to milliseconds, or null. */
function decimalSeconds(value: unknown): number | null {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.ceil(n * 1000) : null;
}

/** The `Retry-After` of a 429 or 503 answer, in milliseconds, or null. */
export function retryAfterDelay(result: Answer, nowMs: number): number | null {
  if (!result.ok || (result.statusCode !== 429 && result.statusCode !== 503)) return null;
  return parseRetryAfter(result.headers['retry-after'], nowMs);
}

/**
 * How long a 429 answer asks to wait, in milliseconds (at least 1 s), or null when it is no 429
 * or says nothing. Besides `Retry-After` (whole seconds or a date), Discord sends
 * `X-RateLimit-Reset-After` and a JSON body `{"retry_after": 1.25}`, both decimal seconds; the
 * longest of them wins, so the next attempt never comes early.
 */
export function rateLimitDelay(result: Answer, nowMs: number): number | null {
  if (!result.ok || result.statusCode !== 429) return null;
  const hints = [
    parseRetryAfter(result.headers['retry-after'], nowMs),
    decimalSeconds(result.headers['x-ratelimit-reset-after']),
  ];
  if (result.body.trimStart().startsWith('{')) {
    try {
      hints.push(decimalSeconds((JSON.parse(result.body) as { retry_after?: unknown }).retry_after));
    } catch {
      // Not JSON after all: the headers decide.
    }
  }
  const known = hints.filter((h): h is number => h !== null);
  return known.length === 0 ? null : Math.max(1000, ...known);
}
