/**
 * Makes the HTTP request of one attempt. One undici Agent keeps pooled keep-alive connections
 * per endpoint origin; redirects are never followed (a 3xx is a failed attempt, as in Svix);
 * the response body is read up to a limit and the rest is dropped.
 *
 * Endpoints with a client certificate or a CA of their own get an Agent of their own (TLS
 * options are per connection); every other endpoint shares the one Agent. Endpoints with OAuth
 * get a bearer token from their token URL, kept until it expires and fetched again once when
 * the endpoint answers 401 (the request is then repeated in the same attempt).
 */

import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher, errors as undiciErrors } from 'undici';
import type { EndpointOauth } from '../core/types.ts';
import { guardedLookup, isPrivateAddress } from './ssrf.ts';

export interface SenderOptions {
  allowPrivateNetworks: boolean;
  connectTimeoutMs: number;
  /** Whole request, from connect to the last byte of the (truncated) response. */
  timeoutMs: number;
  /** Bytes of response body kept for the attempt log. */
  maxResponseBytes: number;
  userAgent: string;
}

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  /** Bytes for forwarded inbound events (binary-safe), JSON text otherwise. */
  body: string | Buffer;
  /** The body is built for this attempt (a rendered chat message): the attempt log keeps it. */
  logBody?: boolean;
  /** Set when the request could not be built (a chat template failed): it is not sent. */
  failure?: string;
  /** This endpoint's own timeout (`Endpoint.timeoutMs`), instead of the sender's. */
  timeoutMs?: number;
  /** The endpoint, when known: lets the sender drop what it kept for it (its own TLS Agent). */
  endpointId?: string;
  /** Set with `failure` when the endpoint's transformation canceled the delivery. */
  canceled?: boolean;
  /** POST unless a transformation chose another method. */
  method?: string;
  /**
   * A client certificate and/or CA for this endpoint: its requests use an Agent of its own,
   * rebuilt when `version` changes.
   */
  tls?: { endpointId: string; version: number; cert?: string; key?: string; ca?: string };
  /** OAuth client credentials: a bearer token is fetched (and cached per endpoint and version). */
  oauth?: { endpointId: string; version: number; config: EndpointOauth };
}

export type SendResult =
  | { ok: true; statusCode: number; headers: Record<string, string>; body: string; durationMs: number }
  | { ok: false; error: SendErrorKind; message: string; durationMs: number };

export type SendErrorKind =
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns'
  | 'private_address'
  /** The request could not be built (`SendRequest.failure`); nothing was sent. */
  | 'not_sent'
  /** No OAuth token could be had from the endpoint's token URL; nothing was sent. */
  | 'oauth'
  | 'other';

export interface Sender {
  send(req: SendRequest): Promise<SendResult>;
  close(): Promise<void>;
}

/** The deadline of an exchange passed. */
class DeadlineError extends Error {
  constructor() {
    super('the exchange did not finish within its timeout');
  }
}

function classify(err: unknown): { error: SendErrorKind; message: string } {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.code ?? e.cause?.code;
  if (
    e instanceof DeadlineError ||
    e instanceof undiciErrors.HeadersTimeoutError ||
    e instanceof undiciErrors.BodyTimeoutError
  ) {
    return { error: 'timeout', message: 'timed out waiting for the endpoint' };
  }
  if (e instanceof undiciErrors.ConnectTimeoutError)
    return { error: 'timeout', message: 'timed out connecting' };
  if (code === 'EPRIVATEADDRESS') return { error: 'private_address', message: e.message };
  if (code === 'ECONNREFUSED') return { error: 'connection_refused', message: 'connection refused' };
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
    return { error: 'connection_reset', message: 'connection reset by the endpoint' };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return { error: 'dns', message: `DNS lookup failed (${code})` };
  return { error: 'other', message: e.message || String(err) };
}

/** Most bytes of a token response read. */
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** A token is dropped this long before it expires, so it is not used as it runs out. */
const TOKEN_EXPIRY_MARGIN_MS = 30_000;

interface CachedToken {
  version: number;
  token: string;
  /** Null when the token URL gave no `expires_in`: kept until the endpoint answers 401. */
  expiresAt: number | null;
}

class OauthError extends Error {}

/** Refuses an IP literal in the private ranges (names are checked by the Agent's lookup). */
function privateLiteral(url: URL, allowPrivate: boolean): string | null {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return !allowPrivate && isIP(host) && isPrivateAddress(host) ? host : null;
}

/** What `exchange` read of an answer. */
interface Answer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** At most `maxBytes` of the body. */
  body: Buffer;
  /** The body was longer than `maxBytes`: the rest was not read, and the connection dropped. */
  overflow: boolean;
}

