/**
 * The dispatcher: the life of a delivery after the API committed it.
 *
 *   claim (lease a batch of due deliveries)
 *     -> prepareAttempt (sign with every active secret, add headers; or render a chat message)
 *     -> sender.send (one HTTP attempt)
 *     -> decideOutcome (success | retry at T | fail)
 *     -> completeDeliveries (attempts and state changes of many deliveries, one transaction)
 *
 * It wakes when the store reports new deliveries and when the earliest scheduled retry comes
 * due; it never polls per delivery. A global concurrency limit bounds the work in flight and a
 * per-endpoint limit keeps one slow or dead endpoint from taking every slot. The per-endpoint
 * limit adapts to what the endpoint answers, and an endpoint can ask for a pause (`adaptive.ts`).
 */
import { type Span, SpanStatusCode } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { disableThreshold } from '../core/endpoint-health.ts';
import { coerceError } from '../core/errors.ts';
import type { IdGenerator } from '../core/ids.ts';
import { isRestHook } from '../core/rest-hook.ts';
import { nextRetryDelay, type RetryPolicy, rateLimitDelay, retryAfterDelay } from '../core/retry.ts';
import { signatureHeader } from '../core/signing.ts';
import { storableText } from '../core/text.ts';
import { type Attempt, DeliveryStatus, isChatKind } from '../core/types.ts';
import type {
  ClaimedDelivery,
  DeliveryOutcome,
  DeliveryScope,
  IngestHandoff,
  Store,
} from '../store/store.ts';
import { StoreUnavailableError } from '../store/store-errors.ts';
import { parentContext, redactedUrl, SpanKind, type Tracing, traceparentOf } from '../tracing.ts';
import { type AdaptiveConcurrency, createAdaptiveConcurrency } from './adaptive.ts';
import { type ChatOptions, prepareChatRequest } from './chat.ts';
import { authOptions, type ExtrasCache } from './endpoint-extras.ts';
import { customHeaders, forwardedHeaders, loggedRequestHeaders } from './headers.ts';
import type { Sender, SendRequest, SendResult } from './sender.ts';
import { transform, type Webhook } from './transformation.ts';

export interface DispatcherOptions {
  /** Deliveries in flight at once in this process. */
  concurrency: number;
  /** Deliveries in flight at once to one endpoint: the most the adaptive limit may reach. */
  perEndpointConcurrency: number;
  /** How long a claimed delivery belongs to this worker before another may take it. */
  leaseMs: number;
  /** Most deliveries claimed by one query. */
  claimBatch: number;
  /** Longest sleep when nothing is due (a safety net; new work wakes the dispatcher at once). */
  idlePollMs: number;
  retry: RetryPolicy;
  /** The policy for messages of an event type with its own retry schedule (else `retry`). */
  retryFor?: (eventType: string) => RetryPolicy;
  /** An endpoint failing without a single success for this long is disabled. */
  disableAfterMs: number;
  /**
   * The part of the queue this dispatcher serves. `listen` endpoints are left to the server
   * process that holds their `hookline listen` connection.
   */
  scope?: DeliveryScope;
  /**
   * While this dispatcher drains a backlog (its claims come back with all an endpoint may hold,
   * and deliveries of it are in flight), news of another endpoint's new work waits up to this
   * long for the claim the backlog brings within milliseconds anyway (as its slots free up),
   * which takes that work too; 0 (the default) claims at once. Where a claim is a database
   * transaction and a round trip (PostgreSQL), a claim per message published elsewhere was more
   * than half of a drain's claims (docs/benchmarks.md); BACKLOG_NEWS_WAIT_MS is the value
   * measured there.
   */
  newsWaitMs?: number;
  /**
   * Slots of `concurrency` that claims leave free for deliveries handed off as the API writes
   * them (`handoff`), in a process that serves the API too; 0 (the default) in one that does not.
   * A backlog draining over many endpoints holds every slot the process has, and a new message
   * to another endpoint then waited in the queue for a claim, behind the backlog's turns. With a
   * reserve it is sent as soon as its commit is done (docs/benchmarks.md).
   */
  liveReserve?: number;
  /** `HOOKLINE_PUBLIC_URL`: chat messages link to the message in the dashboard there. */
  publicUrl?: string | null;
  /** Endpoints' OAuth, mTLS, CA and transformations; without it, no endpoint has any. */
  extras?: ExtrasCache;
}

export interface DispatcherEvents {
  /** An endpoint was disabled after failing for too long (`endpoint.disabled`). */
  onEndpointDisabled?(endpointId: string): void;
  /** After each attempt, for metrics: what was sent, to which delivery, and what follows. */
  onAttempt?(attempt: Attempt, delivery: ClaimedDelivery, next: DeliveryOutcome['next']): void;
  /** A claim came back with `deliveries` leased (0: empty) after `ms`, or failed. */
  onClaim?(result: { deliveries: number; ms: number } | 'failed'): void;
  /** A batch of `count` attempt outcomes was recorded in one store call. */
  onOutcomesRecorded?(count: number): void;
  /** A claimed delivery of an endpoint disabled since it was queued was canceled, not sent. */
  onDisabledCanceled?(): void;
}

export interface Dispatcher {
  start(): void;
  /** Stops claiming, waits for requests in flight up to `graceMs`, gives back the rest. */
  stop(graceMs?: number): Promise<void>;
  /** Looks for due work now (new messages, a moved clock in tests). */
  wake(): void;
  /** Resolves once nothing is due, nothing is in flight and every outcome is recorded. */
  drain(): Promise<void>;
  readonly inFlight: number;
  /** Deliveries of one endpoint this process is sending, and holding in hand. */
  endpointLoad(endpointId: string): { inFlight: number; waiting: number };
  /** Takes new deliveries as the API writes them, when the store is this process's alone. */
  readonly handoff: IngestHandoff;
}

