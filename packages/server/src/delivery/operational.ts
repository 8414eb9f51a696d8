/**
 * Operational webhooks, as Svix has them: Hookline tells the operator's own endpoints about
 * what happens to their users' endpoints and deliveries (`endpoint.created`, `.updated`,
 * `.deleted`, `.disabled`, `.enabled`, `message.attempt.exhausted`, `.failing`, `.recovered`).
 *
 * The operator's endpoints are endpoints of one application Hookline keeps for itself (named
 * by the `operational_webhook_app_id` setting, left out of every list of applications), so each
 * event is an ordinary message of it: stored, signed, retried and logged by the same engine as
 * every webhook, and filtered by each endpoint's event types. The body is Svix's: `{type, data}`.
 * Nothing about that application's own endpoints and deliveries is reported (no loops).
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { IdGenerator } from '../core/ids.ts';
import { endpointMatches } from '../core/routing.ts';
import type { App, Attempt, Endpoint } from '../core/types.ts';
import { OPERATIONAL_APP_SETTING } from '../store/shared/apps.ts';
import type { ClaimedDelivery, DeliveryOutcome, Store } from '../store/store.ts';
import { StoreConflictError } from '../store/store-errors.ts';
import type { IngestQueue } from './ingest-queue.ts';

export const OPERATIONAL_EVENT_TYPES = [
  'endpoint.created',
  'endpoint.updated',
  'endpoint.deleted',
  'endpoint.disabled',
  'endpoint.enabled',
  'message.attempt.exhausted',
  'message.attempt.failing',
  'message.attempt.recovered',
] as const;
export type OperationalEventType = (typeof OPERATIONAL_EVENT_TYPES)[number];

/** `message.attempt.failing` is sent on this failed attempt (Svix: the fourth). */
const FAILING_AT = 4;
/** How long a process trusts the operational application id it read (it never changes once set). */
const APP_ID_RECHECK_MS = 5_000;

export interface OperationalEvents {
  /** The operational application, created on first use. */
  app(): Promise<App>;
  /** The operational application's id, or null when none exists yet (nothing to tell). */
  appId(): Promise<string | null>;
  /** An endpoint of a user's application changed. */
  endpoint(
    type:
      | 'endpoint.created'
      | 'endpoint.updated'
      | 'endpoint.deleted'
      | 'endpoint.enabled'
      | 'endpoint.disabled',
    app: Pick<App, 'id' | 'uid'>,
    endpoint: Pick<Endpoint, 'id' | 'uid' | 'failingSince'>,
    trigger?: 'manual' | 'automatic',
  ): Promise<void>;
  /** The dispatcher disabled an endpoint that kept failing. */
  endpointDisabled(endpointId: string): Promise<void>;
  /** After an attempt: exhausted, failing (fourth failure) or recovered (success after that). */
  attempt(attempt: Attempt, delivery: ClaimedDelivery, next: DeliveryOutcome['next']): Promise<void>;
}

