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
 * unchanged, so the receiver's own tracing still links to the caller's.
 */
import {
  type Attributes,
  type Context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { parseTraceParent, TraceState } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider as SdkTracerProvider } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

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
export function createTracing(options: {
  provider?: TracerProvider | undefined;
  env?: NodeJS.ProcessEnv;
  version: string;
}): Tracing {
  if (options.provider) {
    return {
      enabled: true,
      tracer: options.provider.getTracer('hookline', options.version),
      shutdown: async () => {},
    };
  }
  const env = options.env ?? process.env;
  if (!tracingRequested(env)) return DISABLED;
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override these.
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: 'hookline',
    [ATTR_SERVICE_VERSION]: options.version,
  }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new SdkTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
  });
  return {
    enabled: true,
    tracer: provider.getTracer('hookline', options.version),
    shutdown: () => provider.shutdown().catch(() => {}),
  };
}

/** A `traceparent` header value, if it is a valid one (else null). */
export function validTraceparent(value: string | string[] | null | undefined): string | null {
  if (typeof value !== 'string' || value.length > 512) return null;
  const sc = parseTraceParent(value.trim());
  return sc && isSpanContextValid(sc) ? value.trim() : null;
}

/** The context of a remote parent given as `traceparent` (and `tracestate`), or the root. */
export function parentContext(
  traceparent: string | string[] | null | undefined,
  tracestate?: string | string[] | null,
): Context {
  if (typeof traceparent !== 'string') return ROOT_CONTEXT;
  const sc = parseTraceParent(traceparent.trim());
  if (!sc || !isSpanContextValid(sc)) return ROOT_CONTEXT;
  sc.isRemote = true;
  const state = Array.isArray(tracestate) ? tracestate.join(',') : tracestate;
  if (state) sc.traceState = new TraceState(state);
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
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') span.setAttribute('error.type', code);
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