/**
 * One HTTP exchange through undici's dispatcher interface, done within `timeoutMs` from now
 * (connect, headers, body): the answer's status, headers and up to `maxBytes` of its body, or
 * the error (a `DeadlineError` when the deadline passed). A request still waiting for a
 * connection at the deadline is aborted when it would start, so it is never sent late.
 *
 * Not undici's `request()`: its response stream and handler (an `AsyncResource`) kept a few
 * kilobytes of every exchange alive through the next young-generation collection, which then
 * copied and promoted them — ~4 MB per collection at 1,000 deliveries/s, a 10-20 ms pause each,
 * and old-generation garbage until the next full collection (docs/benchmarks.md).
 */
function exchange(
  via: Dispatcher,
  url: URL,
  init: {
    method: string;
    headers: Record<string, string>;
    body: string | Buffer | null;
    timeoutMs: number;
    maxBytes: number;
  },
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | null = null;
    let settled = false;
    let statusCode = 0;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err: unknown, answer?: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (answer) resolve(answer);
      else reject(err);
    };
    const answer = (overflow: boolean): Answer => ({
      statusCode,
      headers,
      body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
      overflow,
    });
    const timer = setTimeout(() => {
      const err = new DeadlineError();
      controller?.abort(err);
      settle(err);
    }, init.timeoutMs);
    timer.unref();
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        // The deadline passed while it waited for a connection, or the answer is in already.
        if (settled) c.abort(new DeadlineError());
      },
      onResponseStart(_c, status, h) {
        // 1xx (informational) answers come before the final one.
        if (status < 200) return;
        statusCode = status;
        headers = h;
      },
      onResponseData(c, chunk) {
        const room = init.maxBytes - size;
        if (chunk.length <= room) {
          chunks.push(chunk);
          size += chunk.length;
          return;
        }
        if (room > 0) chunks.push(chunk.subarray(0, room));
        size = init.maxBytes;
        settle(null, answer(true));
        c.abort(new Error('the response body is longer than what is kept of it'));
      },
      onResponseEnd() {
        settle(null, answer(false));
      },
      onResponseError(_c, err) {
        settle(err);
      },
    };
    try {
      via.dispatch(
        {
          origin: url.origin,
          path: url.pathname + url.search,
          method: init.method as Dispatcher.HttpMethod,
          headers: init.headers,
          body: init.body,
          headersTimeout: init.timeoutMs,
          bodyTimeout: init.timeoutMs,
        },
        handler,
      );
    } catch (err) {
      settle(err);
    }
  });
}

