/**
 * Limits on what a client may send before any route runs: how long it may take (a client
 * trickling a body byte by byte must not hold a socket forever), how deeply its JSON may nest
 * (JSON.parse reads 10,000 levels, but JSON.stringify, Ajv and the template engine recurse and
 * would overflow the stack), and which date-times are real instants.
 */
import type { Socket } from 'node:net';
import type { Format } from 'ajv';
import type { FastifyRequest } from 'fastify';
import type { HooklineConfig } from '../config.ts';
import { type ErrorCode, HooklineError, type ValidationIssue } from '../core/errors.ts';

/**
 * Deepest nesting of arrays and objects a JSON body may have. Real payloads stay far below it;
 * serde_json (and so Svix) stops at 128 as well.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * True when `text` nests arrays and objects deeper than `max`. One pass over the characters,
 * skipping strings, so it costs less than parsing and never recurses.
 */
export function jsonNestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

type JsonParser = (
  request: FastifyRequest,
  body: string,
  done: (err: Error | null, body?: unknown) => void,
) => void;

/** Fastify's own JSON parser (with its `__proto__` checks), behind the depth check. */
export function depthLimitedJsonParser(parse: JsonParser, max = MAX_JSON_DEPTH): JsonParser {
  return (request, body, done) => {
    if (jsonNestedDeeperThan(body, max)) {
      done(
        new HooklineError(
          'json_too_deep',
          `the JSON body nests arrays and objects more than ${max} levels deep; flatten it`,
        ),
      );
      return;
    }
    parse(request, body, done);
  };
}

/**
 * Node's HTTP server timeouts from the configuration. Node checks for expired requests every
 * `connectionsCheckingInterval` (30 s by default); checking more often keeps the limits close
 * to what is configured, at the cost of a walk over open connections.
 */
export function httpServerOptions(http: HooklineConfig['http']) {
  return {
    requestTimeout: http.requestTimeoutMs,
    headersTimeout: http.headersTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(
      100,
      Math.min(1_000, Math.floor(Math.min(http.requestTimeoutMs, http.headersTimeoutMs) / 4)),
    ),
  };
}

/** Writes a coded error straight to a socket the HTTP parser gave up on. */
function writeRaw(socket: Socket, status: number, reason: string, code: ErrorCode, detail: string) {
  if (!socket.writable) return;
  const body = JSON.stringify({ code, detail });
  socket.write(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (a request that took too long,
 * headers too large, bytes that are not HTTP), answered in Hookline's `{code, detail}` form.
 */
export function clientErrorHandler(http: HooklineConfig['http']) {
  return (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      writeRaw(
        socket,
        408,
        'Request Timeout',
        'request_timeout',
        `the request was not received within ${http.requestTimeoutMs / 1000} s (headers within ${http.headersTimeoutMs / 1000} s); send it at once, or put a buffering proxy in front of Hookline`,
      );
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      writeRaw(
        socket,
        431,
        'Request Header Fields Too Large',
        'headers_too_large',
        'the request headers are too large',
      );
    } else {
      writeRaw(socket, 400, 'Bad Request', 'generic_error', 'the request is not valid HTTP');
    }
    socket.destroy();
  };
}

/**
 * `date-time` narrowed to what the API can use: an RFC 3339 date-time that names an instant.
 * RFC 3339 allows a leap second (`23:59:60`), which JavaScript dates (like PostgreSQL's) cannot
 * hold: it would become NaN further in. Such a value is refused with a 422 like any bad date.
 */
export function instantFormat(rfc3339: Format | undefined): (s: string) => boolean {
  const check =
    typeof rfc3339 === 'function'
      ? rfc3339
      : rfc3339 instanceof RegExp
        ? (s: string) => rfc3339.test(s)
        : typeof rfc3339 === 'object' && typeof rfc3339.validate === 'function'
          ? (rfc3339.validate as (s: string) => boolean)
          : () => true;
  return (s) => check(s) === true && Number.isFinite(Date.parse(s));
}

/**
 * Where a request carries the NUL character (U+0000), as 422 issues: PostgreSQL text cannot hold
 * it (every lookup or write with one failed there), and no id, name or URL has a use for it.
 * A message's `payload` is stored as JSON text, where NUL stays escaped: it keeps it.
 */
export function nulIssues(request: Pick<FastifyRequest, 'params' | 'query' | 'body'>): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const walk = (value: unknown, loc: (string | number)[]) => {
    if (issues.length >= 10) return;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) issues.push({ loc, msg: NUL_MESSAGE, type: 'value_error.nul' });
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) walk(value[i], [...loc, i]);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (loc.length === 1 && loc[0] === 'body' && k === 'payload') continue;
        if (k.includes('\u0000'))
          issues.push({ loc: [...loc, k], msg: NUL_MESSAGE, type: 'value_error.nul' });
        walk(v, [...loc, k]);
      }
    }
  };
  walk(request.params, ['path']);
  walk(request.query, ['query']);
  walk(request.body, ['body']);
  return issues;
}

const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';

/** A `preValidation` hook: refuses a request with NUL outside a message payload (see `nulIssues`). */
export async function refuseNul(request: FastifyRequest): Promise<void> {
  const issues = nulIssues(request);
  if (issues.length > 0) throw new HooklineError('validation', NUL_MESSAGE, issues);
}
