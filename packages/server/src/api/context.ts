/**
 * What every route shares: the services a request handler may use, and the typed Fastify
 * instance routes are declared on. A leaf module (types only), so route files, the inbound
 * gateway and the server that wires them all import it without importing each other.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Logger } from 'pino';
import type { HooklineConfig } from '../config.ts';
import type { Clock } from '../core/clock.ts';
import type { IdGenerator } from '../core/ids.ts';
import type { ConcurrencySnapshot } from '../delivery/adaptive.ts';
import type { ExtrasCache } from '../delivery/endpoint-extras.ts';
import type { InboundQueue, IngestQueue } from '../delivery/ingest-queue.ts';
import type { ListenHub } from '../delivery/listen-hub.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';
import type { Tracing } from '../tracing.ts';

export interface ApiContext {
  store: Store;
  clock: Clock;
  ids: IdGenerator;
  config: Readonly<HooklineConfig>;
  ingest: IngestQueue;
  /** Group commit for requests received on `/in/{source}`. */
  inbound: InboundQueue;
  logger: Logger;
  /** SHA-256 of the admin token. */
  adminTokenHash: Buffer;
  version: string;
  /** Served at `/metrics` when given. */
  metrics?: Metrics;
  /** The delivery engine's copy of endpoints' extras: told when the API changes one. */
  extras?: ExtrasCache;
  /** Streams deliveries of `listen` endpoints to `hookline listen` clients, when given. */
  listen?: ListenHub;
  /** What this process's dispatcher knows of an endpoint's concurrency (adaptive limit, pause). */
  concurrency?: (endpointId: string) => EndpointConcurrency;
  /** OpenTelemetry spans for publishing and receiving (`tracing.ts`); none when absent or off. */
  tracing?: Tracing;
}

/** An endpoint's concurrency as this process sees it. */
export interface EndpointConcurrency extends ConcurrencySnapshot {
  /** This process runs a dispatcher (role `all` or `worker`). */
  delivering: boolean;
  inFlight: number;
  waiting: number;
}

/** The Fastify instance routes are declared on, typed by the TypeBox schemas. */
export type Routes = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;
