/**
 * Makes the HTTP request of one attempt. One undici Agent keeps pooled keep-alive connections
 * per endpoint origin; redirects are never followed (a 3xx is a failed attempt, as in Svix);
 * the response body is read up to a limit and the rest is dropped.
 */
import { isIP } from 'node:net';
import { Agent, request, errors as undiciErrors } from 'undici';
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
  | 'other';

export interface Sender {
  send(req: SendRequest): Promise<SendResult>;
  close(): Promise<void>;
}

function classify(err: unknown, timedOut: boolean): { error: SendErrorKind; message: string } {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.code ?? e.cause?.code;
  if (
    timedOut ||
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

  return {
    async send(req) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      const url = new URL(req.url);
      const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      // IP literals never go through DNS, so the lookup guard would not see them.
      if (!options.allowPrivateNetworks && isIP(host) && isPrivateAddress(host)) {
        return {
          ok: false,
          error: 'private_address',
          message: `refused to connect to a private or reserved address (${host})`,
          durationMs: 0,
        };
      }
      const timeoutMs = req.timeoutMs ?? options.timeoutMs;
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const res = await request(url, {
          method: 'POST',
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          // A forwarded inbound event keeps the provider's User-Agent; everything else is Hookline's.
          headers: { 'user-agent': options.userAgent, ...req.headers },
          body: req.body,
          dispatcher: agent,
          signal,
        });
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res.body) {
          const buf = chunk as Buffer;
          const room = options.maxResponseBytes - size;
          chunks.push(room < buf.length ? buf.subarray(0, room) : buf);
          size += Math.min(room, buf.length);
          if (size >= options.maxResponseBytes) {
            res.body.destroy();
            break;
          }
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        }
        return {
          ok: true,
          statusCode: res.statusCode,
          headers,
          body: Buffer.concat(chunks).toString('utf8'),
          durationMs: elapsed(),
        };
      } catch (err) {
        return { ok: false, ...classify(err, signal.aborted), durationMs: elapsed() };
      }
    },
    close: () => agent.close(),
  };
}