/** How soon to look again when work is due but none of it could be claimed. */
const BLOCKED_POLL_MS = 50;
/**
 * The same, when that work is of endpoints another process's dispatcher is first in line for
 * (`Store.leadsEndpoint`): that one comes back for it every BLOCKED_POLL_MS, and this one takes
 * it only if that one is gone or behind, as its news reaches this one (`notify.ts`).
 */
const SHARED_POLL_MS = 250;
/**
 * A busy endpoint another process's dispatcher is first in line for (`Store.leadsEndpoint`; at
 * least half its `perEndpointConcurrency` in flight) is left to that one until its due work has
 * waited this long (`ClaimOptions.deferEndpoints`): that one is serving it, and behind only past
 * this. Without it, every dispatcher took a share of every busy endpoint's leases: more claims
 * bringing fewer deliveries each, and smaller completions (docs/benchmarks.md). One worker keeps
 * an endpoint's in-flight limit busy at thousands of deliveries a second. A quieter endpoint's
 * work goes with any dispatcher's next claim, as before.
 */
const OTHERS_WAIT_MS = 10_000;
/** How many endpoints a dispatcher remembers having claimed for or heard of (see `heardOf`). */
const KNOWN_ENDPOINTS = 256;

/**
 * `DispatcherOptions.newsWaitMs` where claims are round trips: about the time between two claims
 * of one endpoint's backlog (one per half its limit or more in deliveries: every 10-20 ms at
 * 2,000/s), so most news goes with the next one and the rest waits no longer than this. (40 ms
 * cost a drain over 100 endpoints: docs/benchmarks.md.)
 */
export const BACKLOG_NEWS_WAIT_MS = 20;

/**
 * `DispatcherOptions.liveReserve` of a process serving the API: one slot in this many. (An
 * eighth, 32 of the default 256: a SQLite drain over 100 endpoints lost 2 % of its rate, and a
 * new message to another endpoint meanwhile waited a third less: docs/benchmarks.md.)
 */
export const LIVE_RESERVE_SHARE = 8;

/**
 * The wait before recording an outcome of an endpoint whose limit came down (adaptive.ts),
 * whatever the store's `outcomeBatchWaitMs` (SQLite with NORMAL: none): a delivery holds its
 * endpoint's slot until its outcome is recorded, and a slot given back sooner lets the limit
 * climb back sooner into a receiver that was overloaded (back-pressure.test.ts's slow receiver,
 * on SQLite with FULL: 78 of 240 requests overloaded it in 6 of 6 runs with a 2 ms wait, 73-84 in
 * 14 runs with 1 ms, twice past its bound).
 */
const EASED_OUTCOME_WAIT_MS = 2;

/**
 * The request for one attempt, whatever the endpoint's kind: signed (`prepareRequest`), or for a
 * chat destination the message rendered for its platform (`chat.ts`; a template renders in a
 * worker thread, hence the promise).
 */
export async function prepareAttempt(
  d: ClaimedDelivery,
  nowMs: number,
  chat: ChatOptions & { extras?: ExtrasCache } = {},
): Promise<SendRequest> {
  // A map lookup for endpoints without extras; see endpoint-extras.ts.
  const extras = chat.extras ? await chat.extras.get(d.endpointId) : undefined;
  const code = extras?.transformation?.enabled ? extras.transformation.code : '';
  let req = isChatKind(d.endpoint.kind)
    ? await prepareChatRequest(d, d.endpoint.kind, customHeaders(d.endpoint.headers), chat)
    : code && !d.inbound
      ? await prepareTransformedRequest(d, nowMs, code)
      : prepareRequest(d, nowMs);
  req.endpointId = d.endpointId;
  if (extras) req = { ...req, ...authOptions(extras) };
  return d.endpoint.timeoutMs === null ? req : { ...req, timeoutMs: d.endpoint.timeoutMs };
}

/**
 * The signed request for one attempt to an `http` or `listen` endpoint: the payload, signed with
 * every secret that is still active. An inbound event goes out as it came in (same bytes, content
 * type and provider headers), with Hookline's own signature, so the application verifies one
 * scheme whatever the provider. Chat destinations go through `prepareAttempt`.
 */
export function prepareRequest(d: ClaimedDelivery, nowMs: number): SendRequest {
  if (isChatKind(d.endpoint.kind)) throw new Error('chat destinations are prepared by prepareAttempt');
  const timestamp = Math.floor(nowMs / 1000);
  const secrets = d.endpoint.secrets
    .filter((s) => s.expiresAt === null || s.expiresAt > nowMs)
    .map((s) => s.key);
  const body = d.inbound ? d.inbound.body : d.payload;
  const signature = signatureHeader(secrets, d.msgId, timestamp, body);
  const headers: Record<string, string> = {
    ...(d.inbound ? forwardedHeaders(d.inbound.headers) : {}),
    ...customHeaders(d.endpoint.headers),
  };
  if (d.inbound) {
    if (d.inbound.contentType) headers['content-type'] = d.inbound.contentType;
    else delete headers['content-type'];
  } else headers['content-type'] = 'application/json';
  headers['webhook-id'] = d.msgId;
  headers['webhook-timestamp'] = String(timestamp);
  headers['webhook-signature'] = signature;
  if (d.endpoint.svixHeaders) {
    headers['svix-id'] = d.msgId;
    headers['svix-timestamp'] = String(timestamp);
    headers['svix-signature'] = signature;
  }
  // A keyed message: its number in the (endpoint, key) line, so the receiver can spot gaps and
  // put deliveries back in order. Not signed (the signature covers id, timestamp and body).
  if (d.orderingKey !== undefined && d.sequence !== undefined) {
    headers['webhook-ordering-key'] = d.orderingKey;
    headers['webhook-sequence'] = String(d.sequence);
    if (d.endpoint.svixHeaders) headers['svix-sequence'] = String(d.sequence);
  }
  return { url: d.endpoint.url, headers, body };
}