export function createSender(options: SenderOptions): Sender {
  const agent = new Agent({
    connect: {
      timeout: options.connectTimeoutMs,
      ...(options.allowPrivateNetworks ? {} : { lookup: guardedLookup }),
    },
    keepAliveTimeout: 30_000,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connections: 64,
  });

  /** Agents of endpoints with their own TLS settings, by endpoint id. */
  const tlsAgents = new Map<string, { version: number; agent: Agent }>();
  const tokens = new Map<string, CachedToken>();
  const tokenRequests = new Map<string, Promise<CachedToken>>();

  function dispatcherFor(req: SendRequest): Dispatcher {
    const tls = req.tls;
    if (!tls) {
      // An endpoint whose certificate or CA was removed: its own Agent goes (checked only while
      // some endpoint has one).
      if (tlsAgents.size > 0 && req.endpointId !== undefined) {
        const old = tlsAgents.get(req.endpointId);
        if (old) {
          tlsAgents.delete(req.endpointId);
          void old.agent.close().catch(() => {});
        }
      }
      return agent;
    }
    const known = tlsAgents.get(tls.endpointId);
    if (known?.version === tls.version) return known.agent;
    // Requests still using the old Agent finish; it closes after them.
    if (known) void known.agent.close().catch(() => {});
    const own = new Agent({
      connect: {
        timeout: options.connectTimeoutMs,
        ...(options.allowPrivateNetworks ? {} : { lookup: guardedLookup }),
        ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
        // The endpoint's CA is trusted on top of the system's, not instead of them.
        ...(tls.ca ? { ca: [...rootCertificates, tls.ca] } : {}),
      },
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connections: 16,
    });
    tlsAgents.set(tls.endpointId, { version: tls.version, agent: own });
    return own;
  }

  async function fetchToken(
    o: NonNullable<SendRequest['oauth']>,
    timeoutMs: number,
    via: Dispatcher,
  ): Promise<CachedToken> {
    const c = o.config;
    const url = new URL(c.tokenUrl);
    const literal = privateLiteral(url, options.allowPrivateNetworks);
    if (literal) throw new OauthError(`refused to connect to a private or reserved address (${literal})`);
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (c.scopes.length > 0) form.set('scope', c.scopes.join(' '));
    for (const [k, v] of Object.entries(c.extraParams)) form.set(k, v);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      'user-agent': options.userAgent,
    };
    if (c.authMethod === 'clientSecretPost') {
      form.set('client_id', c.clientId);
      form.set('client_secret', c.clientSecret);
    } else {
      // RFC 6749 2.3.1: both parts form-encoded before Basic encoding.
      const basic = `${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
    }
    let res: Answer;
    try {
      res = await exchange(via, url, {
        method: 'POST',
        headers,
        body: form.toString(),
        timeoutMs,
        maxBytes: MAX_TOKEN_RESPONSE_BYTES,
      });
    } catch (err) {
      throw new OauthError(classify(err).message);
    }
    if (res.overflow) throw new OauthError('the token response is too large');
    const status = res.statusCode;
    const text = res.body.toString('utf8');
    if (status < 200 || status >= 300) throw new OauthError(`the token URL answered ${status}`);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new OauthError('the token URL did not answer JSON');
    }
    if (typeof body?.access_token !== 'string' || body.access_token === '')
      throw new OauthError('the token response has no access_token');
    if (typeof body.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer')
      throw new OauthError(`the token type is ${body.token_type}, not bearer`);
    const expiresIn = Number(body.expires_in);
    const lifetimeMs = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : null;
    return {
      version: o.version,
      token: body.access_token,
      expiresAt:
        lifetimeMs === null
          ? null
          : Date.now() + Math.max(lifetimeMs - TOKEN_EXPIRY_MARGIN_MS, lifetimeMs / 2),
    };
  }

  /** A token for this endpoint: the cached one while valid, else one fetch shared by all callers. */
  function tokenFor(
    o: NonNullable<SendRequest['oauth']>,
    timeoutMs: number,
    fresh: boolean,
    via: Dispatcher,
  ) {
    const cached = tokens.get(o.endpointId);
    if (
      !fresh &&
      cached?.version === o.version &&
      (cached.expiresAt === null || cached.expiresAt > Date.now())
    )
      return Promise.resolve(cached);
    const pending = tokenRequests.get(o.endpointId);
    if (pending && !fresh) return pending;
    const p = fetchToken(o, timeoutMs, via)
      .then((t) => {
        tokens.set(o.endpointId, t);
        return t;
      })
      .finally(() => {
        if (tokenRequests.get(o.endpointId) === p) tokenRequests.delete(o.endpointId);
      });
    tokenRequests.set(o.endpointId, p);
    return p;
  }

  return {
    async send(req) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      const url = new URL(req.url);
      // IP literals never go through DNS, so the lookup guard would not see them.
      const literal = privateLiteral(url, options.allowPrivateNetworks);
      if (literal) {
        return {
          ok: false,
          error: 'private_address',
          message: `refused to connect to a private or reserved address (${literal})`,
          durationMs: 0,
        };
      }
      const timeoutMs = req.timeoutMs ?? options.timeoutMs;
      const oauth = req.oauth;
      // The token URL is reached like the endpoint: with its client certificate and CA, if any
      // (OAuth servers that bind tokens to the certificate, RFC 8705, or sit on the same private PKI).
      const dispatcher = dispatcherFor(req);
      let token: CachedToken | null = null;
      if (oauth) {
        try {
          token = await tokenFor(oauth, timeoutMs, false, dispatcher);
        } catch (err) {
          return {
            ok: false,
            error: 'oauth',
            message: `OAuth token request failed: ${(err as Error).message}`,
            durationMs: elapsed(),
          };
        }
      }
      // One deadline for the request to the endpoint, and its repetition after a 401.
      const deadline = performance.now() + timeoutMs;
      const send = (bearer: string | null) =>
        exchange(dispatcher, url, {
          method: req.method ?? 'POST',
          // A forwarded inbound event keeps the provider's User-Agent; everything else is Hookline's.
          headers: {
            'user-agent': options.userAgent,
            ...req.headers,
            ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }),
          },
          body: req.method === 'GET' || req.method === 'HEAD' ? null : req.body,
          // The whole exchange (connect, headers, body) within the timeout.
          // Whole milliseconds (the first request gets the endpoint's timeout exactly).
          timeoutMs: Math.max(0, Math.ceil(deadline - performance.now())),
          maxBytes: options.maxResponseBytes,
        });
      try {
        let res = await send(token?.token ?? null);
        if (oauth && res.statusCode === 401) {
          // The token may have been revoked or expired early: fetch a new one, try once more.
          tokens.delete(oauth.endpointId);
          try {
            token = await tokenFor(oauth, timeoutMs, true, dispatcher);
          } catch (err) {
            return {
              ok: false,
              error: 'oauth',
              message: `the endpoint answered 401 and a new OAuth token could not be had: ${(err as Error).message}`,
              durationMs: elapsed(),
            };
          }
          res = await send(token.token);
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        }
        return {
          ok: true,
          statusCode: res.statusCode,
          headers,
          body: res.body.toString('utf8'),
          durationMs: elapsed(),
        };
      } catch (err) {
        return { ok: false, ...classify(err), durationMs: elapsed() };
      }
    },
    async close() {
      await Promise.all([agent.close(), ...[...tlsAgents.values()].map((a) => a.agent.close())]);
    },
  };
}
