/**
 * What the dashboard's overview and live views read from a store (see `shared/overview.ts`).
 * Types only, kept apart from `store.ts` so the queries can import the table codecs without a
 * cycle. Every query is scoped to one application or, with `appId: null`, the whole instance.
 */
import type { Attempt, InboundStatus } from '../core/types.ts';

/** Attempts in one time bucket of the whole instance or one application. */
export interface ActivityBucket {
  /** Bucket start, epoch ms. */
  start: number;
  attempts: number;
  successes: number;
}

/** An endpoint that is failing (first failure not yet followed by a success) or disabled. */
export interface TroubledEndpoint {
  id: string;
  appId: string;
  appName: string;
  url: string;
  /** `http`, a chat kind, or `listen` (a developer's `hookline listen` session). */
  kind: string;
  disabled: boolean;
  failingSince: number | null;
  /** Last change of the endpoint (for a disabled one: about when it was disabled). */
  updatedAt: number;
}

/** What waits to be delivered to one endpoint right now (pending or being sent). */
export interface UndeliveredEndpoint {
  endpointId: string;
  appId: string;
  url: string;
  kind: string;
  count: number;
  /** When the oldest of them was created. */
  oldestAt: number;
  /** When the next try is due. */
  nextAttemptAt: number;
}

/** A recent failed attempt, with the event type of its message. */
export interface FailedAttempt {
  id: string;
  msgId: string;
  appId: string;
  endpointId: string;
  url: string;
  responseStatusCode: number;
  eventType: string;
  createdAt: number;
}

/** Requests one source received in the window, by outcome. */
export interface SourceRates {
  id: string;
  name: string;
  appId: string;
  accepted: number;
  rejected: number;
  /** Duplicates and handshakes. */
  other: number;
}

/** An attempt with its message's event type: one line of the live tail. */
export interface LiveAttempt extends Attempt {
  eventType: string;
}

/** A received request, without its body: one line of the live tail. */
export interface LiveInbound {
  id: string;
  sourceId: string;
  sourceName: string;
  appId: string;
  status: InboundStatus;
  eventType: string;
  method: string;
  verifyCode: string | null;
  verifyDetail: string | null;
  receivedAt: number;
}

/** Narrows the live feed; every condition given must hold. */
export interface LiveFilter {
  appId: string | null;
  endpointId?: string;
  msgId?: string;
  sourceId?: string;
  /** Messages of these event types are left out (the ones an application token may not see). */
  excludeEventTypes?: string[];
}

export interface OverviewQueries {
  /** Attempts and successes per bucket in `[since, until)`, buckets aligned on `since`. */
  activitySeries(
    appId: string | null,
    since: number,
    until: number,
    bucketMs: number,
  ): Promise<ActivityBucket[]>;
  /** Failing or disabled endpoints, the longest-failing first (at most `limit`). */
  troubledEndpoints(appId: string | null, limit: number): Promise<TroubledEndpoint[]>;
  /** Open deliveries per endpoint, the oldest backlog first (at most `limit` endpoints). */
  undelivered(appId: string | null, limit: number): Promise<UndeliveredEndpoint[]>;
  /** Failed attempts started since `since`, newest first (by id: by start, to the second). */
  recentFailures(
    appId: string | null,
    since: number,
    limit: number,
    excludeEventTypes?: string[],
  ): Promise<FailedAttempt[]>;
  /** Every source (at most `limit`) with its requests since `since`, by outcome. */
  sourceRates(appId: string | null, since: number, limit: number): Promise<SourceRates[]>;
  /** Attempts started at or after `since`, oldest first (by id: by start, to the second; at most `limit`). */
  liveAttempts(f: LiveFilter, since: number, limit: number): Promise<LiveAttempt[]>;
  /** Requests received at or after `since`, oldest first (at most `limit`). */
  liveInbound(f: LiveFilter, since: number, limit: number): Promise<LiveInbound[]>;
}
