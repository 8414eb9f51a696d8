/**
 * Prometheus metrics of one Hookline process (`GET /metrics`, text format 0.0.4).
 *
 * Counters count what THIS process did (messages it accepted, attempts it made); sum them
 * across processes. Gauges about the queue and endpoints are read from the database at scrape
 * time, so every process reports the same values; aggregate them with `max`.
 *
 * Labels never carry application, endpoint or message ids: their number is bounded by the code,
 * not by the data. Failing endpoints are counted per duration bucket instead.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from './core/clock.ts';
import type { Attempt, InboundStatus } from './core/types.ts';
import type { DeliveryOutcome, Store } from './store/store.ts';

/** How long an endpoint has been failing, as the `longer_than` label of `hookline_endpoints_failing`. */
export const FAILING_THRESHOLDS: readonly { label: string; ms: number }[] = [
  { label: '1m', ms: 60_000 },
  { label: '1h', ms: 3_600_000 },
  { label: '1d', ms: 86_400_000 },
];

/** Who claimed: the dispatcher, or a `hookline listen` stream (for its own endpoint). */
export type Claimer = 'dispatcher' | 'listen';

/** What a group commit writes (`hookline_write_batch_size{kind}`). */
export type WriteBatchKind = 'ingest' | 'inbound' | 'outcomes';

/**
 * Why deliveries were canceled (`hookline_deliveries_canceled_total{reason}`): the endpoint's
 * transformation canceled it, its endpoint was disabled when it came up, its `listen` endpoint
 * was paused for having no client too long, or the API's cancel-msgs.
 */
export type CancelReason = 'transformation' | 'endpoint_disabled' | 'listen_expired' | 'api';

export interface Metrics {
  readonly registry: Registry;
  /** A message was committed (its deliveries queued). */
  messageAccepted(deliveries: number): void;
  /** An attempt finished, with what follows it. */
  attempt(attempt: Attempt, next: DeliveryOutcome['next']): void;
  /** This process canceled `count` deliveries (see `CancelReason`). */
  deliveriesCanceled(reason: CancelReason, count: number): void;
  /** A `listen` endpoint whose client was gone too long was paused. */
  listenEndpointPaused(): void;
  endpointDisabled(): void;
  /**
   * A claim of due work: the dispatcher's, or a `hookline listen` stream's for its endpoint.
   * What it leased (0: the claim came back empty), how long it took, or that it failed.
   */
  claim(claimer: Claimer, result: { deliveries: number; ms: number } | 'failed'): void;
  /**
   * One store transaction of a group commit succeeded with `items` in it: new messages
   * (`ingest`), received inbound requests (`inbound`) or the dispatcher's attempt outcomes
   * (`outcomes`).
   */
  writeBatch(kind: WriteBatchKind, items: number): void;
  /** A request to `/in/{source}` was answered: stored with this status, or refused by the source's allowlist. */
  inboundRequest(status: InboundStatus | 'ip_not_allowed'): void;
  /** The text Prometheus scrapes. */
  render(): Promise<string>;
}

function statusClass(code: number): string {
  return code === 0 ? 'none' : `${Math.floor(code / 100)}xx`;
}