export function createOperationalEvents(deps: {
  store: Store;
  ingest: Pick<IngestQueue, 'add'>;
  ids: IdGenerator;
  clock: Clock;
  logger: Logger;
}): OperationalEvents {
  const { store, ids, clock, logger } = deps;
  let known: string | null = null;
  let checkedAt = Number.NEGATIVE_INFINITY;

  const appId = async (): Promise<string | null> => {
    if (known !== null) return known;
    if (performance.now() - checkedAt < APP_ID_RECHECK_MS) return null;
    checkedAt = performance.now();
    known = await store.getSetting(OPERATIONAL_APP_SETTING);
    return known;
  };

  const iso = (ms: number) => new Date(ms).toISOString();

  /**
   * The event's message id and time, taken when the event happens rather than when it is queued:
   * queueing waits on the store, and an event made later (the recovery after a failing attempt)
   * must not get the earlier id. Message ids increase within a process, so the operational
   * endpoint can order its events by them.
   */
  const stamp = () => ({ id: ids('message'), now: clock.now() });

  async function emit(
    type: OperationalEventType,
    data: Record<string, unknown>,
    { id, now }: { id: string; now: number },
  ): Promise<void> {
    const opsId = await appId();
    if (opsId === null || data.appId === opsId) return;
    const message = {
      id,
      appId: opsId,
      eventId: null,
      eventType: type,
      payload: JSON.stringify({ type, data }),
      channels: null,
      tags: null,
      createdAt: now,
    };
    const result = await deps.ingest.add({
      message,
      dueAt: now,
      route: (endpoints) => endpoints.filter((e) => endpointMatches(e, type, null)).map((e) => e.id),
      newDeliveryId: () => ids('delivery'),
    });
    if (!result.ok) logger.warn({ type, reason: result.reason }, 'operational webhook not queued');
  }

  /** Never fails its caller: an operational event is worth a log line, not a failed request. */
  const safely = (what: string, fn: () => Promise<void>) =>
    fn().catch((err) => logger.warn({ err, what }, 'could not queue an operational webhook'));

  return {
    async app() {
      const existing = await appId();
      if (existing) {
        const app = await store.getApp(existing);
        if (app) return app;
      }
      const now = clock.now();
      const id = await store.setSettingIfAbsent(OPERATIONAL_APP_SETTING, ids('app'));
      known = id;
      const app: App = {
        id,
        uid: null,
        name: 'Hookline operational webhooks',
        throttleRate: null,
        metadata: {},
        createdAt: now,
        updatedAt: now,
      };
      try {
        await store.insertApp(app);
      } catch (err) {
        // Another process created it at the same time.
        if (!(err instanceof StoreConflictError)) throw err;
      }
      return (await store.getApp(id)) ?? app;
    },
    appId,

    endpoint: (type, app, ep, trigger) => {
      const at = stamp();
      return safely(type, () =>
        emit(
          type,
          {
            appId: app.id,
            appUid: app.uid,
            endpointId: ep.id,
            endpointUid: ep.uid,
            ...(type === 'endpoint.disabled'
              ? {
                  trigger: trigger ?? 'manual',
                  failSince: ep.failingSince === null ? null : iso(ep.failingSince),
                }
              : {}),
          },
          at,
        ),
      );
    },

    endpointDisabled: (endpointId) => {
      const at = stamp();
      return safely('endpoint.disabled', async () => {
        const ep = await store.getEndpointById(endpointId);
        if (!ep) return;
        const app = await store.getApp(ep.appId);
        await emit(
          'endpoint.disabled',
          {
            appId: ep.appId,
            appUid: app?.uid ?? null,
            endpointId: ep.id,
            endpointUid: ep.uid,
            trigger: 'automatic',
            failSince: ep.failingSince === null ? null : iso(ep.failingSince),
          },
          at,
        );
      });
    },

    attempt: (attempt, d, next) => {
      const made = d.attempts + 1;
      const type: OperationalEventType | null =
        next.kind === 'fail'
          ? 'message.attempt.exhausted'
          : next.kind === 'retry' && !next.rateLimited && made === FAILING_AT
            ? 'message.attempt.failing'
            : next.kind === 'success' && made > FAILING_AT
              ? 'message.attempt.recovered'
              : null;
      if (type === null) return Promise.resolve();
      const at = stamp();
      return safely(type, async () => {
        if ((await appId()) === null) return;
        const [app, msg] = await Promise.all([store.getApp(d.appId), store.getMessage(d.appId, d.msgId)]);
        await emit(
          type,
          {
            appId: d.appId,
            appUid: app?.uid ?? null,
            msgId: d.msgId,
            msgEventId: msg?.eventId ?? null,
            endpointId: d.endpointId,
            lastAttempt: {
              id: attempt.id,
              responseStatusCode: attempt.responseStatusCode,
              timestamp: iso(attempt.createdAt),
            },
          },
          at,
        );
      });
    },
  };
}
