/**
 * One Hookline process: the store, the API and the dispatcher, wired from a configuration.
 * `hookline serve` calls this; so do the end-to-end tests, with a clock they control.
 */
import type { Server } from 'node:http';
import type { TracerProvider } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import { createAdminTokenHash, resolveAdminToken } from './api/auth.ts';
import { createScrapeAuth, listenOn, serveMetrics } from './api/metrics.ts';
import { buildApi } from './api/server.ts';
import type { HooklineConfig } from './config.ts';
import { productionWarnings, sqlitePath } from './config.ts';
import { type Clock, systemClock } from './core/clock.ts';
import { coerceError } from './core/errors.ts';
import { createIdGenerator } from './core/ids.ts';
import { leaseFor } from './core/lease.ts';
import { createSecretBox, type SecretBox } from './core/secret-box.ts';
import { createAdaptiveConcurrency } from './delivery/adaptive.ts';
import { createAlertEmails } from './delivery/alert-email.ts';
import {
  BACKLOG_NEWS_WAIT_MS,
  createDispatcher,
  type Dispatcher,
  LIVE_RESERVE_SHARE,
} from './delivery/dispatcher.ts';
import { createExtrasCache } from './delivery/endpoint-extras.ts';
import { createInboundQueue, createIngestQueue } from './delivery/ingest-queue.ts';
import { createListenExpiry, type ListenExpiry, listenSeenEvery } from './delivery/listen-expiry.ts';
import { createListenHub } from './delivery/listen-hub.ts';
import { createOperationalEvents } from './delivery/operational.ts';
import { createRetention, type Retention } from './delivery/retention.ts';
import { createRetrySchedules, type RetrySchedules } from './delivery/retry-schedules.ts';
import { createSender } from './delivery/sender.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { checkSecretKey, resolveSecretKey, StartupError } from './secret-key.ts';
import { createPostgresStore } from './store/postgres/postgres-store.ts';
import { createSqliteStore } from './store/sqlite/sqlite-store.ts';
import type { IngestHandoff, Store } from './store/store.ts';
import { createTracing } from './tracing.ts';

export const VERSION = '0.1.0';

export interface Hookline {
  config: Readonly<HooklineConfig>;
  store: Store;
  api: Awaited<ReturnType<typeof buildApi>> | null;
  dispatcher: Dispatcher | null;
  metrics: Metrics;
  /** The URL of the separate metrics listener (`HOOKLINE_METRICS_PORT`), once started. */
  metricsUrl: string | null;
  /** Deletes old payloads and attempt logs (worker role, when HOOKLINE_RETENTION_DAYS is set). */
  retention: Retention | null;
  /** Pauses `listen` endpoints whose client has been gone too long (API role, unless turned off). */
  listenExpiry: ListenExpiry | null;
  /** Each event type's own retry schedule, as the dispatcher and listen hub use it. */
  retrySchedules: RetrySchedules;
  /** Set when this start generated the admin token (first start): print it once. */
  generatedAdminToken: string | null;
  /**
   * Starts listening (API role) and delivering (worker role). Returns the URL. `beforeServing`
   * runs once everything is ready (the API's routes compiled), before the first request or
   * delivery.
   */
  start(options?: { beforeServing?: () => void }): Promise<string | null>;
  /**
   * Graceful stop: no new requests; deliveries in flight get `graceMs` to finish, claimed ones
   * not yet started go back to the queue, and anything still running after that keeps its lease,
   * which expires so another worker sends it (nothing is lost).
   */
  close(graceMs?: number): Promise<void>;
}

export interface HooklineDeps {
  clock?: Clock;
  logger?: Logger;
  /**
   * Where spans go (tests: an in-memory exporter). Without it, the OTEL_* variables decide
   * (`tracing.ts`).
   */
  tracerProvider?: TracerProvider;
}

export { StartupError };

/**
 * Opens the configured database. `secretBox` seals and opens endpoint and source secrets; by
 * default it holds the configured (or generated) key.
 */
export function openStore(
  config: Readonly<HooklineConfig>,
  secretBox: SecretBox = createSecretBox(resolveSecretKey(config).key),
): Store {
  const path = sqlitePath(config.databaseUrl);
  if (path === null) {
    return createPostgresStore({
      url: config.databaseUrl,
      secretBox,
      poolSize: config.database.poolSize,
      connectTimeoutMs: config.database.connectTimeoutMs,
      statementTimeoutMs: config.database.statementTimeoutMs,
    });
  }
  return createSqliteStore({
    path,
    secretBox,
    synchronous: config.sqliteSynchronous,
    cacheMb: config.sqliteCacheMb,
  });
}

