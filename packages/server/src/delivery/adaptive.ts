/**
 * Receiver-aware back-pressure: how many deliveries this process sends to one endpoint at once,
 * and whether it may send to it at all right now.
 *
 * The limit adapts per endpoint (AIMD): it starts at the configured maximum
 * (`HOOKLINE_ENDPOINT_CONCURRENCY`), halves when the endpoint signals overload (429, 503, 504, a
 * timeout, or answers clearly slower than it usually does) and grows back by one per round of
 * fast 2xx answers while it is in use (as many requests in flight as it allows), never below
 * `min` nor above the maximum. One overload is counted once: the
 * answers to requests that were already on their way when the limit was cut do not cut it again.
 *
 * A `Retry-After` on a 429 or 503, and `RateLimit-Remaining: 0` (or `X-RateLimit-Remaining: 0`,
 * or `RateLimit: remaining=0` / `r=0`) with a reset time, pause the whole endpoint: the dispatcher
 * sends nothing to it until then.
 *
 * All of this is in-process and O(1) per answer (a map lookup and a few comparisons, no database
 * query); an endpoint that answers fast and 2xx stays at the maximum. With several worker
 * processes each keeps its own view.
 */
import { parseRetryAfter } from '../core/retry.ts';
import type { SendResult } from './sender.ts';

export interface AdaptiveOptions {
  /** The ceiling: the configured per-endpoint concurrency. */
  max: number;
  /** The floor. Default 1. */
  min?: number;
  /** false: the limit stays at `max` and answers never pause an endpoint (the old behaviour). */
  enabled?: boolean;
  /** The longest pause one answer may impose on a whole endpoint. Default 10 minutes. */
  maxPauseMs?: number;
  /**
   * An answer counts as slow when it and the recent average both take longer than twice the
   * endpoint's usual latency plus this. Default 50 ms (so machine noise on a fast endpoint is
   * not mistaken for overload).
   */
  latencySlackMs?: number;
}

/** What the limit is doing and why, as the API reports it. */
export type ConcurrencyState = 'steady' | 'increasing' | 'backed_off' | 'paused';

export interface ConcurrencySnapshot {
  adaptive: boolean;
  /** Requests this process may have in flight to the endpoint (none while it is paused). */
  limit: number;
  min: number;
  max: number;
  state: ConcurrencyState;
  reason: string;
  /** Epoch ms until which nothing is sent to the endpoint, or null. */
  pausedUntil: number | null;
  /** Smoothed latency of recent 2xx answers and the usual (lowest recent) one, in ms. */
  latencyMs: { recent: number; usual: number } | null;
  /** When the limit or the pause last changed (epoch ms), or null. */
  changedAt: number | null;
}

export interface AdaptiveConcurrency {
  readonly max: number;
  /** Requests allowed in flight to the endpoint (ignores pauses: see `pausedUntil`). */
  limit(endpointId: string): number;
  /** Epoch ms until which the endpoint is paused, or 0 when it is not paused at `now`. */
  pausedUntil(endpointId: string, now: number): number;
  /** Endpoints paused at `now`. */
  paused(now: number): string[];
  /**
   * Learns from one answer; `startedAt` is when its request was started, `inFlight` how many
   * requests to the endpoint were in flight with it (itself included).
   */
  observe(endpointId: string, startedAt: number, result: SendResult, now: number, inFlight: number): void;
  snapshot(endpointId: string, now: number): ConcurrencySnapshot;
}

interface EndpointState {
  /** Fractional: grows by 1/limit per fast answer, so by one per round. */
  limit: number;
  ewmaMs: number;
  /** Lowest 2xx latency in the current and the previous window: the endpoint's usual latency. */
  minCur: number;
  minPrev: number;
  windowStart: number;
  /** Answers to requests started before this do not cut the limit again. */
  decreasedAt: number;
  pausedUntil: number;
  state: ConcurrencyState;
  reason: string;
  changedAt: number;
  lastSeen: number;
}

const DECREASE = 0.5;
const EWMA_ALPHA = 0.25;
/** The usual latency is the lowest seen in the last one to two windows. */
const LATENCY_WINDOW_MS = 30_000;
/** Idle endpoints back at the maximum are forgotten after this long. */
const FORGET_AFTER_MS = 10 * 60_000;
const SWEEP_EVERY = 4096;

