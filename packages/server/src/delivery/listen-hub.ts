/**
 * Delivery to `listen` endpoints: the server side of `hookline listen`.
 *
 * A listen endpoint has no public URL. Its deliveries stay in the queue (the dispatcher leaves
 * them out) until a `hookline listen` client connects over a WebSocket to the API process. That
 * process then claims the endpoint's due deliveries in batches, oldest first, and pushes each
 * as the exact request the dispatcher would have sent (headers signed now, the stored body).
 * The client POSTs them to its local URL one at a time, in order, and sends back what came
 * back; the outcomes are recorded like any attempt (attempt log, retry schedule, endpoint
 * failure tracking), one transaction per batch.
 *
 *   client connects -> hello {backlog, timeoutMs}; once nothing is due -> idle (caught up)
 *   loop: claim a batch (scope: only this endpoint) -> push each {delivery}
 *         -> collect each {result} in order -> completeDeliveries (success | retry at T | fail)
 *   session ends for any reason (client gone or stuck, a database error) -> every lease it
 *   still holds is given back at once, due before anything published after them, so the next
 *   session gets them first and in publish order
 *
 * Every client message is checked; a malformed one is answered with an `error` message and
 * ignored (the session goes on). While a client is connected the endpoint's `updatedAt` is
 * refreshed now and then and when it leaves: that is its "last seen", which
 * `listen-expiry.ts` uses to pause endpoints whose client has been gone too long.
 *
 * A failed delivery is retried on the production schedule; the ones behind it do not wait for
 * it (the same ordering guarantee as HTTP endpoints: first tries go out in order).
 *
 * One connection per endpoint per process: a new one (the laptop woke up and reconnected)
 * replaces the old. Behind several API processes, two clients of one endpoint on different
 * processes would share its deliveries (each still delivered at least once).
 */
import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import type { Clock } from '../core/clock.ts';
import { coerceError } from '../core/errors.ts';
import type { IdGenerator } from '../core/ids.ts';
import type { RetryPolicy } from '../core/retry.ts';
import type { Attempt } from '../core/types.ts';
import type { ClaimedDelivery, DeliveryOutcome, Store } from '../store/store.ts';
import { parentContext, SpanKind, type Tracing, traceparentOf } from '../tracing.ts';
import { endAttemptSpan, prepareRequest, settleAttempt } from './dispatcher.ts';
import type { SendRequest, SendResult } from './sender.ts';

/** The server's messages to the client. */
export type ListenServerMessage =
  | {
      type: 'hello';
      endpointId: string;
      url: string;
      /** Deliveries waiting for this endpoint when the client connected (including later retries). */
      backlog: number;
      /** How long the client may take to forward one delivery before it counts as timed out. */
      timeoutMs: number;
    }
  /** Nothing is due any more (sent once per connection): the client has caught up. */
  | { type: 'idle' }
  | {
      type: 'delivery';
      deliveryId: string;
      msgId: string;
      eventType: string;
      /** 1 for the first try. */
      attempt: number;
      headers: Record<string, string>;
      /** The exact body: text as is, or base64 (`bodyEncoding`) for bytes received on `/in/{source}`. */
      body: string;
      bodyEncoding?: 'base64';
    }
  /** A client message was refused (it is ignored; the session goes on). */
  | { type: 'error'; code: ListenErrorCode; detail: string };

/**
 * Codes of the `error` messages the server sends on the stream (listed in docs/errors.md).
 * They are not HTTP errors: the WebSocket stays open.
 */
export const LISTEN_ERRORS = {
  invalid_listen_message:
    'A client message is not JSON, or not a `result` of the documented shape; it was ignored.',
  unknown_delivery:
    'A `result` names a delivery that is not waiting for an answer on this connection (answered already, or never sent on it).',
} as const;
export type ListenErrorCode = keyof typeof LISTEN_ERRORS;

/** WebSocket close codes the server uses on the stream (listed in docs/errors.md). */
export const LISTEN_CLOSE = {
  /** Another `hookline listen` connected to the same endpoint and took over. */
  replaced: 4000,
  /** The client did not answer a delivery within `resultTimeoutMs`. */
  noAnswer: 4001,
} as const;

/**
 * The client's answer for one delivery: what the local URL answered (`status` 100-999), or why
 * it did not (`status` 0 and `error`). Checked on arrival; extra fields are ignored.
 */
