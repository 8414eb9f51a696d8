/**
 * Which due deliveries a claim may lease, given each endpoint's limits. SQLite reads the facts
 * below inside its claim transaction (one writer at a time), asks this function, then writes
 * the leases. PostgreSQL applies the same rules inside its claim function (`hookline_claim`,
 * postgres/migrations.ts), one claim at a time per endpoint across every process, so that a
 * claim is one statement; the store contract tests hold both to the same behaviour.
 *
 * - In-flight limit: live leases of an endpoint (all workers) never exceed `perEndpoint`.
 * - FIFO: only the oldest undelivered delivery of a FIFO endpoint may be in flight; while it
 *   waits for a retry, the ones behind it wait too.
 * - Rate limit (`throttleRate`, per second): at most one delivery per claim, and claims of one
 *   endpoint at least 1000/rate ms apart, so no one-second window sees more than `rate`.
 *   Chat destinations without a rate of their own get `CHAT_DEFAULT_RATE`.
 */
import { isChatKind } from '../core/types.ts';

/**
 * Deliveries per second to a chat destination (`slack`, `discord`, `teams`) whose endpoint sets
 * no `throttleRate`: Slack documents about one message per second per incoming webhook, Discord
 * and Teams allow a little more; sending faster only earns 429s.
 */
export const CHAT_DEFAULT_RATE = 1;

/**
 * The rate limit of an endpoint: its own `throttleRate`, else the chat default for chat kinds,
 * else its application's. Null or 0: no limit.
 */
export function rateOf(endpointRate: number | null, appRate: number | null, kind: string): number | null {
  if (endpointRate !== null) return endpointRate;
  if (isChatKind(kind)) return CHAT_DEFAULT_RATE;
  return appRate;
}

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
  /** Earliest time the next delivery may be claimed (rate limit), or null. */
  nextSlotAt: number | null;
}

export interface ClaimPlan {
  ids: string[];
  /** New `nextSlotAt` for rate-limited endpoints that got a delivery. */
  slots: Map<string, number>;
}

/**
 * A second as rate slots count it: 5% longer, so that network jitter between the claim and the
 * receiver cannot squeeze `rate + 1` deliveries into one second as the receiver measures it.
 */
export const SLOT_SECOND_MS = 1050;

/** Milliseconds between two deliveries at `rate` per second. */
export const slotInterval = (rate: number): number => Math.ceil(SLOT_SECOND_MS / rate);

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
  for (const c of candidates) {
    if (ids.length >= o.limit) break;
    if (done.has(c.endpointId)) continue;
    const gate = gates.get(c.endpointId);
    if (!gate) continue; // endpoint locked by another claim right now, or deleted
    let room = o.perEndpoint - gate.inFlight - (taken.get(c.endpointId) ?? 0);
    if (gate.ratePerSecond !== null && gate.ratePerSecond > 0) {
      if ((gate.nextSlotAt ?? 0) > o.now) room = 0;
      else room = Math.min(room, 1);
    }
    if (gate.fifo) {
      done.add(c.endpointId);
      if (room <= 0 || gate.inFlight > 0 || !gate.fifoHead?.due) continue;
      ids.push(gate.fifoHead.id);
      if (gate.ratePerSecond) slots.set(c.endpointId, slotFrom + slotInterval(gate.ratePerSecond));
      continue;
    }
    if (room <= 0) {
      done.add(c.endpointId);
      continue;
    }
    ids.push(c.id);
    taken.set(c.endpointId, (taken.get(c.endpointId) ?? 0) + 1);
    if (gate.ratePerSecond) {
      slots.set(c.endpointId, slotFrom + slotInterval(gate.ratePerSecond));
      done.add(c.endpointId);
    }
  }
  return { ids, slots };
}
