/**
 * Lifetime of `listen` endpoints. `hookline listen` makes an endpoint and streams it while it
 * runs; when the developer is done, the endpoint stays and every message for it would queue
 * forever. So a `listen` endpoint whose client has been gone for `ttlMs` is paused: disabled
 * (new messages no longer queue for it) and its queued deliveries canceled (they show as
 * canceled; `recover` brings them back). It keeps its id, name and signing secret, and the next
 * `hookline listen` with that name enables it again.
 *
 * "Gone since" is the endpoint's `updatedAt`: the listen hub refreshes it while a client is
 * connected (every `seenEveryMs`, a fraction of the TTL) and when the client leaves; a change
 * through the API counts as use too. A pass reads every application's endpoints (the store has
 * no query for one kind across applications), so passes are rare: a quarter of the TTL, at
 * most an hour apart. Several API processes may pass at once: pausing twice is harmless.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Endpoint } from '../core/types.ts';
import type { Store } from '../store/store.ts';
import { createPeriodic, type Periodic } from './periodic.ts';

/** A pass returns how many endpoints it paused and deliveries it canceled. */
export type ListenExpiry = Periodic<{ paused: number; canceled: number }>;

/**
 * How often a connected client's "last seen" is refreshed for a TTL: well within it, so that
 * a client connected to another API process never looks gone.
 */
export const listenSeenEvery = (ttlMs: number): number => Math.min(Math.max(ttlMs / 4, 250), 3_600_000);

const PAGE = 100;
/** Deliveries canceled per transaction when a paused endpoint's queue is emptied. */
const CANCEL_BATCH = 500;

export function createListenExpiry(deps: {
  store: Store;
  clock: Clock;
  logger: Logger;
  ttlMs: number;
  /** A client of this endpoint is connected to this process (its "last seen" may lag a little). */
  isConnected(endpointId: string): boolean;
  /** Time between passes (default a quarter of the TTL, from 1 s to 1 h). */
  intervalMs?: number;
  /** An endpoint was paused (for metrics). */
  onPaused?(): void;
  /** `count` queued deliveries of a paused endpoint were canceled (for metrics). */
  onCanceled?(count: number): void;
}): ListenExpiry {
  const { store, clock, logger, ttlMs } = deps;
  const intervalMs = deps.intervalMs ?? Math.min(Math.max(ttlMs / 4, 1_000), 3_600_000);

  const stale = (ep: Endpoint, now: number) =>
    ep.kind === 'listen' && !ep.disabled && ep.updatedAt < now - ttlMs && !deps.isConnected(ep.id);

  /** Cancels what is due for a disabled listen endpoint (no client will take it any more). */
  async function cancelQueued(ep: Endpoint): Promise<number> {
    let canceled = 0;
    // Bounded: a retry scheduled for later is canceled by a later pass, once due.
    for (let round = 0; round < 100; round++) {
      const { deliveries: batch } = await store.claimDue({
        now: clock.now(),
        limit: CANCEL_BATCH,
        leaseMs: 60_000,
        perEndpoint: CANCEL_BATCH,
        skipEndpoints: [],
        onlyEndpoints: [ep.id],
      });
      if (batch.length === 0) break;
      await store.completeDeliveries(
        batch.map((d) => ({
          deliveryId: d.id,
          leaseUntil: d.leaseUntil,
          attempt: null,
          next: { kind: 'cancel' },
        })),
        clock.now(),
      );
      canceled += batch.length;
      deps.onCanceled?.(batch.length);
      if (batch.length < CANCEL_BATCH) break;
    }
    return canceled;
  }

  async function consider(ep: Endpoint, totals: { paused: number; canceled: number }) {
    const now = clock.now();
    if (ep.kind !== 'listen' || deps.isConnected(ep.id)) return;
    if (ep.disabled) {
      totals.canceled += await cancelQueued(ep);
      return;
    }
    if (!stale(ep, now)) return;
    // Read again just before writing: a client may have come back since the page was read.
    const fresh = await store.getEndpoint(ep.appId, ep.id);
    if (!fresh || !stale(fresh, clock.now())) return;
    // `updatedAt` stays the last-seen time: `hookline listen` tells from it, when it enables the
    // endpoint again, since when events were not kept.
    await store.updateEndpoint({ ...fresh, disabled: true });
    totals.paused++;
    deps.onPaused?.();
    const canceled = await cancelQueued(fresh);
    totals.canceled += canceled;
    logger.info(
      { endpointId: ep.id, appId: ep.appId, lastSeen: new Date(ep.updatedAt).toISOString(), canceled },
      'paused a listen endpoint whose hookline listen has been gone too long',
    );
  }

  async function pass(stopping: () => boolean) {
    const totals = { paused: 0, canceled: 0 };
    let appsAfter: string | null = null;
    for (;;) {
      if (stopping()) break;
      const apps = await store.listApps({ limit: PAGE, after: appsAfter, before: null, order: 'asc' });
      for (const app of apps.items) {
        let after: string | null = null;
        for (;;) {
          const page = await store.listEndpoints(app.id, { limit: PAGE, after, before: null, order: 'asc' });
          for (const ep of page.items) await consider(ep, totals);
          if (!page.more || page.items.length === 0) break;
          after = page.items[page.items.length - 1]!.id;
        }
      }
      if (!apps.more || apps.items.length === 0) break;
      appsAfter = apps.items[apps.items.length - 1]!.id;
      // Other work runs between pages.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return totals;
  }

  return createPeriodic({ name: 'listen endpoint expiry pass', logger, intervalMs, pass });
}
