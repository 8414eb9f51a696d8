/**
 * OpenTelemetry traces. Hookline records three kinds of span:
 *
 * - `hookline.publish`: `POST /api/v1/app/{app}/msg`, from the request to the commit of the
 *   message (its group commit batch); a child of the caller's span when the request carries a
 *   W3C `traceparent`.
 * - `hookline.inbound`: a request received on `/in/{source}`, until it is stored; a child of the
 *   provider's span when the request carries a `traceparent`.
 * - `hookline.attempt`: one per delivery attempt (or forward of an inbound event), a child of the
 *   message's stored trace context, with the endpoint, the status and the error.
 *
 * A message keeps the `traceparent` of its publish (or inbound) span, and each attempt sends the
 * `traceparent` of its own span to the receiver: a trace runs from the customer's API call into
 * their receiver.
 *
 * Tracing is on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set
 * (and `OTEL_SDK_DISABLED` is not `true`); the OTLP/HTTP exporter reads the other standard
 * `OTEL_EXPORTER_OTLP_*` variables itself. Off, every helper here does nothing and allocates
 * nothing, except that a `traceparent` received with a message is stored and passed on
 * unchanged, so the receiver's own tracing still links to the caller's. The SDK and the exporter
 * are loaded only when tracing is on.
 */
import {
  type Attributes,
  type Context,
  createTraceState,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace';

export { SpanKind };

export interface Tracing {
  /** Spans are recorded. When false, no span is ever started. */
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Sends what is recorded and stops (only the provider this module created). */
  shutdown(): Promise<void>;
}

const DISABLED: Tracing = {
  enabled: false,
  tracer: trace.getTracer('hookline-disabled'),
  shutdown: async () => {},
};

/** Whether the standard variables ask for traces to be exported. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * This process's tracing: with `provider` (tests inject one with an in-memory exporter), spans go
 * there; else, when the environment asks for it, to an OTLP/HTTP exporter in batches; else off.
 */
export async function createTracing(options: {
  provider?: TracerProvider | undefined;
  env?: NodeJS.ProcessEnv;
  version: string;
}): Promise<Tracing> {
  if (options.provider) {
    return {
      enabled: true,
      tracer: options.provider.getTracer('hookline', options.version),
      shutdown: async () => {},
    };
  }
  const env = options.env ?? process.env;
  if (!tracingRequested(env)) return DISABLED;
  const [{ OTLPTraceExporter }, resources, sdk, semconv] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override these.
  const resource = resources
    .resourceFromAttributes({
      [semconv.ATTR_SERVICE_NAME]: 'hookline',
      [semconv.ATTR_SERVICE_VERSION]: options.version,
    })
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.TracerProvider({
    resource,
    sampler: samplerFromEnv(sdk, env),
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...batchFromEnv(env) })],
  });
  return {
    enabled: true,
    tracer: provider.getTracer('hookline', options.version),
    shutdown: () => provider.shutdown().catch(() => {}),
  };
}

/** `OTEL_TRACES_SAMPLER` (and `OTEL_TRACES_SAMPLER_ARG`, a ratio); `parentbased_always_on` by default. */
export function samplerFromEnv(
  sdk: typeof import('@opentelemetry/sdk-trace'),
  env: NodeJS.ProcessEnv,
): Sampler {
  const { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler } = sdk;
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = env.OTEL_TRACES_SAMPLER_ARG?.trim() && arg >= 0 && arg <= 1 ? arg : 1;
  switch (env.OTEL_TRACES_SAMPLER?.trim().toLowerCase()) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** The batch span processor's `OTEL_BSP_*` settings that are set to a positive integer. */
function batchFromEnv(env: NodeJS.ProcessEnv) {
  const positive = (name: string) => {
    const n = Number(env[name]);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  };
  const out: {
    scheduledDelayMillis?: number;
    maxQueueSize?: number;
    maxExportBatchSize?: number;
    exportTimeoutMillis?: number;
  } = {};
  const delay = positive('OTEL_BSP_SCHEDULE_DELAY');
  const queue = positive('OTEL_BSP_MAX_QUEUE_SIZE');
  const batch = positive('OTEL_BSP_MAX_EXPORT_BATCH_SIZE');
  const timeout = positive('OTEL_BSP_EXPORT_TIMEOUT');
  if (delay !== undefined) out.scheduledDelayMillis = delay;
  if (queue !== undefined) out.maxQueueSize = queue;
  // The batch may not be larger than the queue.
  if (batch !== undefined) out.maxExportBatchSize = Math.min(batch, queue ?? 2048);
  if (timeout !== undefined) out.exportTimeoutMillis = timeout;
  return out;
}

/** W3C Trace Context: version, trace id, parent id, flags (and, past version 00, more). */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** The remote span a `traceparent` names, if it is a valid one. */
function parseTraceparent(value: unknown): SpanContext | null {
  if (typeof value !== 'string' || value.length > 512) return null;
  const m = TRACEPARENT.exec(value.trim());
  if (!m || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return null;
  const sc: SpanContext = {
    traceId: m[2]!,
    spanId: m[3]!,
    traceFlags: Number.parseInt(m[4]!, 16),
    isRemote: true,
  };
  return isSpanContextValid(sc) ? sc : null;
}

/** A `traceparent` header value, if it is a valid one (else null). */
export function validTraceparent(value: string | string[] | null | undefined): string | null {
  return parseTraceparent(value) ? (value as string).trim() : null;
}

/** The context of a remote parent given as `traceparent` (and `tracestate`), or the root. */
export function parentContext(
  traceparent: string | string[] | null | undefined,
  tracestate?: string | string[] | null,
): Context {
  const sc = parseTraceparent(traceparent);
  if (!sc) return ROOT_CONTEXT;
  const state = Array.isArray(tracestate) ? tracestate.join(',') : tracestate;
  if (state) sc.traceState = createTraceState(state);
  return trace.setSpanContext(ROOT_CONTEXT, sc);
}

/** The W3C `traceparent` that makes the receiver's spans children of `span`. */
export function traceparentOf(span: Span): string {
  const sc = span.spanContext();
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Marks a span as failed with this error. */
export function spanFailed(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
  // A coded error (HooklineError) names its code and the status the client gets.
  const { code, status } = err as { code?: unknown; status?: unknown };
  if (typeof code === 'string') span.setAttribute('error.type', code);
  if (typeof status === 'number') span.setAttribute('http.response.status_code', status);
}

/**
 * Runs `fn` in a span named `name`, a child of the request's `traceparent` (and `tracestate`).
 * `fn` gets the trace context to store (the span's `traceparent`; off: the request's own, if
 * valid) and the span (off: null). The span ends when `fn` settles.
 */
export async function inSpan<T>(
  tracing: Tracing | undefined,
  name: string,
  kind: SpanKind,
  headers: NodeJS.Dict<string | string[]>,
  attributes: () => Attributes,
  fn: (traceparent: string | null, span: Span | null) => Promise<T>,
): Promise<T> {
  if (!tracing?.enabled) return fn(validTraceparent(headers.traceparent), null);
  const span = tracing.tracer.startSpan(
    name,
    { kind },
    parentContext(headers.traceparent, headers.tracestate),
  );
  if (span.isRecording()) span.setAttributes(attributes());
  try {
    return await fn(traceparentOf(span), span);
  } catch (err) {
    spanFailed(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** A URL as a span shows it: no user name or password, query values replaced. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    let out = `${u.protocol}//${u.host}${u.pathname}`;
    if (u.search) out += `?${[...u.searchParams.keys()].map((k) => `${k}=REDACTED`).join('&')}`;
    return out;
  } catch {
    return '';
  }
}
