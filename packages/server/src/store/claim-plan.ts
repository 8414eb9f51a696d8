/**
 * Which due deliveries a claim may lease, given each endpoint's limits. Shared by the adapters:
 * each reads the facts below inside its claim transaction (with the endpoint rows locked, so
 * the limits hold across every worker process), asks this function, then writes the leases.
 *
 * - In-flight limit: live leases of an endpoint (all workers) never exceed `perEndpoint`.
 * - FIFO: only the oldest undelivered delivery of a FIFO endpoint may be in flight; while it
 *   waits for a retry, the ones behind it wait too.
 * - Rate limit (`throttleRate`, per second): deliveries are spaced `slotInterval(rate)` apart
 *   (a generic cell rate algorithm), with a burst of `rateBurst(rate)` back to back, so that no
 *   one-second window sees more than `rate` and a claim may take several deliveries of a fast
 *   endpoint instead of one.
 */

export interface ClaimCandidate {
  id: string;
  endpointId: string;
}

export interface EndpointGate {
  /** Deliveries of this endpoint leased by some worker, lease not yet expired. */
  inFlight: number;
  fifo: boolean;
  /** FIFO endpoints: the oldest pending or sending delivery, and whether it is due now. */
  fifoHead: { id: string; due: boolean } | null;
  /** Deliveries per second (the endpoint's, else its application's), or null for no limit. */
  ratePerSecond: number | null;
  /**
   * Rate limit: earliest time the next delivery may be claimed, or null. It trails the
   * theoretical time of the next delivery by `(rateBurst - 1) * slotInterval`.
   */
  nextSlotAt: number | null;
}

export interface ClaimPlan {
  ids: string[];
  /** New `nextSlotAt` for rate-limited endpoints that got a delivery. */
  slots: Map<string, number>;
}

/**
 * Milliseconds between two deliveries at `rate` per second: 5% slower than the exact spacing,
 * so that network jitter between the claim and the receiver cannot squeeze `rate + 1`
 * deliveries into one second as the receiver measures it. Whole milliseconds: above about
 * 100/s the spacing rounds up noticeably (400/s is spaced 3 ms apart: 333/s once a burst is spent).
 */
export const slotInterval = (rate: number): number => Math.ceil(1050 / rate);

/**
 * How many deliveries of an endpoint limited to `rate` per second may go back to back. Spaced
 * deliveries fill at most `floor(1000 / slotInterval)` of any second; a burst takes half of the
 * room left below `rate` (the other half absorbs network jitter before the receiver), so
 * endpoints below about 60/s get no burst and one at 100/s gets 4.
 */
export const rateBurst = (rate: number): number =>
  Math.max(1, Math.floor((rate - 1000 / slotInterval(rate)) / 2));

export function planClaim(
  candidates: ClaimCandidate[],
  gates: Map<string, EndpointGate>,
  o: {
    now: number;
    limit: number;
    perEndpoint: number;
    /** Next rate-limit slots count from here (default `now`): the time the locks were taken. */
    slotFrom?: number;
  },
): ClaimPlan {
  const slotFrom = Math.max(o.now, o.slotFrom ?? o.now);
  const ids: string[] = [];
  const slots = new Map<string, number>();
  const taken = new Map<string, number>();
  const done = new Set<string>();
  // Rate-limited endpoints: the theoretical time of their next delivery, as this plan moves it.
  const next = new Map<string, number>();
  /** Takes one rate slot of the endpoint if one is free; records the new gate time. */
  function takeSlot(endpointId: string, gate: EndpointGate, rate: number): boolean {
    const interval = slotInterval(rate);
    const slack = (rateBurst(rate) - 1) * interval;
    const tat = next.get(endpointId) ?? Math.max((gate.nextSlotAt ?? 0) + slack, slotFrom);
    if (tat - slotFrom > slack) return false;
    next.set(endpointId, tat + interval);
    slots.set(endpointId, tat + interval - slack);
    return true;
  }
  for (const c of candidates) {
    if (ids.length >= o.limit) break;
    if (done.has(c.endpointId)) continue;
    const gate = gates.get(c.endpointId);
    if (!gate) continue; // endpoint locked by another claim right now, or deleted
    const rate = gate.ratePerSecond !== null && gate.ratePerSecond > 0 ? gate.ratePerSecond : null;
    const room = o.perEndpoint - gate.inFlight - (taken.get(c.endpointId) ?? 0);
    if (rate !== null && (gate.nextSlotAt ?? 0) > o.now) {
      done.add(c.endpointId);
      continue;
    }
    if (gate.fifo) {
      done.add(c.endpointId);
      if (room <= 0 || gate.inFlight > 0 || !gate.fifoHead?.due) continue;
      if (rate !== null && !takeSlot(c.endpointId, gate, rate)) continue;
      ids.push(gate.fifoHead.id);
      continue;
    }
    if (room <= 0 || (rate !== null && !takeSlot(c.endpointId, gate, rate))) {
      done.add(c.endpointId);
      continue;
    }
    ids.push(c.id);
    taken.set(c.endpointId, (taken.get(c.endpointId) ?? 0) + 1);
  }
  return { ids, slots };
}