const ListenResultSchema = Type.Object({
  type: Type.Literal('result'),
  deliveryId: Type.String({ minLength: 1, maxLength: 100 }),
  status: Type.Union([Type.Literal(0), Type.Integer({ minimum: 100, maximum: 999 })]),
  durationMs: Type.Number({ minimum: 0, maximum: 86_400_000 }),
  headers: Type.Optional(Type.Record(Type.String({ maxLength: 1024 }), Type.String({ maxLength: 16_384 }))),
  /** Cut to `maxResponseBytes` when recorded. */
  body: Type.Optional(Type.String()),
  error: Type.Optional(Type.String({ maxLength: 4096 })),
});
export interface ListenResult {
  type: 'result';
  deliveryId: string;
  /** HTTP status from the local app, or 0 when there was no response. */
  status: number;
  durationMs: number;
  headers?: Record<string, string>;
  body?: string;
  error?: string;
}
const listenResult = Compile(ListenResultSchema);

/** Reads one client message: the result it carries, or why it is refused. */
export function parseClientMessage(data: unknown): ListenResult | { problem: string } {
  let msg: unknown;
  try {
    msg = JSON.parse(String(data));
  } catch {
    return { problem: 'the message is not JSON' };
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg))
    return { problem: 'a message must be a JSON object' };
  if ((msg as { type?: unknown }).type !== 'result')
    return {
      problem: `unknown message type ${JSON.stringify((msg as { type?: unknown }).type ?? null)}; clients send only "result"`,
    };
  if (listenResult.Check(msg)) return msg as ListenResult;
  const first = [...listenResult.Errors(msg)][0];
  return {
    problem: `invalid result: ${first ? `${first.instancePath || '/'} ${first.message}` : 'wrong shape'}`,
  };
}

/** The part of a WebSocket the hub needs (the `ws` package's WebSocket fits). */
export interface ListenSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: unknown) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  readonly readyState: number;
}

export interface ListenHubOptions {
  /** How long the local app may take to answer one forwarded delivery (the delivery timeout). */
  forwardTimeoutMs: number;
  /** How long the server waits for the client's answer: the forward timeout plus the round trip. */
  resultTimeoutMs: number;
  leaseMs: number;
  retry: RetryPolicy;
  /** The policy for messages of an event type with its own retry schedule (else `retry`). */
  retryFor?: (eventType: string) => RetryPolicy;
  disableAfterMs: number;
  /** Longest wait between looks at the queue when nothing wakes the session. */
  pollMs: number;
  /** Deliveries pushed to the client at once (it forwards them one by one, in order). */
  batch: number;
  maxResponseBytes: number;
  /**
   * While a client is connected, refresh the endpoint's "last seen" (`updatedAt`) this often;
   * null: never (listen endpoints do not expire).
   */
  seenEveryMs: number | null;
}

export interface ListenHub {
  /** Serves one connected client until it disconnects. */
  serve(socket: ListenSocket, endpoint: { id: string; appId: string; url: string }): Promise<void>;
  /** Endpoints with a client connected to this process. */
  readonly connected: number;
  /** A client of this endpoint is connected to this process. */
  isConnected(endpointId: string): boolean;
  /** Disconnects every client; leases of deliveries in flight are given back. */
  close(): Promise<void>;
}

const OPEN = 1;

