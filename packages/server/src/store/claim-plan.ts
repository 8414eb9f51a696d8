/**
 * Which due deliveries a claim may lease, given each endpoint's limits, and in what order
 * endpoints take turns. SQLite reads the facts below inside its claim transaction (one writer at
 * a time) and asks these functions; PostgreSQL applies the same rules inside its claim function
 * (`hookline_claim`, postgres/migrations.ts), one claim at a time per endpoint across every
 * process, so that a claim is one statement; the store contract tests hold both to the same
 * behaviour.
 *
 * - In-flight limit: live leases of an endpoint (all workers) never exceed `perEndpoint`.
 * - FIFO: only the oldest undelivered delivery of a FIFO endpoint may be in flight; while it
 *   waits for a retry, the ones behind it wait too.
 * - Ordering keys: a delivery with an ordering key may only be leased when no open delivery of
 *   its (endpoint, key) line comes before it (by sequence number, then id) and none of that line
 *   is in flight; a retry holds back its own line only. Checked only for keyed rows, on partial
 *   indexes that hold keyed rows only. FIFO endpoints send their head whatever its key.
 * - Rate limit (`throttleRate`, per second): at most one delivery per claim, and claims of one
 *   endpoint at least 1000/rate ms apart, so no one-second window sees more than `rate`.
 *   Chat destinations without a rate of their own get `CHAT_DEFAULT_RATE`.
 * - Live first: deliveries that became due in the last `LIVE_MS` (new messages, retries on
 *   schedule, expired leases) go first, in due order. While live traffic keeps up, what is live
 *   stays a short list, so the rest of a claim serves the backlogs; an endpoint back from an
 *   outage with a million deliveries waiting does not delay anyone's new messages.
 * - Turns: the rest of a claim is shared by the endpoints with due work round robin, a share of
 *   several each (`claimShare`: eight, or a quarter of a small claim), starting after the
 *   endpoint where the previous claim stopped, so that many backlogs drain side by side and a
 *   claim serves a few endpoints several deliveries each. (What a claim writes, and later the
 *   outcomes of what it leased, then land on a few pages of each per-endpoint index instead of a
 *   page per delivery.) PostgreSQL locks endpoints for their share; SQLite gives the first round
 *   by shares and what it leaves, one each, to the others.
 *
 * Which endpoints have due work: the oldest due deliveries (a window of `4 x limit` rows of the
 * due index) show them all when the window is not full; when it is, there may be more behind it,
 * and the claim walks the endpoints with open deliveries in id order from where the last claim
 * stopped, `scanBudget(limit)` at most, one index probe each (SQLite stops sooner, once it has
 * twice the endpoints its claim needs at their share: it reads each one it found).
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

export interface EndpointGate {
  /** Deliveries of this endpoint leased by some worker, lease not yet expired. */
  inFlight: number;
  fifo: boolean;
  /** FIFO endpoints: the oldest pending or sending delivery, when it is due, whether it is now. */
  fifoHead: { id: string; at: number; due: boolean } | null;
  /** Deliveries per second (the endpoint's, else its application's), or null for no limit. */
  ratePerSecond: number | null;
  /** Earliest time the next delivery may be claimed (rate limit), or null. */
  nextSlotAt: number | null;
}

/** Deliveries that became due this recently are live traffic: a claim takes them first. */
export const LIVE_MS = 2_000;

/** Endpoints a claim walks past the due window, at most (one index probe each). */
export const SCAN_ENDPOINTS = 256;

/**
 * How many endpoints a claim of `limit` walks: a claim serves at most `limit` endpoints, so a
 * small claim (a worker whose slots free one by one while it drains a backlog) walks a few and
 * the next claim goes on from there, instead of paying for the whole walk each time.
 */
export const scanBudget = (limit: number): number => Math.min(SCAN_ENDPOINTS, Math.max(2 * limit, 16));

/** The due window a claim reads first: this many rows per delivery it may lease. */
export const WINDOW_PER_LIMIT = 4;

/**
 * How many due deliveries an endpoint may take in this claim: room below the in-flight limit;
 * rate-limited endpoints one, when their slot has come; FIFO endpoints their head, when it is
 * due and nothing is in flight.
 */
export function roomOf(gate: EndpointGate, perEndpoint: number, now: number): number {
  let room = perEndpoint - gate.inFlight;
  if (gate.ratePerSecond !== null && gate.ratePerSecond > 0) {
    if ((gate.nextSlotAt ?? 0) > now) return 0;
    room = Math.min(room, 1);
  }
  if (gate.fifo) return room > 0 && gate.inFlight === 0 && gate.fifoHead?.due ? 1 : 0;
  return Math.max(0, room);
}

/**
 * When an endpoint with due work but no room (`roomOf` 0) may be claimed for, as far as the claim
 * can tell: its next rate slot, or its FIFO head's retry; `now` when it waits for leases to end
 * (at its in-flight limit, or a FIFO endpoint with its head in flight), which no time says.
 */