/**
 * The request for an endpoint with a transformation: the handler runs in a sandbox worker on the
 * message, and the request it describes is signed over the body it chose. A handler that fails or
 * returns something unusable fails the attempt (`failure`); one that cancels cancels the delivery.
 */
async function prepareTransformedRequest(
  d: ClaimedDelivery,
  nowMs: number,
  code: string,
): Promise<SendRequest> {
  const input: Webhook = {
    method: 'POST',
    url: d.endpoint.url,
    eventType: d.eventType,
    payload: JSON.parse(d.payload) as unknown,
    headers: {},
    cancel: false,
  };
  const out = await transform(code, input, d.endpoint.url);
  if (!out.ok) return { url: d.endpoint.url, headers: {}, body: '', failure: out.message };
  if (out.cancel)
    return {
      url: out.url,
      headers: {},
      body: '',
      failure: "canceled by the endpoint's transformation",
      canceled: true,
    };
  const req = prepareRequest(
    { ...d, payload: out.payload, endpoint: { ...d.endpoint, url: out.url } },
    nowMs,
  );
  // The handler's headers come after the custom ones and before Hookline's own (which it cannot set).
  const { 'content-type': contentType, ...own } = req.headers;
  return {
    ...req,
    headers: { ...own, ...out.headers, 'content-type': contentType ?? 'application/json' },
    method: out.method,
    // The body was built for this attempt: the log keeps it.
    logBody: true,
  };
}

/** What follows an attempt: done, another try at a time, or give up. Pure. */
export function decideOutcome(
  d: ClaimedDelivery,
  result: SendResult,
  nowMs: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): DeliveryOutcome['next'] {
  if (result.ok && result.statusCode >= 200 && result.statusCode < 300) return { kind: 'success' };
  // A chat platform's 429 says when to come back: go back then, without using up the schedule
  // (while the message is younger than the whole schedule, so a 429 forever still ends).
  const rateLimit = isChatKind(d.endpoint.kind) ? rateLimitDelay(result, nowMs) : null;
  if (rateLimit !== null && nowMs - d.msgCreatedAt < policy.scheduleMs.reduce((a, b) => a + b, 0)) {
    return { kind: 'retry', at: nowMs + Math.min(rateLimit, policy.maxRetryAfterMs), rateLimited: true };
  }
  const retryAfter = retryAfterDelay(result, nowMs);
  const delay = nextRetryDelay(policy, d.attempts + 1, retryAfter, random);
  return delay === null ? { kind: 'fail' } : { kind: 'retry', at: nowMs + delay };
}

/**
 * The record of one attempt and what follows it, as the store takes them: shared by the
 * dispatcher (HTTP) and the listen hub (`hookline listen`), which only differ in how the
 * request travels.
 */
export function settleAttempt(
  d: ClaimedDelivery,
  req: SendRequest,
  result: SendResult,
  times: { startedAt: number; now: number },
  options: { retry: RetryPolicy; retryFor?: (eventType: string) => RetryPolicy; disableAfterMs: number },
  attemptId: string,
): { attempt: Attempt; outcome: DeliveryOutcome } {
  // REST Hooks: a subscription's target answering 410 Gone asks to be unsubscribed. The delivery
  // fails without retry and the endpoint is disabled at once (see core/rest-hook.ts).
  const gone = result.ok && result.statusCode === 410 && isRestHook(d.endpoint.metadata);
  // A transformation that cancels the delivery: logged, not retried, not counted as a failure.
  const next: DeliveryOutcome['next'] = req.canceled
    ? { kind: 'cancel' }
    : gone
      ? { kind: 'fail' }
      : decideOutcome(d, result, times.now, options.retryFor?.(d.eventType) ?? options.retry);
  const attempt: Attempt = {
    id: attemptId,
    deliveryId: d.id,
    msgId: d.msgId,
    endpointId: d.endpointId,
    appId: d.appId,
    url: req.url,
    status: next.kind === 'success' ? DeliveryStatus.success : DeliveryStatus.fail,
    responseStatusCode: result.ok ? result.statusCode : 0,
    // A receiver may answer anything, NUL included: the log keeps what a text column can hold.
    response: storableText(result.ok ? result.body : result.message),
    responseHeaders: result.ok ? result.headers : {},
    // Custom header values are often credentials: the log keeps their names only.
    requestHeaders: loggedRequestHeaders(req.headers, d.endpoint.headers),
    requestBody: req.logBody ? String(req.body) : null,
    durationMs: result.durationMs,
    triggerType: d.triggerType,
    createdAt: times.startedAt,
  };
  const outcome: DeliveryOutcome = {
    deliveryId: d.id,
    leaseUntil: d.leaseUntil,
    attempt,
    next,
    ...(next.kind === 'success' || next.kind === 'cancel'
      ? {}
      : { disableIfFailingSince: disableThreshold(times.now, options.disableAfterMs, gone) }),
  };
  return { attempt, outcome };
}

/** Ends an attempt's span with what became of it (nothing is built for a span not recorded). */
export function endAttemptSpan(
  span: Span,
  d: ClaimedDelivery,
  req: SendRequest,
  result: SendResult,
  next: DeliveryOutcome['next'],
): void {
  if (span.isRecording()) {
    span.setAttributes({
      'hookline.app_id': d.appId,
      'hookline.endpoint_id': d.endpointId,
      'hookline.msg_id': d.msgId,
      'hookline.delivery_id': d.id,
      'hookline.attempt': d.attempts + 1,
      'hookline.attempt.next': next.kind,
      'hookline.attempt.duration_ms': result.durationMs,
      'http.request.method': req.method ?? 'POST',
      'url.full': redactedUrl(req.url),
    });
    if (result.ok) {
      span.setAttribute('http.response.status_code', result.statusCode);
      if (result.statusCode >= 400) {
        span.setAttribute('error.type', String(result.statusCode));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    } else {
      span.setAttribute('error.type', result.error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: result.message });
    }
  }
  span.end();
}

