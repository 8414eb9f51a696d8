/**
 * The shared claim rules (store/claim-plan.ts) as a pure function: the rate limit's spacing and
 * burst, simulated over seconds of claims, without a database.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type EndpointGate, planClaim, rateBurst, slotInterval } from '../src/store/claim-plan.ts';

/** Claims every `everyMs` for `seconds`, on an endpoint with an endless backlog; returns claim times. */
function simulate(rate: number, everyMs: number, seconds: number, jitterMs = 0): number[] {
  let nextSlotAt: number | null = null;
  const granted: number[] = [];
  let seq = 0;
  let random = 1;
  for (let now = 0; now < seconds * 1000; now += everyMs) {
    // A deterministic pseudo-random jitter: claims do not come on a perfect clock.
    random = (random * 48271) % 2147483647;
    const at = now + (random % (jitterMs + 1));
    const gate: EndpointGate = { inFlight: 0, fifo: false, fifoHead: null, ratePerSecond: rate, nextSlotAt };
    const candidates = Array.from({ length: 50 }, () => ({ id: `d${seq++}`, endpointId: 'ep' }));
    const plan = planClaim(candidates, new Map([['ep', gate]]), { now: at, limit: 100, perEndpoint: 1000 });
    for (const _ of plan.ids) granted.push(at);
    if (plan.slots.has('ep')) nextSlotAt = plan.slots.get('ep')!;
  }
  return granted;
}

/** The most deliveries in any window of `windowMs`. */
function busiestWindow(times: number[], windowMs: number): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

describe('claim plan: rate limit', () => {
  for (const rate of [1, 5, 20, 60, 100, 400]) {
    test(`${rate}/s: never more than ${rate} in any second, and close to ${rate}/s over time`, () => {
      for (const [everyMs, jitterMs] of [
        [50, 0],
        [7, 3],
        [200, 40],
      ] as const) {
        const times = simulate(rate, everyMs, 6, jitterMs);
        const most = busiestWindow(times, 1000);
        assert.ok(most <= rate, `claims every ${everyMs} ms: ${most} in one second (limit ${rate})`);
        if (everyMs === 7) {
          // Claims come often: the endpoint gets its spacing's rate (5% below `rate`, and at very
          // high rates less, as the spacing is whole milliseconds).
          const achieved = times.length / 6;
          const spaced = 1000 / slotInterval(rate);
          assert.ok(
            achieved >= spaced * 0.95,
            `${achieved.toFixed(1)}/s (want >= ${(spaced * 0.95).toFixed(1)})`,
          );
        }
      }
    });
  }

  test('a fast endpoint keeps its rate when claims come only every 50 ms (the burst carries it)', () => {
    const times = simulate(100, 50, 6);
    assert.ok(times.length / 6 >= 70, `${(times.length / 6).toFixed(1)}/s at 100/s with 50 ms claims`);
    assert.ok(busiestWindow(times, 1000) <= 100);
  });

  test('below about 60/s a claim takes one delivery; faster endpoints take a burst', () => {
    assert.equal(rateBurst(5), 1);
    assert.equal(rateBurst(41), 1);
    assert.ok(rateBurst(100) > 1);
    assert.equal(slotInterval(5), 210);
    const gate: EndpointGate = {
      inFlight: 0,
      fifo: false,
      fifoHead: null,
      ratePerSecond: 100,
      nextSlotAt: null,
    };
    const candidates = Array.from({ length: 20 }, (_, i) => ({ id: `d${i}`, endpointId: 'ep' }));
    const plan = planClaim(candidates, new Map([['ep', gate]]), { now: 1000, limit: 100, perEndpoint: 100 });
    assert.equal(plan.ids.length, rateBurst(100));
    const slow = planClaim(candidates, new Map([['ep', { ...gate, ratePerSecond: 5 }]]), {
      now: 1000,
      limit: 100,
      perEndpoint: 100,
    });
    assert.equal(slow.ids.length, 1);
    assert.equal(slow.slots.get('ep'), 1000 + slotInterval(5));
  });
});
