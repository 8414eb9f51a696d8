/**
 * Endpoint health, as pure rules: when an endpoint starts failing, what a success resets, and
 * when a failing endpoint is disabled. The dispatcher decides the threshold, the store persists
 * what `healthChanges` says (atomically, so workers sharing a database agree), and the server
 * announces each disabled endpoint (`endpoint.disabled`).
 *
 * - An endpoint is *failing since* the first failed attempt after its last success.
 * - A success makes it healthy again (`failingSince` null); it does not re-enable it.
 * - An endpoint failing since at or before the threshold is disabled: the threshold is
 *   `now - disableAfterMs` (failing for that long without a single success), or `now` when the
 *   receiver asked to be unsubscribed (a REST Hook answering 410).
 */
import type { DeliveryOutcome } from './outcome.ts';
import { DeliveryStatus } from './types.ts';

/** The threshold for an attempt that just failed at `now`. */
export const disableThreshold = (now: number, disableAfterMs: number, unsubscribe = false): number =>
  unsubscribe ? now : now - disableAfterMs;

/** One attempt, as it bears on its endpoint's health. */
export interface HealthSignal {
  endpointId: string;
  ok: boolean;
  /** When the attempt was made. */
  at: number;
  /** Failed attempts: disable the endpoint when it has been failing since at or before this. */
  disableIfFailingSince?: number;
}

/** What a batch of attempts does to one endpoint: the batch's last word. */
export type HealthChange =
  | { endpointId: string; kind: 'recovered' }
  | {
      endpointId: string;
      kind: 'failing';
      /** The first failure after the batch's last success (or the batch's first failure). */
      since: number;
      /**
       * The batch had a success before its failures: the run starts again at `since`. Otherwise
       * an endpoint already failing keeps its earlier start.
       */
      restart: boolean;
      /** Disable when failing since at or before this (the latest threshold of the run), or never. */
      disableIfFailingSince: number | null;
    };

/**
 * Folds a batch of attempts (in the order they were made) into one change per endpoint, in
 * endpoint id order (so writers lock endpoint rows in one order and never deadlock).
 */
export function healthChanges(signals: readonly HealthSignal[]): HealthChange[] {
  const byEndpoint = new Map<string, HealthSignal[]>();
  for (const s of signals) {
    const list = byEndpoint.get(s.endpointId);
    if (list) list.push(s);
    else byEndpoint.set(s.endpointId, [s]);
  }
  const changes: HealthChange[] = [];
  for (const endpointId of [...byEndpoint.keys()].sort()) {
    const list = byEndpoint.get(endpointId)!;
    const lastSuccess = list.findLastIndex((s) => s.ok);
    const failures = list.slice(lastSuccess + 1);
    if (failures.length === 0) {
      changes.push({ endpointId, kind: 'recovered' });
      continue;
    }
    const thresholds = failures
      .map((f) => f.disableIfFailingSince)
      .filter((t): t is number => t !== undefined);
    changes.push({
      endpointId,
      kind: 'failing',
      since: failures[0]!.at,
      restart: lastSuccess >= 0,
      disableIfFailingSince: thresholds.length > 0 ? Math.max(...thresholds) : null,
    });
  }
  return changes;
}

/** The health signals of a batch of outcomes: attempts whose delivery the worker still held. */
export const healthSignals = (outcomes: readonly DeliveryOutcome[], held: (deliveryId: string) => boolean) =>
  outcomes.flatMap((o): HealthSignal[] =>
    o.attempt && held(o.deliveryId)
      ? [
          {
            endpointId: o.attempt.endpointId,
            ok: o.attempt.status === DeliveryStatus.success,
            at: o.attempt.createdAt,
            ...(o.disableIfFailingSince !== undefined
              ? { disableIfFailingSince: o.disableIfFailingSince }
              : {}),
          },
        ]
      : [],
  );