export function createMetrics(deps: {
  store: Store;
  clock: Clock;
  /** `hookline listen` clients connected to this process. */
  listenClients?: () => number;
}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hookline_' });

  const accepted = new Counter({
    name: 'hookline_messages_accepted_total',
    help: 'Messages accepted by the API of this process (committed, deliveries queued).',
    registers: [registry],
  });
  const queued = new Counter({
    name: 'hookline_deliveries_queued_total',
    help: 'Deliveries queued by messages accepted in this process (one per matching endpoint).',
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'hookline_delivery_attempts_total',
    help: "Delivery attempts made by this process, by what followed: success, retry (scheduled again), fail (gave up) or canceled (the endpoint's transformation canceled the delivery).",
    labelNames: ['outcome', 'status_class'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'hookline_attempt_duration_seconds',
    help: 'Duration of delivery attempts, from sending the request to reading the response.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
    registers: [registry],
  });
  const claims = new Counter({
    name: 'hookline_claims_total',
    help: 'Claims of due deliveries made by this process, by claimer (dispatcher, or listen: a hookline listen stream) and result: leased (it took some), empty (nothing it could take) or failed.',
    labelNames: ['claimer', 'result'] as const,
    registers: [registry],
  });
  const claimed = new Counter({
    name: 'hookline_claimed_deliveries_total',
    help: 'Deliveries leased by the claims of this process, by claimer.',
    labelNames: ['claimer'] as const,
    registers: [registry],
  });
  const claimTime = new Histogram({
    name: 'hookline_claim_duration_seconds',
    help: 'Duration of the claims of this process that came back (leased or empty), database round trip included, by claimer.',
    labelNames: ['claimer'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const writeBatches = new Histogram({
    name: 'hookline_write_batch_size',
    help: 'Items per store transaction of the group commits, by kind: ingest (new messages), inbound (received requests), outcomes (attempt outcomes, of the dispatcher and of `hookline listen` streams). Each commit has a cost of its own (on SQLite, a page of every table and index it touches), so larger batches cost less per item.',
    labelNames: ['kind'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000],
    registers: [registry],
  });
  const canceled = new Counter({
    name: 'hookline_deliveries_canceled_total',
    help: "Deliveries this process canceled, by reason: transformation (the endpoint's transformation canceled it), endpoint_disabled (its endpoint was disabled when it came up), listen_expired (its listen endpoint was paused, no client for too long), api (cancel-msgs).",
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const listenPaused = new Counter({
    name: 'hookline_listen_endpoints_paused_total',
    help: 'listen endpoints this process paused because no hookline listen client was connected for HOOKLINE_LISTEN_ENDPOINT_TTL.',
    registers: [registry],
  });
  const disabled = new Counter({
    name: 'hookline_endpoints_disabled_total',
    help: 'Endpoints this process disabled: failing for too long, or a REST Hook target answered 410 Gone.',
    registers: [registry],
  });

  const inbound = new Counter({
    name: 'hookline_inbound_requests_total',
    help: 'Requests to /in/{source} answered by this process, by outcome: accepted, duplicate, rejected (failed verification), handshake, ip_not_allowed (refused before reading the body).',
    labelNames: ['status'] as const,
    registers: [registry],
  });

  // Gauges read from the database; one query per scrape feeds all of them.
  let statsAt = -1;
  let stats: Promise<Awaited<ReturnType<Store['queueStats']>>> | null = null;
  const readStats = () => {
    const now = deps.clock.now();
    if (!stats || now !== statsAt) {
      statsAt = now;
      stats = deps.store.queueStats(
        now,
        FAILING_THRESHOLDS.map((t) => t.ms),
      );
    }
    return stats;
  };
  new Gauge({
    name: 'hookline_queue_depth',
    help: 'Deliveries in the queue: pending (waiting, due now or later), due (pending and due now), sending (leased by a worker).',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const s = await readStats();
      this.set({ state: 'pending' }, s.pending);
      this.set({ state: 'due' }, s.due);
      this.set({ state: 'sending' }, s.sending);
    },
  });
  new Gauge({
    name: 'hookline_queue_oldest_due_age_seconds',
    help: 'How long the oldest due delivery has been waiting for a worker (0 when nothing is due).',
    registers: [registry],
    async collect() {
      const s = await readStats();
      this.set(s.oldestDueAt === null ? 0 : Math.max(0, (deps.clock.now() - s.oldestDueAt) / 1000));
    },
  });
  new Gauge({
    name: 'hookline_endpoints_failing',
    help: 'Enabled endpoints whose attempts have failed without a success for longer than `longer_than`.',
    labelNames: ['longer_than'] as const,
    registers: [registry],
    async collect() {
      const s = await readStats();
      FAILING_THRESHOLDS.forEach((t, i) => {
        this.set({ longer_than: t.label }, s.failingEndpoints[i]?.count ?? 0);
      });
    },
  });

  new Gauge({
    name: 'hookline_listen_clients',
    help: '`hookline listen` clients connected to this process.',
    registers: [registry],
    collect() {
      this.set(deps.listenClients?.() ?? 0);
    },
  });

  return {
    registry,
    messageAccepted(deliveries) {
      accepted.inc();
      if (deliveries > 0) queued.inc(deliveries);
    },
    attempt(a, next) {
      // A transformation's cancel is neither a failure nor a success of the endpoint.
      const outcome = next.kind === 'cancel' ? 'canceled' : next.kind;
      attempts.inc({ outcome, status_class: statusClass(a.responseStatusCode) });
      latency.observe(a.durationMs / 1000);
      if (next.kind === 'cancel') canceled.inc({ reason: 'transformation' });
    },
    deliveriesCanceled(reason, count) {
      if (count > 0) canceled.inc({ reason }, count);
    },
    listenEndpointPaused() {
      listenPaused.inc();
    },
    endpointDisabled() {
      disabled.inc();
    },
    claim(claimer, result) {
      if (result === 'failed') {
        claims.inc({ claimer, result: 'failed' });
        return;
      }
      claims.inc({ claimer, result: result.deliveries > 0 ? 'leased' : 'empty' });
      if (result.deliveries > 0) claimed.inc({ claimer }, result.deliveries);
      claimTime.observe({ claimer }, result.ms / 1000);
    },
    writeBatch(kind, items) {
      writeBatches.observe({ kind }, items);
    },
    inboundRequest(status) {
      inbound.inc({ status });
    },
    async render() {
      stats = null;
      return registry.metrics();
    },
  };
}