export function blockedUntil(gate: EndpointGate, perEndpoint: number, now: number): number {
  if (gate.inFlight >= perEndpoint) return now;
  if (gate.ratePerSecond !== null && gate.ratePerSecond > 0 && (gate.nextSlotAt ?? 0) > now)
    return gate.nextSlotAt!;
  if (gate.fifo && gate.inFlight === 0 && gate.fifoHead !== null) return Math.max(gate.fifoHead.at, now);
  return now;
}

/** An endpoint a claim saw with due work: its gate, its room when the claim began, what it got. */
export interface SeenEndpoint {
  id: string;
  gate: EndpointGate;
  room: number;
  given: number;
  /** A rate-limited endpoint that got its delivery: when its next slot comes. */
  nextSlotAt: number | null;
  /**
   * The claim stopped before the end of its due work: it took all it asked of the endpoint and
   * still had room, but the claim's limit or its turns ran out. More may be claimable now.
   */
  more: boolean;
}

/**
 * What a claim that saw every endpoint with due work says of what it leaves (`Claim`):
 * - an endpoint without room waits until `blockedUntil`;
 * - a rate-limited one that got its delivery waits for its next slot;
 * - one the claim stopped short of (`more`: its limit or its turns ran out) may be claimed now;
 * - one that got all its room (neither FIFO nor rate-limited) is `filled`: more of its work may
 *   be due, and the worker comes back for it when a slot of its frees up;
 * - any other got all it had due (a FIFO endpoint its head, whose outcome brings the next).
 * `blockedUntil` is the earliest of those times, null when there is none.
 */
export function whatIsLeft(
  seen: readonly SeenEndpoint[],
  perEndpoint: number,
  now: number,
): { blockedUntil: number | null; filled: string[] } {
  let until: number | null = null;
  const filled: string[] = [];
  const wait = (t: number) => {
    until = until === null ? t : Math.min(until, t);
  };
  for (const e of seen) {
    if (e.room <= 0) wait(blockedUntil(e.gate, perEndpoint, now));
    else if (e.nextSlotAt !== null && e.given > 0) wait(e.nextSlotAt);
    else if (e.more) wait(now);
    else if (!e.gate.fifo && e.given >= e.room) filled.push(e.id);
  }
  return { blockedUntil: until, filled };
}

/** Endpoint ids in turn order: those after `after` (by id), then from the first. */
export function inTurn(ids: Iterable<string>, after: string): string[] {
  const sorted = [...new Set(ids)].sort();
  const i = sorted.findIndex((id) => id > after);
  return i <= 0 ? sorted : [...sorted.slice(i), ...sorted.slice(0, i)];
}

/**
 * Round robin over endpoints in turn order: each takes up to `share`, then each with room up to
 * `share` more, and so on until `limit`. Returns how many each takes (see "Turns" above).
 */
export function shareOut(rooms: number[], limit: number, share = 1): number[] {
  const takes = rooms.map(() => 0);
  let left = limit;
  let level = 0;
  while (left > 0) {
    let any = false;
    for (let i = 0; i < rooms.length && left > 0; i++) {
      const take = Math.min(share, rooms[i]! - level, left);
      if (take > 0) {
        takes[i]! += take;
        left -= take;
        any = true;
      }
    }
    if (!any) break;
    level += share;
  }
  return takes;
}

/**
 * How many deliveries an endpoint is served at a time in a claim over many (`shareOut`): eight,
 * or a quarter of a small batch, so that a claim of a few still spreads over a few endpoints.
 * PostgreSQL's claim locks endpoints for the same share (`min_share`).
 */
export function claimShare(limit: number): number {
  return Math.max(1, Math.min(8, Math.ceil(limit / 4)));
}

/**
 * The picks in the order they go out: the first of each endpoint in turn, then the second, and
 * so on, at most `limit`. `rows[i]` are endpoint i's picks in due order.
 */
export function interleave<T>(rows: T[][], limit: number): T[] {
  const out: T[] = [];
  for (let rank = 0; out.length < limit; rank++) {
    let any = false;
    for (const r of rows) {
      if (rank < r.length && out.length < limit) {
        out.push(r[rank]!);
        any = true;
      }
    }
    if (!any) break;
  }
  return out;
}

/**
 * A second as rate slots count it: 10% longer, so that jitter between the claim and the receiver
 * (a busy event loop, the network) cannot squeeze `rate + 1` deliveries into one second as the
 * receiver measures it: `rate + 1` slots span 1.1 s, and a delay of up to 100 ms of the first
 * of them keeps them apart. (5% was enough while a worker looked for a slot every 50 ms, which
 * put its claims up to 50 ms after their slots; it now claims at the slot.)
 */
export const SLOT_SECOND_MS = 1100;

/** Milliseconds between two deliveries at `rate` per second. */
export const slotInterval = (rate: number): number => Math.ceil(SLOT_SECOND_MS / rate);