export function createListenHub(deps: {
  store: Store;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  options: ListenHubOptions;
  onAttempt?(attempt: Attempt, delivery: ClaimedDelivery, next: DeliveryOutcome['next']): void;
  /** A session claimed its endpoint's due work: what it leased and how long it took, or that it failed. */
  onClaim?(result: { deliveries: number; ms: number } | 'failed'): void;
  /** A claimed delivery was canceled, not pushed: its endpoint was disabled since it was queued. */
  onDisabledCanceled?(): void;
  /** A batch of `count` attempt outcomes was recorded in one store call. */
  onOutcomesRecorded?(count: number): void;
  /** A span per attempt (`tracing.ts`), when on. */
  tracing?: Tracing;
}): ListenHub {
  const { store, clock, ids, logger, options } = deps;
  const tracer = deps.tracing?.enabled ? deps.tracing.tracer : null;
  const sessions = new Map<string, { stop(reason: string, closeCode?: number): Promise<void> }>();
  let closing = false;

  async function serve(socket: ListenSocket, endpoint: { id: string; appId: string; url: string }) {
    await sessions.get(endpoint.id)?.stop('another hookline listen connected to this endpoint');
    let open = socket.readyState === OPEN && !closing;
    let wakeUp: (() => void) | null = null;
    /** Deliveries pushed and not answered yet, by id. */
    const answers = new Map<string, (r: ListenResult | null) => void>();
    /** Deliveries this session holds a lease on and has neither completed nor given back. */
    const leased = new Map<string, ClaimedDelivery>();
    let finished!: () => void;
    const done = new Promise<void>((r) => {
      finished = r;
    });
    const wake = () => {
      const w = wakeUp;
      wakeUp = null;
      w?.();
    };
    const shut = () => {
      open = false;
      for (const resolve of answers.values()) resolve(null);
      answers.clear();
      wake();
    };
    const session = {
      async stop(reason: string, closeCode: number = LISTEN_CLOSE.replaced) {
        if (socket.readyState === OPEN) socket.close(closeCode, reason);
        shut();
        await done;
      },
    };
    sessions.set(endpoint.id, session);
    const log = logger.child({ endpointId: endpoint.id, listen: true });
    socket.on('close', shut);
    socket.on('message', (data) => {
      // Whatever a client sends, the session goes on: a bad message is refused and ignored.
      const msg = parseClientMessage(data);
      if ('problem' in msg) {
        log.debug({ problem: msg.problem }, 'listen client sent an invalid message');
        send(socket, { type: 'error', code: 'invalid_listen_message', detail: msg.problem });
        return;
      }
      const resolve = answers.get(msg.deliveryId);
      if (!resolve) {
        send(socket, {
          type: 'error',
          code: 'unknown_delivery',
          detail: `delivery ${msg.deliveryId} is not waiting for an answer on this connection`,
        });
        return;
      }
      answers.delete(msg.deliveryId);
      resolve(msg);
    });
    const unsubscribe = store.onDeliveriesQueued(wake);
    let seenAt = 0;
    /** Refreshes "last seen"; a failure only delays it (the next refresh or the disconnect). */
    const markSeen = async () => {
      if (options.seenEveryMs === null) return;
      seenAt = clock.now();
      try {
        // Read just before writing, so a change made meanwhile through the API is kept.
        const ep = await store.getEndpoint(endpoint.appId, endpoint.id);
        if (ep) await store.updateEndpoint({ ...ep, updatedAt: clock.now() });
      } catch (err) {
        log.warn({ err: coerceError(err) }, 'could not record that the listen client was seen');
      }
    };

    try {
      const stats = await store.endpointStats(endpoint.id, 0, clock.now() + 1);
      send(socket, {
        type: 'hello',
        endpointId: endpoint.id,
        url: endpoint.url,
        backlog: stats.pending + stats.sending,
        timeoutMs: options.forwardTimeoutMs,
      });
      log.info({ backlog: stats.pending + stats.sending }, 'listen client connected');
      await markSeen();
      let caughtUp = false;
      while (open) {
        if (options.seenEveryMs !== null && clock.now() - seenAt >= options.seenEveryMs) await markSeen();
        // The batch is answered one by one, in order: its lease covers the slowest case.
        const claimStarted = performance.now();
        const { deliveries: batch } = await store
          .claimDue({
            now: clock.now(),
            limit: options.batch,
            leaseMs: options.leaseMs + options.batch * options.resultTimeoutMs,
            perEndpoint: options.batch,
            skipEndpoints: [],
            onlyEndpoints: [endpoint.id],
          })
          .catch((err: unknown) => {
            deps.onClaim?.('failed');
            throw err;
          });
        deps.onClaim?.({ deliveries: batch.length, ms: performance.now() - claimStarted });
        for (const d of batch) leased.set(d.id, d);
        if (batch.length === 0) {
          if (!caughtUp) send(socket, { type: 'idle' });
          caughtUp = true;
          const next = await store.nextDueAt({ onlyEndpoints: [endpoint.id] });
          const waitMs = Math.min(
            options.pollMs,
            next === null ? options.pollMs : Math.max(0, next - clock.now()),
          );
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, waitMs);
            wakeUp = () => {
              clearTimeout(t);
              resolve();
            };
          });
          continue;
        }
        if (!open) break;
        await deliverBatch(batch);
      }
    } catch (err) {
      log.error({ err: coerceError(err) }, 'listen session failed; the client will reconnect');
      if (socket.readyState === OPEN) socket.close(1011, 'server error');
    } finally {
      shut();
      unsubscribe();
      try {
        await giveBack([...leased.values()]);
      } catch (err) {
        // Their leases expire instead; nothing is lost, only delayed.
        log.error({ err: coerceError(err) }, 'could not give back the deliveries of a listen session');
      }
      await markSeen();
      if (sessions.get(endpoint.id) === session) sessions.delete(endpoint.id);
      log.info('listen client disconnected');
      finished();
    }

    /**
     * Gives leases back without an attempt. They become due at the creation time of the oldest
     * of their messages: before anything published after them (a new message is due when it
     * is created, at the earliest), so the next session gets them first. Due at the same
     * moment, they go out by id, which is publish order. Given back at `now`, they would queue
     * behind everything published while they were out, and arrive after later messages.
     */
    async function giveBack(ds: ClaimedDelivery[]) {
      if (ds.length === 0) return;
      const dueAt = Math.min(clock.now(), ...ds.map((d) => d.msgCreatedAt));
      await store.releaseDeliveries(
        ds.map((d) => d.id),
        dueAt,
      );
      for (const d of ds) leased.delete(d.id);
    }

    /**
     * Pushes a batch at once (the client forwards one at a time, in order), then collects the
     * answers in order and records them in one transaction. Each answer may take
     * `resultTimeoutMs` after the one before it; a client that misses that is treated as gone.
     */
    async function deliverBatch(batch: ClaimedDelivery[]) {
      const outcomes: DeliveryOutcome[] = [];
      const unanswered: ClaimedDelivery[] = [];
      const pushed: {
        d: ClaimedDelivery;
        req: SendRequest;
        startedAt: number;
        /** The attempt's id, made when it started (see `Attempt.id`). */
        attemptId: string;
        answer: Promise<ListenResult | null>;
        span: Span | undefined;
      }[] = [];
      for (const d of batch) {
        if (d.endpoint.disabled) {
          deps.onDisabledCanceled?.();
          outcomes.push({
            deliveryId: d.id,
            leaseUntil: d.leaseUntil,
            attempt: null,
            next: { kind: 'cancel' },
          });
          continue;
        }
        const startedAt = clock.now();
        const attemptId = ids('attempt');
        const req = prepareRequest(d, startedAt);
        // As the dispatcher does: the local app's spans join the message's trace.
        const span = tracer?.startSpan(
          'hookline.attempt',
          { kind: SpanKind.CLIENT },
          parentContext(d.traceparent),
        );
        const traceparent = span ? traceparentOf(span) : d.traceparent;
        if (traceparent) req.headers.traceparent = traceparent;
        const answer = new Promise<ListenResult | null>((resolve) => answers.set(d.id, resolve));
        send(socket, {
          type: 'delivery',
          deliveryId: d.id,
          msgId: d.msgId,
          eventType: d.eventType,
          attempt: d.attempts + 1,
          headers: req.headers,
          ...(typeof req.body === 'string'
            ? { body: req.body }
            : { body: req.body.toString('base64'), bodyEncoding: 'base64' as const }),
        });
        pushed.push({ d, req, startedAt, attemptId, answer, span });
      }
      let gone = false;
      for (const p of pushed) {
        if (gone) {
          p.span?.end();
          unanswered.push(p.d);
          continue;
        }
        let timer: NodeJS.Timeout | undefined;
        const result = await Promise.race([
          p.answer,
          new Promise<'timeout'>((resolve) => {
            timer = setTimeout(() => resolve('timeout'), options.resultTimeoutMs);
          }),
        ]);
        clearTimeout(timer);
        answers.delete(p.d.id);
        if (result === null || result === 'timeout') {
          // Gone, or stuck: give this one and the rest back untried; the client reconnects.
          gone = true;
          p.span?.end();
          unanswered.push(p.d);
          if (result === 'timeout') {
            log.warn({ deliveryId: p.d.id }, 'hookline listen stopped answering; closing its connection');
            if (socket.readyState === OPEN) socket.close(LISTEN_CLOSE.noAnswer, 'no answer in time');
          }
          continue;
        }
        outcomes.push(outcomeOf(p.d, p.req, p.startedAt, p.attemptId, result, p.span));
      }
      if (outcomes.length > 0) {
        await store.completeDeliveries(outcomes, clock.now());
        deps.onOutcomesRecorded?.(outcomes.length);
        for (const o of outcomes) leased.delete(o.deliveryId);
      }
      await giveBack(unanswered);
    }

    function outcomeOf(
      d: ClaimedDelivery,
      req: SendRequest,
      startedAt: number,
      attemptId: string,
      result: ListenResult,
      span: Span | undefined,
    ): DeliveryOutcome {
      const sendResult: SendResult =
        result.status > 0
          ? {
              ok: true,
              statusCode: result.status,
              headers: result.headers ?? {},
              body: (result.body ?? '').slice(0, options.maxResponseBytes),
              durationMs: Math.round(result.durationMs),
            }
          : {
              ok: false,
              error: 'other',
              message: result.error ?? 'no response from the local URL',
              durationMs: Math.round(result.durationMs),
            };
      const { attempt, outcome } = settleAttempt(
        d,
        req,
        sendResult,
        { startedAt, now: clock.now() },
        options,
        attemptId,
      );
      log.debug(
        { deliveryId: d.id, msgId: d.msgId, statusCode: attempt.responseStatusCode, next: outcome.next.kind },
        'listen delivery attempt',
      );
      if (span) endAttemptSpan(span, d, req, sendResult, outcome.next);
      deps.onAttempt?.(attempt, d, outcome.next);
      return outcome;
    }
  }

  return {
    serve,
    get connected() {
      return sessions.size;
    },
    isConnected: (endpointId) => sessions.has(endpointId),
    async close() {
      closing = true;
      await Promise.all([...sessions.values()].map((s) => s.stop('server shutting down', 1001)));
    },
  };
}

function send(socket: ListenSocket, msg: ListenServerMessage) {
  if (socket.readyState === OPEN) socket.send(JSON.stringify(msg));
}