/** Reset hints: delta seconds, or epoch seconds (GitHub, Twitter), or an HTTP date. In ms from now. */
function resetDelay(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null;
  const t = value.trim();
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    return n > 1_000_000_000 ? n * 1000 - nowMs : Math.ceil(n * 1000);
  }
  return parseRetryAfter(t, nowMs);
}

/**
 * How long rate-limit headers ask to wait, in ms: only when they say nothing is left
 * (`remaining` is 0) and when the window resets. Null otherwise.
 */
export function rateLimitPause(headers: Record<string, string>, nowMs: number): number | null {
  const remaining = headers['ratelimit-remaining'] ?? headers['x-ratelimit-remaining'];
  if (remaining !== undefined) {
    if (remaining.trim() !== '0') return null;
    return (
      resetDelay(headers['ratelimit-reset'] ?? headers['x-ratelimit-reset'], nowMs) ??
      resetDelay(headers['x-ratelimit-reset-after'], nowMs)
    );
  }
  // The combined field of the IETF drafts: `limit=100, remaining=0, reset=30` or `"p";r=0;t=30`.
  const combined = headers.ratelimit;
  if (combined === undefined) return null;
  const r = /(?:^|[;,\s])(?:remaining|r)=(\d+)/.exec(combined);
  if (r?.[1] !== '0') return null;
  const t = /(?:^|[;,\s])(?:reset|t)=(\d+)/.exec(combined);
  return t ? Number(t[1]) * 1000 : null;
}