/** Why the server cannot listen, in words that name the setting to change (else the error itself). */
function listenError(err: unknown, setting: string, host: string, port: number): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new StartupError(
      `port ${port} is in use on ${host} (another Hookline, or another program): stop it, or set ${setting} to a free port`,
    );
  }
  if (code === 'EACCES') {
    return new StartupError(
      `port ${port} on ${host} needs privileges this process does not have: set ${setting} to a port above 1023`,
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new StartupError(
      `${host} is not an address of this machine: set HOOKLINE_HOST to one of its addresses (127.0.0.1, or 0.0.0.0 for every interface)`,
    );
  }
  return coerceError(err);
}

export async function createHookline(
  config: Readonly<HooklineConfig>,
  deps: HooklineDeps = {},
): Promise<Hookline> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? pino({ level: config.logLevel, base: { service: 'hookline' } });
  const ids = createIdGenerator(() => clock.now());
  for (const warning of productionWarnings(config)) logger.warn(warning);
  const secretKey = resolveSecretKey(config);
  const secretBox = createSecretBox(secretKey.key);
  const store = openStore(config, secretBox);
  try {
    if (config.migrateOnStart) await store.migrate();
    else {
      const behind = await store.pendingMigrations();
      if (behind > 0) {
        throw new StartupError(
          `the database schema is ${behind} migration(s) behind this version of Hookline and HOOKLINE_MIGRATE_ON_START=false: run \`hookline migrate\` first`,
        );
      }
    }
    await checkSecretKey(store, secretBox, secretKey.source);
  } catch (err) {
    await store.close();
    throw err;
  }
  const token = await resolveAdminToken(store, config.adminToken);
  const tracing = await createTracing({ provider: deps.tracerProvider, version: VERSION });

  const runApi = config.role !== 'worker';
  const runWorker = config.role !== 'api';
  // Per-endpoint limits and pauses this process's dispatcher keeps; the API reports them.
  const adaptive = createAdaptiveConcurrency({
    max: config.delivery.perEndpointConcurrency,
    enabled: config.delivery.adaptiveConcurrency,
  });
  const metrics = createMetrics({ store, clock, listenClients: () => listen?.connected ?? 0 });
  // New deliveries go straight to this process's dispatcher when the store allows it (IngestHandoff).
  let handoff: IngestHandoff | null = null;
  const ingestQueue = createIngestQueue(
    store,
    1000,
    () => handoff,
    (items) => metrics.writeBatch('ingest', items),
  );
  // A claimed delivery belongs to its worker for two full request timeouts and then some.
  const leaseMs = leaseFor(config.delivery.timeoutMs);
  const retry = {
    scheduleMs: config.delivery.retryScheduleMs,
    jitter: config.delivery.retryJitter,
    maxRetryAfterMs: 24 * 3_600_000,
  };
  // Event types with their own retry schedule (read every few seconds by every process that delivers).
  const retrySchedules = createRetrySchedules(store, retry, logger);
  const retryFor = retrySchedules.policyFor;
  // The API process holds `hookline listen` connections, so it delivers to listen endpoints.
  const listen = runApi
    ? createListenHub({
        store,
        clock,
        ids,
        logger,
        options: {
          forwardTimeoutMs: config.delivery.timeoutMs,
          resultTimeoutMs: config.delivery.timeoutMs + 5_000,
          leaseMs,
          retry,
          retryFor,
          disableAfterMs: config.delivery.disableAfterMs,
          pollMs: 1_000,
          batch: 32,
          maxResponseBytes: config.delivery.maxResponseBytes,
          seenEveryMs:
            config.listenEndpointTtlMs === null ? null : listenSeenEvery(config.listenEndpointTtlMs),
        },
        onAttempt: (attempt, _delivery, next) => metrics.attempt(attempt, next),
        onClaim: (result) => metrics.claim('listen', result),
        onDisabledCanceled: () => metrics.deliveriesCanceled('endpoint_disabled', 1),
        onOutcomesRecorded: (count) => metrics.writeBatch('outcomes', count),
        tracing,
      })
    : null;
  // Endpoints' OAuth, mTLS, CA and transformations: changes made through another process show
  // within this many ms; changes made through this one at once.
  const extras = createExtrasCache(store, { maxAgeMs: 5_000 });
  const api = runApi
    ? await buildApi({
        store,
        extras,
        clock,
        ids,
        config,
        inbound: createInboundQueue(store, 500, (items) => metrics.writeBatch('inbound', items)),
        ingest: {
          async add(item) {
            const result = await ingestQueue.add(item);
            if (result.ok) metrics.messageAccepted(result.deliveries);
            return result;
          },
        },
        metrics,
        ...(listen ? { listen } : {}),
        concurrency: (endpointId) => ({
          ...adaptive.snapshot(endpointId, clock.now()),
          delivering: dispatcher !== null,
          ...(dispatcher ? dispatcher.endpointLoad(endpointId) : { inFlight: 0, waiting: 0 }),
        }),
        logger,
        adminTokenHash: token.hash,
        version: VERSION,
        tracing,
      })
    : null;
  const sender = createSender({
    allowPrivateNetworks: config.allowPrivateNetworks,
    connectTimeoutMs: config.delivery.connectTimeoutMs,
    timeoutMs: config.delivery.timeoutMs,
    maxResponseBytes: config.delivery.maxResponseBytes,
    userAgent: `Hookline/${VERSION}`,
  });
  const operational = createOperationalEvents({ store, ingest: ingestQueue, ids, clock, logger });
  // Emails to applications' alert email addresses (the delivering process sends them).
  const alertEmails = runWorker
    ? createAlertEmails({ store, clock, logger, config: config.alertEmail, publicUrl: config.publicUrl })
    : null;
  const dispatcher = runWorker
    ? createDispatcher({
        store,
        sender,
        clock,
        ids,
        logger,
        options: {
          concurrency: config.delivery.concurrency,
          perEndpointConcurrency: config.delivery.perEndpointConcurrency,
          leaseMs,
          claimBatch: 100,
          idlePollMs: 5_000,
          // On SQLite a claim is a call in this process, and new deliveries are handed off.
          newsWaitMs: sqlitePath(config.databaseUrl) === null ? BACKLOG_NEWS_WAIT_MS : 0,
          // Where this process writes new messages too, an eighth of its slots stay for them.
          liveReserve: runApi ? Math.floor(config.delivery.concurrency / LIVE_RESERVE_SHARE) : 0,
          retry,
          retryFor,
          disableAfterMs: config.delivery.disableAfterMs,
          // Deliveries to `listen` endpoints go to the `hookline listen` client connected to the API.
          scope: { excludeKinds: ['listen'] },
          publicUrl: config.publicUrl,
          extras,
        },
        events: {
          onAttempt: (attempt, delivery, next) => {
            metrics.attempt(attempt, next);
            // Exhausted, failing and recovered deliveries are told to the operational webhooks.
            void operational.attempt(attempt, delivery, next);
            alertEmails?.attempt(attempt, delivery, next);
          },
          onClaim: (result) => metrics.claim('dispatcher', result),
          onOutcomesRecorded: (count) => metrics.writeBatch('outcomes', count),
          onDisabledCanceled: () => metrics.deliveriesCanceled('endpoint_disabled', 1),
          onEndpointDisabled: (endpointId) => {
            metrics.endpointDisabled();
            void operational.endpointDisabled(endpointId);
            alertEmails?.endpointDisabled(endpointId);
          },
        },
        adaptive,
        tracing,
      })
    : null;

  // New deliveries go straight to this process's dispatcher when it runs one (see IngestHandoff).
  handoff = dispatcher ? dispatcher.handoff : null;

  const retention =
    runWorker && config.retentionMs !== null
      ? createRetention({ store, clock, logger, retentionMs: config.retentionMs })
      : null;

  const listenExpiry =
    listen && config.listenEndpointTtlMs !== null
      ? createListenExpiry({
          store,
          clock,
          logger,
          ttlMs: config.listenEndpointTtlMs,
          isConnected: (id) => listen.isConnected(id),
          onPaused: () => metrics.listenEndpointPaused(),
          onCanceled: (count) => metrics.deliveriesCanceled('listen_expired', count),
        })
      : null;

  let closed = false;
  let metricsServer: Server | null = null;
  const hookline: Hookline = {
    config,
    store,
    api,
    dispatcher,
    metrics,
    retention,
    listenExpiry,
    retrySchedules,
    generatedAdminToken: token.generated,
    metricsUrl: null,
    async start(options = {}) {
      await api?.ready();
      options.beforeServing?.();
      dispatcher?.start();
      if (config.metricsPort !== null) {
        metricsServer = serveMetrics(
          metrics,
          createScrapeAuth(config.metricsToken, createAdminTokenHash(store, config.adminToken, token.hash)),
          logger,
        );
        hookline.metricsUrl = await listenOn(metricsServer, config.host, config.metricsPort).catch((err) => {
          throw listenError(err, 'HOOKLINE_METRICS_PORT', config.host, config.metricsPort!);
        });
      }
      retention?.start();
      listenExpiry?.start();
      if (!api) return null;
      return api.listen({ host: config.host, port: config.port }).catch((err) => {
        throw listenError(err, 'HOOKLINE_PORT', config.host, config.port);
      });
    },
    async close(graceMs?: number) {
      if (closed) return;
      closed = true;
      await listenExpiry?.stop();
      await listen?.close();
      await api?.close();
      await dispatcher?.stop(graceMs);
      await retention?.stop();
      await alertEmails?.close();
      retrySchedules.stop();
      await sender.close();
      if (metricsServer) {
        metricsServer.closeAllConnections();
        await new Promise((r) => metricsServer!.close(r));
      }
      await store.close();
      // Spans still waiting for the exporter are sent now.
      await tracing.shutdown();
    },
  };
  return hookline;
}