export function createDispatcher(deps: {
  store: Store;
  sender: Sender;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  options: DispatcherOptions;
  events?: DispatcherEvents;
  /** Per-endpoint limits and pauses; by default adaptive, up to `perEndpointConcurrency`. */
  adaptive?: AdaptiveConcurrency;
  /** A span per attempt (`tracing.ts`), when on. */
  tracing?: Tracing;
}): Dispatcher {
  const { store, sender, clock, ids, logger, options } = deps;
  const tracer = deps.tracing?.enabled ? deps.tracing.tracer : null;
  const adaptive = deps.adaptive ?? createAdaptiveConcurrency({ max: options.perEndpointConcurrency });
  const events = deps.events ?? {};
  const scope = options.scope ?? {};
  // Checked once: building the log line for every attempt costs on the hot path.
  const debug = logger.isLevelEnabled('debug');
  const perEndpoint = new Map<string, number>();
  const waiting = new Map<string, ClaimedDelivery[]>();
  // Deliveries being attempted, as a count. (A Set of them, which grows and shrinks with every
  // delivery, replaced its hash table again and again; V8 keeps a replaced table's entries and a
  // link to the next table, so once one table had reached the old generation the chain kept every
  // later table, and the finished deliveries in it, alive for the young-generation collector until
  // the next full collection: 350-600 bytes promoted per delivery draining a backlog. The test:
  // delivery-memory.test.ts.)
  let inFlight = 0;
  let outcomes: { outcome: DeliveryOutcome; done: () => void; freesLine: boolean; endpointId: string }[] = [];
  let flushing: Promise<void> | null = null;
  let running = false;
  let pumping = false;
  let pumpAgain = false;
  let pumpScheduled = false;
  /** The database may hold due deliveries this worker has not claimed. */
  let mayHaveDue = true;
  /** Endpoints whose last claim hit the per-endpoint cap: more of their work is probably due. */
  const moreDue = new Set<string>();
  /**
   * Endpoints whose last claim got all the room the store would give them: a backlog of theirs is
   * probably due, and their new deliveries join it instead of being handed off (IngestHandoff).
   */
  const backlogged = new Set<string>();
  /** Endpoints put on `moreDue` by news that came while a claim ran (it may not have seen it). */
  const notedWhileClaiming = new Set<string>();
  /**
   * What the last claim said of the due work it left (`Claim.blockedUntil`), with the time it
   * claimed at: until the next claim, the dispatcher looks at the database again then, or when
   * something falls due after that time, instead of every BLOCKED_POLL_MS. Null: not known.
   */
  let left: { at: number; until: number | null } | null = null;
  /** How soon to look again when due work could not be claimed (see armTimer). */
  let blockedPollMs = BLOCKED_POLL_MS;
  /**
   * Endpoints this dispatcher claimed for or heard of lately, the latest last (at most
   * KNOWN_ENDPOINTS): those another dispatcher is first in line for are left to it while busy,
   * for up to OTHERS_WAIT_MS. (One it has not heard of is claimed for as before.) Only kept when
   * the store is shared (`Store.leadsEndpoint`).
   */
  const heardOf = new Set<string>();
  const noteKnown = (endpointId: string) => {
    if (!store.leadsEndpoint) return;
    heardOf.delete(endpointId);
    heardOf.add(endpointId);
    if (heardOf.size > KNOWN_ENDPOINTS) heardOf.delete(heardOf.values().next().value as string);
  };
  /** The last claim may have left endpoints to the dispatchers first in line for them. */
  let deferred = false;
  let timer: NodeJS.Timeout | null = null;
  /** When `timer` fires (monotonic time, as setTimeout counts). */
  let timerAt = Infinity;
  let idleWaiters: (() => void)[] = [];
  let unsubscribe: (() => void) | null = null;
  const newsWaitMs = options.newsWaitMs ?? 0;
  /** News waiting for the next claim (`queued`): wakes the dispatcher if none came by then. */
  let newsWait: NodeJS.Timeout | null = null;
  /** Endpoints paused by their answers: when to look at them again. */
  const resumeTimers = new Map<string, NodeJS.Timeout>();

  /**
   * Looks at the database again in `ms`, or sooner when an earlier look is already set. Never
   * later: every pump that finds nothing to claim sets the timer again, and with live traffic
   * finishing every few milliseconds a "look again in 50 ms" pushed back each time never came,
   * so a backlog a claim had left behind waited for the traffic to stop (a drain on 100 endpoints
   * with 100 new messages/s beside it: 1,564 due deliveries unclaimed for 40 s).
   */
  function schedule(ms: number) {
    const wait = Math.max(0, Math.min(ms, options.idlePollMs));
    const at = performance.now() + wait;
    if (timer && timerAt <= at) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = null;
      timerAt = Infinity;
      wake();
    }, wait);
    timer.unref?.();
  }

  /** Something may have become due (new messages, a retry recorded, the timer): claim soon. */
  function wake() {
    mayHaveDue = true;
    schedulePump();
  }

  /**
   * New deliveries were queued, for `endpointIds` when the store says which. A claim now would
   * skip an endpoint this worker holds all it may (the store leases it nothing more) or that is
   * paused, so when every one of them is such, there is no claim: a busy one is noted, and the
   * claim made when it frees a slot takes its work; a paused one is looked at when its pause
   * ends. (A busy endpoint was otherwise claimed for at each notification, in vain: half of all
   * claims with one worker on one endpoint, `--store postgres --only e2e`.) While a backlog of
   * this worker's drains, another endpoint's news waits for that backlog's next claim
   * (`newsWaitMs`).
   */
  function queued(endpointIds?: readonly string[]) {
    if (endpointIds !== undefined && endpointIds.length > 0) {
      let claimable = false;
      /** Noted while a claim runs: the pump looks at `moreDue` again once it is done. */
      let noted = false;
      /** News that waits for the claim a backlog makes anyway (`newsWaitMs`). */
      let waits = false;
      for (const id of endpointIds) {
        noteKnown(id);
        if (scope.onlyEndpoints && !scope.onlyEndpoints.includes(id)) continue;
        // A paused endpoint is looked at again when its pause ends (armResume).
        if (adaptive.pausedUntil(id, clock.now()) > 0) continue;
        if (saturated(id)) {
          moreDue.add(id);
          if (pumping) {
            notedWhileClaiming.add(id);
            noted = true;
          }
        } else if (newsWaitMs > 0 && !backlogged.has(id) && backlogClaimNear()) {
          // A backlog of this worker's is being drained: its next claim (when a slot of it frees)
          // looks at every endpoint and takes this work with its own. (A claim per message
          // published elsewhere meanwhile was more than half of a drain's claims on PostgreSQL.)
          waits = true;
        } else if (pumping) {
          // While a claim runs, what it brings is not counted yet: whether the endpoint has room
          // is known once that is in hand, and the pump looks at `moreDue` again then. (A claim
          // made at once after it, for work it had just taken, was a third of the empty ones.)
          moreDue.add(id);
          notedWhileClaiming.add(id);
          noted = true;
        } else claimable = true;
      }
      if (!claimable) {
        // At most newsWaitMs: the backlog's claim may not come (its endpoint paused, or slow).
        if (waits && newsWait === null) {
          newsWait = setTimeout(() => {
            newsWait = null;
            wake();
          }, newsWaitMs);
          newsWait.unref?.();
        }
        if (noted) schedulePump();
        return;
      }
    }
    wake();
  }

  /**
   * Whether a claim for a backlog is near: an endpoint whose claims came back full has deliveries
   * in flight, and the claim comes as their slots free up. (One whose deliveries are all done, a
   * paused one say, brings none: news does not wait for it.)
   */
  function backlogClaimNear(): boolean {
    for (const id of backlogged) if ((perEndpoint.get(id) ?? 0) > 0) return true;
    return false;
  }

  // Claims are coalesced: everything that finishes in one turn of the event loop leads to at
  // most one claim query.
  function schedulePump() {
    if ((!running && idleWaiters.length === 0) || pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      if (pumping) pumpAgain = true;
      else void pump();
    });
  }

  // Claims fill the process up to `concurrency - liveReserve`; a handoff may take the rest.
  const liveReserve = Math.max(0, Math.min(options.liveReserve ?? 0, options.concurrency - 1));
  /** Slots promised to deliveries an ingest transaction is writing (IngestHandoff), per endpoint. */
  const promised = new Map<string, number>();
  let promisedCount = 0;
  const unpromise = (endpointId: string) => {
    const left = (promised.get(endpointId) ?? 1) - 1;
    if (left <= 0) promised.delete(endpointId);
    else promised.set(endpointId, left);
    promisedCount--;
  };

  const reserved = (endpointId: string) =>
    (perEndpoint.get(endpointId) ?? 0) +
    (waiting.get(endpointId)?.length ?? 0) +
    (promised.get(endpointId) ?? 0);
  // Each endpoint may hold twice its concurrency: the second half waits in hand. The store caps
  // an endpoint's live leases at `prefetch` across all workers, so a claim made as soon as one
  // slot frees would bring back one delivery; instead an endpoint is claimed for again only once
  // its hand is down to one and a half times its limit, and a busy endpoint goes back to the
  // database once per half its limit in deliveries, not once per delivery. The half still
  // waiting in hand keeps its slots busy while that claim runs. (Claimed for only once nothing
  // waited in hand, a drain on 1 endpoint had 24-25 of its 32 slots busy on average on
  // PostgreSQL, whose claims take milliseconds: the slots that freed during each claim stayed
  // empty until it came back. docs/benchmarks.md.) The lease (2 x timeout + 10 s) covers the
  // wait of the last one in line; one that waited longer (the endpoint's limit came down) goes
  // back to the queue instead of being sent late.
  const prefetch = options.perEndpointConcurrency * 2;
  const saturated = (endpointId: string) => {
    const limit = adaptive.limit(endpointId);
    return reserved(endpointId) > limit + Math.floor(limit / 2);
  };

  /** Worth a claim query: the database may hold due work for an endpoint with room for it. */
  function worthClaiming(): boolean {
    if (mayHaveDue) return true;
    for (const id of moreDue) if (!saturated(id)) return true;
    return false;
  }

  async function pump(): Promise<void> {
    pumping = true;
    /** The claim failed: the next look is the back-off's, not sooner. */
    let failed = false;
    try {
      do {
        pumpAgain = false;
        const capacity = options.concurrency - liveReserve - inFlight - queuedCount() - promisedCount;
        if (capacity <= 0 || !worthClaiming()) break;
        const limit = Math.min(capacity, options.claimBatch);
        // An endpoint only has deliveries waiting while it is at its limit, so `perEndpoint` has
        // them all; a paused endpoint gets nothing new until its pause ends.
        const skip = [...perEndpoint.keys()].filter(saturated);
        for (const id of adaptive.paused(clock.now())) if (!perEndpoint.has(id)) skip.push(id);
        const defer: string[] = [];
        if (store.leadsEndpoint) for (const id of heardOf) if (!store.leadsEndpoint(id)) defer.push(id);
        deferred = defer.length > 0;
        mayHaveDue = false;
        // This claim looks at every endpoint: news waiting for one is taken by it.
        if (newsWait !== null) {
          clearTimeout(newsWait);
          newsWait = null;
        }
        const now = clock.now();
        let claimed: ClaimedDelivery[];
        let filled: ReadonlySet<string> = new Set();
        const claimStarted = performance.now();
        try {
          const claim = await store.claimDue({
            now,
            limit,
            leaseMs: options.leaseMs,
            leasePerEndpoint: true,
            perEndpoint: prefetch,
            skipEndpoints: skip,
            deferEndpoints: defer,
            deferMs: OTHERS_WAIT_MS,
            deferHot: Math.max(1, Math.floor(options.perEndpointConcurrency / 2)),
            ...scope,
          });
          claimed = claim.deliveries;
          events.onClaim?.({ deliveries: claimed.length, ms: performance.now() - claimStarted });
          filled = new Set(claim.filled);
          const until = claim.blockedUntil;
          left = until !== null && until <= now ? null : { at: now, until };
          // What it left is the skipped endpoints' only: each goes back to the database when a
          // slot of its frees up, not on a timer.
          if (until === null) for (const id of skip) if (saturated(id)) moreDue.add(id);
        } catch (err) {
          logger.warn({ err: coerceError(err) }, 'claiming deliveries failed; retrying shortly');
          events.onClaim?.('failed');
          left = null;
          mayHaveDue = true;
          failed = true;
          schedule(1000);
          break;
        }
        if (!running) {
          // Stopped while the claim ran: hand them back untried.
          if (claimed.length > 0)
            await store.releaseDeliveries(
              claimed.map((d) => d.id),
              clock.now(),
            );
          break;
        }
        // An endpoint that got as many as the store would give it probably has more waiting. The
        // store counts this worker's leases too: an endpoint holding k gets at most prefetch - k.
        const counts = new Map<string, number>();
        for (const d of claimed) counts.set(d.endpointId, (counts.get(d.endpointId) ?? 0) + 1);
        // A claim short of its limit that could tell what it left looked at every endpoint it was
        // not asked to skip: one it gave nothing has no work it could take now (what waits for a
        // time is in `left`), unless news of more came while it ran.
        if (claimed.length < limit && left !== null) {
          const skipped = new Set(skip);
          for (const id of moreDue)
            if (!counts.has(id) && !skipped.has(id) && !notedWhileClaiming.has(id)) moreDue.delete(id);
          for (const id of backlogged) if (!counts.has(id) && !skipped.has(id)) backlogged.delete(id);
        }
        // Whether every endpoint filled that way is another dispatcher's first (null: none).
        let othersOnly: boolean | null = null;
        const leftByClaim = left;
        for (const [id, n] of counts) {
          noteKnown(id);
          if (n >= prefetch - reserved(id)) {
            moreDue.add(id);
            backlogged.add(id);
          } else {
            backlogged.delete(id);
            // Unless news of more came while it ran: the claim may not have seen that.
            if (!notedWhileClaiming.has(id)) moreDue.delete(id);
            // The store gave it all the room it had, yet less than this worker may hold: other
            // workers hold the rest of its leases, and what it left is not this worker's to wait
            // for: look again shortly.
            if (filled.has(id)) {
              left = null;
              othersOnly = (othersOnly ?? true) && !(store.leadsEndpoint?.(id) ?? true);
            }
          }
        }
        // Shortly, unless those endpoints are all another dispatcher's first, which comes back
        // for them itself: with 4 workers on one endpoint, the others' 50 ms looks were most of
        // the claims and most of the empty ones.
        blockedPollMs = leftByClaim !== null && othersOnly === true ? SHARED_POLL_MS : BLOCKED_POLL_MS;
        notedWhileClaiming.clear();
        // A claim short of its limit left only what it says (`left`) and the work of the
        // endpoints it filled, which this worker claims when a slot of theirs frees up. (It
        // claimed again at once after filling an endpoint, and that claim, skipping the endpoint
        // now full, found nothing: most of the claims that came back empty.)
        if (claimed.length === limit) mayHaveDue = true;
        for (const d of claimed) admit(d);
        if (mayHaveDue) pumpAgain = true;
      } while (pumpAgain && running);
      // Nothing more is due now: sleep until the earliest scheduled retry or expiring lease.
      if (!mayHaveDue && running) await armTimer();
    } finally {
      pumping = false;
    }
    // Asked again while it looked for the next due time (new work announced meanwhile): that
    // look is stale, pump again now rather than at the timer it set.
    if (pumpAgain && running && !failed) {
      pumpAgain = false;
      schedulePump();
    }
    checkIdle();
  }

  async function armTimer() {
    const known = left;
    const next = await store.nextDueAt(scope, known?.at).catch(() => null);
    if (known) {
      // The due work the last claim left waits for `until` (null: for slots of this worker's):
      // only work falling due after that claim can come sooner. (A FIFO endpoint whose head waits
      // hours for its retry, or a rate-limited backlog, had the dispatcher claim every 50 ms.)
      const at = Math.min(next ?? Infinity, known.until ?? Infinity);
      // Work falling due after a claim that left endpoints to others is mostly theirs (news of
      // this worker's own wakes it at once): looked at again no sooner than SHARED_POLL_MS.
      const floor = deferred ? SHARED_POLL_MS : 0;
      schedule(at === Infinity ? options.idlePollMs : Math.max(floor, at - clock.now()));
      return;
    }
    const wait = next === null ? options.idlePollMs : next - clock.now();
    // Due but not claimable just now (an endpoint at its in-flight or rate limit, a FIFO line
    // waiting for its head, rows another worker is claiming): look again shortly, not at once.
    schedule(next !== null && wait <= 0 ? blockedPollMs : wait);
  }

  function queuedCount(): number {
    let n = 0;
    for (const q of waiting.values()) n += q.length;
    return n;
  }

  function admit(d: ClaimedDelivery) {
    const id = d.endpointId;
    const q = waiting.get(id);
    // The common case: room for it now, nothing ahead of it, the endpoint not paused.
    if (
      q === undefined &&
      (perEndpoint.get(id) ?? 0) < adaptive.limit(id) &&
      !adaptive.pausedUntil(id, clock.now())
    ) {
      start(d);
      return;
    }
    if (q) q.push(d);
    else waiting.set(id, [d]);
    startWaiting(id);
  }

  /**
   * Starts what one endpoint has in hand, up to its limit. While it is paused they wait in hand
   * when their leases outlast the pause, else they go back to the queue, due when it ends.
   * Returns whether it started any.
   */
  function startWaiting(id: string): boolean {
    const q = waiting.get(id);
    if (q === undefined) return false;
    const now = clock.now();
    const until = adaptive.pausedUntil(id, now);
    if (until > 0) {
      armResume(id, until);
      if (q.some((d) => d.leaseUntil - until < options.leaseMs / 2)) {
        waiting.delete(id);
        void store
          .releaseDeliveries(
            q.map((d) => d.id),
            until,
          )
          .catch(() => {});
      }
      return false;
    }
    let started = false;
    while (q.length > 0 && (perEndpoint.get(id) ?? 0) < adaptive.limit(id)) {
      const d = q.shift()!;
      if (d.leaseUntil - now < options.leaseMs / 2) {
        // It waited in hand too long to be sure of finishing within its lease.
        releaseUnstarted(d);
        wake();
        continue;
      }
      start(d);
      started = true;
    }
    if (q.length === 0) waiting.delete(id);
    return started;
  }

  /** Looks at a paused endpoint again when its pause ends. */
  function armResume(id: string, until: number) {
    if (resumeTimers.has(id)) return;
    const t = setTimeout(
      () => {
        resumeTimers.delete(id);
        if (!running) return;
        const again = adaptive.pausedUntil(id, clock.now());
        if (again > 0) armResume(id, again);
        else {
          startWaiting(id);
          wake();
        }
      },
      Math.max(10, until - clock.now()),
    );
    t.unref?.();
    resumeTimers.set(id, t);
  }

  function start(d: ClaimedDelivery) {
    const id = d.endpointId;
    perEndpoint.set(id, (perEndpoint.get(id) ?? 0) + 1);
    inFlight++;
    void attempt(d).finally(() => {
      inFlight--;
      const left = (perEndpoint.get(id) ?? 1) - 1;
      if (left <= 0) perEndpoint.delete(id);
      else perEndpoint.set(id, left);
      if (running) {
        // Work this endpoint already has in hand: no need to ask the database.
        if (startWaiting(id)) return;
        const until = adaptive.pausedUntil(id, clock.now());
        if (until > 0) armResume(id, until);
      } else {
        const q = waiting.get(id);
        waiting.delete(id);
        for (const next of q ?? []) releaseUnstarted(next);
      }
      schedulePump();
      checkIdle();
    });
  }

  /** Gives a claimed-but-unstarted delivery back (during shutdown). */
  function releaseUnstarted(d: ClaimedDelivery) {
    void store.releaseDeliveries([d.id], clock.now()).catch(() => {});
  }

  async function attempt(d: ClaimedDelivery): Promise<void> {
    if (d.endpoint.disabled) {
      events.onDisabledCanceled?.();
      await record(
        { deliveryId: d.id, leaseUntil: d.leaseUntil, attempt: null, next: { kind: 'cancel' } },
        d,
      );
      return;
    }
    const startedAt = clock.now();
    // Made now, not when the answer comes: an attempt's id sorts by its start (`Attempt.id`).
    const attemptId = ids('attempt');
    // A child of the message's trace context: the publish (or inbound) span that stored it.
    const span = tracer?.startSpan(
      'hookline.attempt',
      { kind: SpanKind.CLIENT },
      parentContext(d.traceparent),
    );
    let req: SendRequest;
    try {
      req = await prepareAttempt(d, startedAt, options);
    } catch (err) {
      // A request that cannot be built (a stored secret that cannot sign) is a failed attempt
      // with the reason in its log, never a rejection nobody handles (that would stop the process).
      req = {
        url: d.endpoint.url,
        headers: {},
        body: '',
        failure: `the request could not be prepared: ${coerceError(err).message}`,
      };
    }
    // The receiver's spans join the trace: this attempt's span, or (tracing off) the publisher's.
    // Chat platforms get no header they did not ask for.
    const traceparent = span ? traceparentOf(span) : d.traceparent;
    if (traceparent && !req.failure && !isChatKind(d.endpoint.kind)) req.headers.traceparent = traceparent;
    const result: SendResult = req.failure
      ? { ok: false, error: 'not_sent', message: req.failure, durationMs: 0 }
      : await sender.send(req);
    adaptive.observe(d.endpointId, startedAt, result, clock.now(), perEndpoint.get(d.endpointId) ?? 1);
    const { attempt: a, outcome } = settleAttempt(
      d,
      req,
      result,
      { startedAt, now: clock.now() },
      options,
      attemptId,
    );
    const next = outcome.next;
    if (debug) {
      logger.debug(
        {
          deliveryId: d.id,
          msgId: d.msgId,
          endpointId: d.endpointId,
          attempt: d.attempts + 1,
          statusCode: a.responseStatusCode,
          durationMs: a.durationMs,
          next: next.kind,
        },
        'delivery attempt',
      );
    }
    if (span) endAttemptSpan(span, d, req, result, next);
    events.onAttempt?.(a, d, next);
    await record(outcome, d);
  }

  /**
   * A delivery that holds back others until it is done: the head of a FIFO endpoint, or of its
   * (endpoint, ordering key) line.
   */
  const inLine = (d: ClaimedDelivery) => d.orderingKey !== undefined || d.endpoint.fifo;

  /**
   * Queues an outcome for the next batch; resolves once the batch is committed (or given up).
   * A delivery keeps its concurrency slot until then, so at any moment at most `concurrency`
   * deliveries are sent but not yet recorded: the most a crash can make us send twice.
   */
  function record(o: DeliveryOutcome, d: ClaimedDelivery): Promise<void> {
    return new Promise<void>((done) => {
      outcomes.push({ outcome: o, done, freesLine: inLine(d), endpointId: d.endpointId });
      if (!flushing) flushing = flush();
    });
  }

  /**
   * Records outcomes in batches: a short wait (the store's `outcomeBatchWaitMs`) lets the attempts
   * finishing around the same time share one transaction (one commit, one fsync); those that
   * finish while it is written go in the next.
   */
  async function flush(): Promise<void> {
    const wait = store.capabilities.outcomeBatchWaitMs;
    await new Promise<void>((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
    // An endpoint whose limit came down gets its slots back no sooner than with the longest wait:
    // Hookline eases off a struggling endpoint as it did before the stores' shorter waits.
    if (wait < EASED_OUTCOME_WAIT_MS && outcomes.some((o) => adaptive.limit(o.endpointId) < adaptive.max))
      await new Promise<void>((r) => setTimeout(r, EASED_OUTCOME_WAIT_MS - wait));
    while (outcomes.length > 0) {
      const batch = outcomes;
      outcomes = [];
      const batchOutcomes = batch.map((b) => b.outcome);
      try {
        const { disabledEndpoints } = await store.completeDeliveries(batchOutcomes, clock.now());
        events.onOutcomesRecorded?.(batch.length);
        for (const b of batch) b.done();
        // A retry is due at a time the idle timer does not know yet, and a delivery of a line
        // (FIFO endpoint or ordering key) that is done lets the next of its line go: look again
        // now. (A FIFO endpoint otherwise waited for the 50 ms look of a claim that found its
        // next delivery blocked: 20-30 deliveries a second at most.)
        if (batch.some((b) => b.outcome.next.kind === 'retry' || b.freesLine)) wake();
        for (const id of disabledEndpoints) {
          logger.warn(
            { endpointId: id, event: 'endpoint.disabled' },
            'endpoint disabled (failing for too long, or a REST Hook target answered 410 Gone)',
          );
          events.onEndpointDisabled?.(id);
        }
      } catch (err) {
        // Nothing is lost either way: until recorded, the deliveries stay leased, and when the
        // leases run out they are tried again (at-least-once).
        if (err instanceof StoreUnavailableError && running) {
          logger.error({ err, count: batch.length }, 'recording attempt outcomes failed; will retry');
          outcomes = batch.concat(outcomes);
          await new Promise((r) => setTimeout(r, 500));
        } else {
          logger.error(
            { err: coerceError(err), count: batch.length },
            'recording attempt outcomes failed; these deliveries will be tried again when their leases run out',
          );
          for (const b of batch) b.done();
        }
      }
    }
    flushing = null;
    checkIdle();
  }

  function checkIdle() {
    if (idleWaiters.length === 0 || pumping || inFlight > 0 || flushing || outcomes.length > 0) return;
    // Deliveries held in hand while their endpoint is paused are not done.
    if (waiting.size > 0) return;
    void store.nextDueAt(scope).then((next) => {
      if (pumping || inFlight > 0 || flushing) return;
      if (next !== null && next <= clock.now()) {
        wake();
        return;
      }
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    });
  }

  return {
    start() {
      if (running) return;
      running = true;
      // Scoped to some endpoints, it is not one of the dispatchers that share all of them.
      unsubscribe = store.onDeliveriesQueued(queued, { dispatcher: !scope.onlyEndpoints });
      wake();
    },
    async stop(graceMs = 10_000) {
      running = false;
      unsubscribe?.();
      if (timer) clearTimeout(timer);
      timer = null;
      timerAt = Infinity;
      if (newsWait) clearTimeout(newsWait);
      newsWait = null;
      for (const t of resumeTimers.values()) clearTimeout(t);
      resumeTimers.clear();
      const pending = [...waiting.values()].flat();
      waiting.clear();
      if (pending.length > 0)
        await store
          .releaseDeliveries(
            pending.map((d) => d.id),
            clock.now(),
          )
          .catch(() => {});
      const deadline = Date.now() + graceMs;
      while ((inFlight > 0 || flushing || pumping) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      if (flushing) await flushing;
      // Requests still running past the grace period keep their lease; it expires and another
      // worker (or this one after a restart) tries again.
    },
    wake,
    drain() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        wake();
        checkIdle();
      });
    },
    get inFlight() {
      return inFlight;
    },
    handoff: {
      leaseMs: options.leaseMs,
      perEndpoint: prefetch,
      // Live traffic needs no claim: a delivery written while this process has a free slot for
      // its endpoint (and nothing of that endpoint waiting in hand, no backlog of it being
      // claimed, and no pause) is leased in the same transaction and sent right after the
      // commit. The slot is promised until then. (On PostgreSQL an ingest offering a delivery
      // waits for the endpoint's claim lock: offered while claims drained a backlog of it, each
      // batch waited for a claim and held the next one off, and a process serving the API and
      // delivering spent a sixth more CPU per delivery at full speed.)
      take(endpointId) {
        if (!running) return false;
        if (scope.onlyEndpoints && !scope.onlyEndpoints.includes(endpointId)) return false;
        if (inFlight + queuedCount() + promisedCount >= options.concurrency) return false;
        if (waiting.has(endpointId) || backlogged.has(endpointId)) return false;
        const busy = (perEndpoint.get(endpointId) ?? 0) + (promised.get(endpointId) ?? 0);
        if (busy >= adaptive.limit(endpointId) || adaptive.pausedUntil(endpointId, clock.now()) > 0)
          return false;
        promised.set(endpointId, (promised.get(endpointId) ?? 0) + 1);
        promisedCount++;
        return true;
      },
      taken(deliveries) {
        for (const d of deliveries) {
          unpromise(d.endpointId);
          if (running) admit(d);
          else releaseUnstarted(d);
        }
      },
      untake(endpointIds) {
        for (const id of endpointIds) unpromise(id);
        schedulePump();
      },
    },
    endpointLoad(endpointId) {
      return { inFlight: perEndpoint.get(endpointId) ?? 0, waiting: waiting.get(endpointId)?.length ?? 0 };
    },
  };
}