export function createAdaptiveConcurrency(options: AdaptiveOptions): AdaptiveConcurrency {
  const max = options.max;
  const min = Math.min(options.min ?? 1, max);
  const enabled = options.enabled ?? true;
  const maxPauseMs = options.maxPauseMs ?? 10 * 60_000;
  const slackMs = options.latencySlackMs ?? 50;
  const states = new Map<string, EndpointState>();
  const pausedIds = new Set<string>();
  let observed = 0;

  function sweep(now: number) {
    if (states.size < SWEEP_EVERY) return;
    for (const [id, s] of states) {
      if (s.limit >= max && s.pausedUntil <= now && now - s.lastSeen > FORGET_AFTER_MS) states.delete(id);
    }
  }

  function pause(s: EndpointState, id: string, until: number, why: string, now: number) {
    if (until <= s.pausedUntil) return;
    s.pausedUntil = until;
    s.state = 'paused';
    s.reason = why;
    s.changedAt = now;
    pausedIds.add(id);
  }

  function decrease(s: EndpointState, startedAt: number, why: string, now: number) {
    // Already cut for this overload: this request was on its way before the cut.
    if (startedAt <= s.decreasedAt) return;
    s.limit = Math.max(min, Math.floor(s.limit * DECREASE));
    s.decreasedAt = now;
    s.changedAt = now;
    if (s.pausedUntil <= now) {
      s.state = 'backed_off';
      s.reason = `backed off after ${why}`;
    }
  }

  return {
    max,
    limit(endpointId) {
      const s = states.get(endpointId);
      return s === undefined ? max : Math.floor(s.limit);
    },
    pausedUntil(endpointId, now) {
      if (pausedIds.size === 0) return 0;
      const s = states.get(endpointId);
      if (s === undefined || s.pausedUntil <= now) return 0;
      return s.pausedUntil;
    },
    paused(now) {
      const out: string[] = [];
      for (const id of pausedIds) {
        const until = states.get(id)?.pausedUntil ?? 0;
        if (until > now) out.push(id);
        else pausedIds.delete(id);
      }
      return out;
    },
    observe(endpointId, startedAt, result, now, inFlight) {
      if (!enabled || (!result.ok && result.error === 'not_sent')) return;
      let s = states.get(endpointId);
      if (s === undefined) {
        if (++observed % SWEEP_EVERY === 0) sweep(now);
        s = {
          limit: max,
          ewmaMs: -1,
          minCur: Infinity,
          minPrev: Infinity,
          windowStart: now,
          decreasedAt: -Infinity,
          pausedUntil: 0,
          state: 'steady',
          reason: 'at the configured maximum',
          changedAt: 0,
          lastSeen: now,
        };
        states.set(endpointId, s);
      }
      s.lastSeen = now;
      if (!result.ok) {
        if (result.error === 'timeout') decrease(s, startedAt, 'a timeout', now);
        return;
      }
      const code = result.statusCode;
      const h = result.headers;
      // The endpoint asks for a pause: Retry-After on 429/503, or a used-up rate limit.
      let pauseMs: number | null = null;
      if (code === 429 || code === 503) pauseMs = parseRetryAfter(h['retry-after'], now);
      let pauseWhy = `Retry-After on HTTP ${code}`;
      if (
        h['ratelimit-remaining'] !== undefined ||
        h['x-ratelimit-remaining'] !== undefined ||
        h.ratelimit !== undefined
      ) {
        const rl = rateLimitPause(h, now);
        if (rl !== null && (pauseMs === null || rl > pauseMs)) {
          pauseMs = rl;
          pauseWhy = `its rate limit (remaining 0) on HTTP ${code}`;
        }
      }
      if (pauseMs !== null && pauseMs > 0) {
        const until = now + Math.min(pauseMs, maxPauseMs);
        pause(s, endpointId, until, `paused until ${new Date(until).toISOString()} by ${pauseWhy}`, now);
      }
      if (code === 429 || code === 503 || code === 504) {
        decrease(s, startedAt, `HTTP ${code}`, now);
        return;
      }
      if (code < 200 || code >= 300) return;
      // Latency of 2xx answers: the usual one is the lowest of the last window or two.
      const ms = result.durationMs;
      if (now - s.windowStart > LATENCY_WINDOW_MS) {
        s.minPrev = s.minCur;
        s.minCur = Infinity;
        s.windowStart = now;
      }
      if (ms < s.minCur) s.minCur = ms;
      s.ewmaMs = s.ewmaMs < 0 ? ms : s.ewmaMs + EWMA_ALPHA * (ms - s.ewmaMs);
      const usual = Math.min(s.minCur, s.minPrev);
      const slow = 2 * usual + slackMs;
      if (ms > slow && s.ewmaMs > slow) {
        decrease(
          s,
          startedAt,
          `latency rose to ${Math.round(s.ewmaMs)} ms (usually ${Math.round(usual)} ms)`,
          now,
        );
        return;
      }
      if (ms > slow || s.limit >= max) {
        if (s.limit >= max && s.state !== 'steady' && s.pausedUntil <= now) {
          s.state = 'steady';
          s.reason = 'at the configured maximum';
          s.changedAt = now;
        }
        return;
      }
      // A fast 2xx while the limit was in use: one more per round of answers. An endpoint that
      // is not sent enough to reach its limit has shown nothing about a higher one.
      if (inFlight < Math.floor(s.limit)) return;
      s.limit = Math.min(max, s.limit + 1 / Math.floor(s.limit));
      if (s.pausedUntil <= now && s.state !== 'increasing') {
        s.state = 'increasing';
        s.reason = 'increasing: the endpoint answers fast and 2xx';
        s.changedAt = now;
      }
    },
    snapshot(endpointId, now) {
      const s = states.get(endpointId);
      const paused = s !== undefined && s.pausedUntil > now;
      const latencyMs =
        s !== undefined && s.ewmaMs >= 0
          ? { recent: Math.round(s.ewmaMs), usual: Math.round(Math.min(s.minCur, s.minPrev)) }
          : null;
      if (!enabled) {
        return {
          adaptive: false,
          limit: max,
          min,
          max,
          state: 'steady',
          reason: 'adaptive concurrency is off (HOOKLINE_ADAPTIVE_CONCURRENCY=false): a fixed limit',
          pausedUntil: null,
          latencyMs: null,
          changedAt: null,
        };
      }
      let state: ConcurrencyState = s?.state ?? 'steady';
      let reason = s?.reason ?? 'at the configured maximum';
      // A pause that is over: report what the limit does now.
      if (!paused && state === 'paused') {
        state = s!.limit >= max ? 'steady' : 'backed_off';
        reason =
          state === 'steady'
            ? 'at the configured maximum'
            : `backed off; resumed after a pause that ended at ${new Date(s!.pausedUntil).toISOString()}`;
      }
      return {
        adaptive: true,
        limit: s === undefined ? max : Math.floor(s.limit),
        min,
        max,
        state,
        reason,
        pausedUntil: paused ? s!.pausedUntil : null,
        latencyMs,
        changedAt: s === undefined || s.changedAt === 0 ? null : s.changedAt,
      };
    },
  };
}
