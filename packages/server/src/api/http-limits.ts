/**
 * Limits on what a client may send before any route runs: how long it may take (a client
 * trickling a body byte by byte must not hold a socket forever), how deeply its JSON may nest
 * (JSON.parse reads 10,000 levels, but JSON.stringify, Ajv and the template engine recurse and
 * would overflow the stack), which date-times are real instants, and where a NUL character may
 * appear (nowhere but inside JSON payloads).
 */
import type { Socket } from 'node:net';
import type { Ajv, Format } from 'ajv';
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
 * The NUL character (U+0000). No name, id, filter or text field has a use for it, and
 * PostgreSQL's `text` and `jsonb` cannot hold it (the statement fails): it is refused at the
 * edge, with a 422 that says where. JSON payloads (messages, inbound bodies) may carry `\u0000`:
 * they are stored as JSON text or bytes, which keep it.
 */
const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';
const hasNul = (v: unknown): boolean =>
  typeof v === 'string' ? v.includes('\0') : Array.isArray(v) && v.some(hasNul);

/**
 * An `onRequest` hook for every route (authentication and lookups come after it): refuses a NUL
 * in a path parameter or in a query string name or value. `%00` is the only way one arrives.
 */
export async function refuseNulInUrl(request: FastifyRequest): Promise<void> {
  const issues: ValidationIssue[] = [];
  const parts = [
    ['path', request.params],
    ['query', request.query],
  ] as const;
  for (const [part, values] of parts) {
    if (values === null || typeof values !== 'object') continue;
    for (const [name, value] of Object.entries(values)) {
      if (hasNul(name) || hasNul(value))
        issues.push({ loc: [part, name], msg: `${part} parameter ${NUL_MESSAGE}`, type: 'value_error.nul' });
    }
  }
  if (issues.length > 0) throw new HooklineError('validation', issues[0]!.msg, issues);
}

/** The validation keyword `nul: false` (a string, or the keys of a string map, without NUL). */
export function addNulKeyword(ajv: Ajv): void {
  const check = (refused: boolean, data: unknown): boolean => {
    if (refused !== false) return true;
    const bad = typeof data === 'string' ? data.includes('\0') : Object.keys(data as object).some(hasNul);
    if (bad) {
      const message = typeof data === 'string' ? NUL_MESSAGE : `a key ${NUL_MESSAGE}`;
      (check as { errors?: unknown[] }).errors = [{ keyword: 'nul', message, params: {} }];
    }
    return !bad;
  };
  ajv.addKeyword({
    keyword: 'nul',
    type: ['string', 'object'],
    schemaType: 'boolean',
    errors: true,
    validate: check,
  });
}

const refusesNul = new WeakMap<object, object>();

/**
 * A body schema with `nul: false` on every string it declares, and on every string map (its
 * keys), so NUL is refused in names, descriptions, metadata and the like. Values the schema
 * leaves open (a message payload, a template, event type schemas) are JSON kept as JSON text:
 * they may hold `\u0000`, and keep it. One copy per schema: Ajv keeps compiled schemas by `$id`.
 */
export function refusingNul<T>(schema: T): T {
  if (schema === null || typeof schema !== 'object') return schema;
  const known = refusesNul.get(schema);
  if (known) return known as T;
  const copy = copyRefusingNul(schema);
  refusesNul.set(schema, copy as object);
  return copy;
}

function copyRefusingNul<T>(node: T): T {
  if (Array.isArray(node)) return node.map(copyRefusingNul) as T;
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = copyRefusingNul(v);
  const type = out.type;
  const types = Array.isArray(type) ? type : [type];
  if (types.includes('string')) out.nul = false;
  else if (types.includes('object') && isStringMap(out)) out.nul = false;
  return out as T;
}

/** An object schema whose every value is declared a string (metadata, headers). */
function isStringMap(schema: Record<string, unknown>): boolean {
  const values = [
    ...Object.values((schema.patternProperties as Record<string, unknown>) ?? {}),
    ...(typeof schema.additionalProperties === 'object' ? [schema.additionalProperties] : []),
  ] as Record<string, unknown>[];
  return (
    values.length > 0 &&
    values.every((v) => v && (v.type === 'string' || (Array.isArray(v.type) && v.type.includes('string'))))
  );
}
