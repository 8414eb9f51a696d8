/**
 * The adaptive per-endpoint limit on its own (delivery/adaptive.ts): AIMD within its bounds, one
 * cut per overload, pauses asked for by Retry-After and rate-limit headers, and what it reports.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAdaptiveConcurrency, rateLimitPause } from '../src/delivery/adaptive.ts';
import type { SendResult } from '../src/delivery/sender.ts';

const answer = (statusCode: number, durationMs = 5, headers: Record<string, string> = {}): SendResult => ({
  ok: true,
  statusCode,
  headers,
  body: '',
  durationMs,
});
const T0 = 1_800_000_000_000;

describe('adaptive concurrency', () => {
  test('starts at the maximum and stays there while the endpoint answers fast and 2xx', () => {
    const a = createAdaptiveConcurrency({ max: 8 });
    assert.equal(a.limit('ep'), 8);
    for (let i = 0; i < 100; i++) a.observe('ep', T0 + i, answer(200), T0 + i + 5, 99);
    assert.equal(a.limit('ep'), 8);
    const s = a.snapshot('ep', T0 + 200);
    assert.equal(s.state, 'steady');
    assert.equal(s.pausedUntil, null);
    assert.deepEqual(s.latencyMs, { recent: 5, usual: 5 });
  });

  test('halves on 429, 503, 504 and timeouts, once per overload, never below the floor', () => {
    const a = createAdaptiveConcurrency({ max: 16 });
    // Sixteen requests on their way together all answer 503: one cut, not sixteen.
    for (let i = 0; i < 16; i++) a.observe('ep', T0, answer(503), T0 + 10 + i, 99);
    assert.equal(a.limit('ep'), 8);
    const s = a.snapshot('ep', T0 + 100);
    assert.equal(s.state, 'backed_off');
    assert.match(s.reason, /backed off after HTTP 503/);
    // Requests started after the cut count again.
    a.observe('ep', T0 + 30, answer(429), T0 + 40, 99);
    assert.equal(a.limit('ep'), 4);
    a.observe('ep', T0 + 50, { ok: false, error: 'timeout', message: 'x', durationMs: 15_000 }, T0 + 60, 99);
    assert.equal(a.limit('ep'), 2);
    assert.match(a.snapshot('ep', T0 + 60).reason, /timeout/);
    a.observe('ep', T0 + 70, answer(504), T0 + 80, 99);
    a.observe('ep', T0 + 90, answer(504), T0 + 100, 99);
    assert.equal(a.limit('ep'), 1, 'the floor');
    // Other failures neither cut nor grow it; a request that was never sent teaches nothing.
    a.observe('ep', T0 + 110, answer(500), T0 + 120, 99);
    a.observe(
      'ep',
      T0 + 110,
      { ok: false, error: 'connection_refused', message: 'x', durationMs: 1 },
      T0 + 120,
      99,
    );
    a.observe('ep', T0 + 110, { ok: false, error: 'not_sent', message: 'x', durationMs: 0 }, T0 + 120, 99);
    assert.equal(a.limit('ep'), 1);
    // Other endpoints are untouched.
    assert.equal(a.limit('other'), 16);
  });

  test('grows back by one per round of fast 2xx answers, up to the maximum', () => {
    const a = createAdaptiveConcurrency({ max: 6 });
    a.observe('ep', T0, answer(503), T0 + 1, 99);
    a.observe('ep', T0 + 2, answer(503), T0 + 3, 99);
    assert.equal(a.limit('ep'), 1);
    let t = T0 + 10;
    a.observe('ep', t, answer(200), ++t, 99);
    assert.equal(a.limit('ep'), 2, 'one answer at limit 1 is a round');
    a.observe('ep', t, answer(200), ++t, 99);
    assert.equal(a.limit('ep'), 2, 'half a round at limit 2');
    a.observe('ep', t, answer(200), ++t, 99);
    assert.equal(a.limit('ep'), 3);
    assert.equal(a.snapshot('ep', t).state, 'increasing');
    for (let i = 0; i < 100; i++) a.observe('ep', t, answer(200), ++t, 99);
    assert.equal(a.limit('ep'), 6, 'never above the maximum');
    assert.equal(a.snapshot('ep', t).state, 'steady');
  });

  test('does not grow while the endpoint is not sent enough to use its limit', () => {
    const a = createAdaptiveConcurrency({ max: 16 });
    a.observe('ep', T0, answer(503), T0 + 1, 16);
    assert.equal(a.limit('ep'), 8);
    let t = T0 + 10;
    // A quiet spell: one or two requests at a time, all fast and 2xx.
    for (let i = 0; i < 200; i++) a.observe('ep', t, answer(200), ++t, 1 + (i % 2));
    assert.equal(a.limit('ep'), 8, 'no growth without load');
    for (let i = 0; i < 8; i++) a.observe('ep', t, answer(200), ++t, 8);
    assert.equal(a.limit('ep'), 9, 'one more after a round at the limit');
  });

  test('latency well above the usual cuts the limit; one noisy answer does not', () => {
    const a = createAdaptiveConcurrency({ max: 8 });
    let t = T0;
    for (let i = 0; i < 20; i++) {
      t += 10;
      a.observe('ep', t - 10, answer(200, 10), t, 99);
    }
    t += 150;
    a.observe('ep', t - 150, answer(200, 150), t, 99);
    assert.equal(a.limit('ep'), 8, 'a single slow answer is noise');
    for (let i = 0; i < 5; i++) {
      t += 10;
      a.observe('ep', t - 10, answer(200, 10), t, 99);
    }
    for (let i = 0; i < 4; i++) a.observe('ep', t - 1, answer(200, 400), t + 400, 99);
    assert.equal(a.limit('ep'), 4, 'answers of a loaded endpoint cut it (once for the overload)');
    assert.match(a.snapshot('ep', t).reason, /latency rose to \d+ ms \(usually 10 ms\)/);
  });

  test('Retry-After on 429/503 pauses the whole endpoint: seconds or an HTTP date, bounded', () => {
    const a = createAdaptiveConcurrency({ max: 4, maxPauseMs: 60_000 });
    a.observe('ep', T0, answer(429, 5, { 'retry-after': '3' }), T0, 99);
    assert.equal(a.pausedUntil('ep', T0), T0 + 3000);
    assert.equal(a.pausedUntil('ep', T0 + 2999), T0 + 3000);
    assert.equal(a.pausedUntil('ep', T0 + 3000), 0, 'over');
    assert.deepEqual(a.paused(T0 + 1), ['ep']);
    const s = a.snapshot('ep', T0 + 1);
    assert.equal(s.state, 'paused');
    assert.equal(s.pausedUntil, T0 + 3000);
    assert.match(s.reason, /paused until .* by Retry-After on HTTP 429/);
    assert.equal(a.snapshot('ep', T0 + 3001).state, 'backed_off', 'after the pause: the cut limit');
    assert.deepEqual(a.paused(T0 + 3001), []);

    const date = new Date(T0 + 10_000).toUTCString();
    a.observe('d', T0, answer(503, 5, { 'retry-after': date }), T0, 99);
    assert.equal(a.pausedUntil('d', T0), T0 + 10_000);
    a.observe('long', T0, answer(503, 5, { 'retry-after': '86400' }), T0, 99);
    assert.equal(a.pausedUntil('long', T0), T0 + 60_000, 'bounded by maxPauseMs');
    // On other statuses, and unparseable, Retry-After pauses nothing.
    a.observe('x', T0, answer(500, 5, { 'retry-after': '30' }), T0, 99);
    a.observe('y', T0, answer(429, 5, { 'retry-after': 'soon' }), T0, 99);
    a.observe('z', T0, answer(200, 5, { 'retry-after': '30' }), T0, 99);
    assert.deepEqual(a.paused(T0 + 3001).sort(), ['d', 'long'], 'the pause of ep is over');
  });

  test('used-up rate limits pause the endpoint until their reset', () => {
    const now = T0;
    assert.equal(rateLimitPause({ 'ratelimit-remaining': '0', 'ratelimit-reset': '7' }, now), 7000);
    assert.equal(rateLimitPause({ 'ratelimit-remaining': '3', 'ratelimit-reset': '7' }, now), null);
    assert.equal(
      rateLimitPause({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 20) }, now),
      20_000,
      'epoch seconds (GitHub)',
    );
    assert.equal(
      rateLimitPause({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': '1.5' }, now),
      1500,
    );
    assert.equal(rateLimitPause({ ratelimit: 'limit=10, remaining=0, reset=4' }, now), 4000);
    assert.equal(rateLimitPause({ ratelimit: '"default";r=0;t=9' }, now), 9000);
    assert.equal(rateLimitPause({ ratelimit: '"default";r=5;t=9' }, now), null);
    assert.equal(rateLimitPause({ 'ratelimit-remaining': '0' }, now), null, 'no reset: no pause');

    const a = createAdaptiveConcurrency({ max: 4 });
    // Even a 2xx that used the last request of the window pauses; it does not cut the limit.
    a.observe('ep', T0, answer(200, 5, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '2' }), T0, 99);
    assert.equal(a.pausedUntil('ep', T0), T0 + 2000);
    assert.equal(a.limit('ep'), 4);
    assert.match(a.snapshot('ep', T0).reason, /rate limit \(remaining 0\) on HTTP 200/);
  });

  test('turned off: a fixed limit and no pauses', () => {
    const a = createAdaptiveConcurrency({ max: 4, enabled: false });
    a.observe('ep', T0, answer(503, 5, { 'retry-after': '30' }), T0 + 1, 99);
    assert.equal(a.limit('ep'), 4);
    assert.equal(a.pausedUntil('ep', T0 + 2), 0);
    const s = a.snapshot('ep', T0 + 2);
    assert.equal(s.adaptive, false);
    assert.equal(s.state, 'steady');
  });
});
