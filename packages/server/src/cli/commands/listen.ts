/**
 * `hookline listen`: webhooks to a laptop with no public address. The CLI makes (or reuses) a
 * `listen` endpoint on the server and holds an outbound WebSocket to it; the server pushes each
 * delivery as the exact signed request, the CLI POSTs it byte-for-byte to the local URL and
 * reports the answer, which the server records like any attempt (with retries on failure).
 *
 * While the CLI is away (laptop asleep, network down) deliveries wait in the server's queue; on
 * reconnect they arrive in order and the CLI says how many it caught up on.
 */
import { hostname } from 'node:os';
import WebSocket from 'ws';
import type { ListenResult, ListenServerMessage } from '../../delivery/listen-hub.ts';
import { VERSION } from '../../hookline.ts';
import type { Command } from '../command.ts';
import {
  type ApiClient,
  apiClient,
  CliError,
  causeOf,
  clockTime,
  EXIT,
  enc,
  type Io,
  paintStatus,
  pause,
  printJson,
  SERVER_OPTIONS,
  usageError,
} from '../shared.ts';

/** A silent server for this long means the connection is dead (it pings every 15 s). */
const DEAD_AFTER_MS = 40_000;
const MAX_BACKOFF_MS = 10_000;
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Close code the server uses when a newer connection for the same endpoint replaced this one. */
const REPLACED = 4000;

interface EndpointOut {
  id: string;
  uid: string | null;
  url: string;
  kind?: string;
  disabled?: boolean;
  filterTypes: string[] | null;
  updatedAt?: string;
}

/** The HTTP status of a failed API call (the client puts it in the message). */
const statusOf = (err: unknown): number | null =>
  err instanceof CliError ? Number(/ failed: (\d{3}) /.exec(err.message)?.[1] ?? Number.NaN) || null : null;

/**
 * Finds the listen endpoint named `uid` or makes it; keeps its URL and event filter up to date,
 * and enables it again when it was disabled (paused after the CLI was gone too long, or by hand):
 * running `hookline listen` asks for its deliveries.
 */
async function ensureEndpoint(
  api: ApiClient,
  app: string,
  uid: string,
  forwardTo: string,
  events: string[] | null,
): Promise<{ endpoint: EndpointOut; created: boolean; reenabled: EndpointOut | null }> {
  const base = `/api/v1/app/${enc(app)}/endpoint`;
  let existing: EndpointOut | null = null;
  try {
    existing = await api.request<EndpointOut>('GET', `${base}/${enc(uid)}`);
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
  if (!existing) {
    try {
      const endpoint = await api.request<EndpointOut>('POST', base, {
        url: forwardTo,
        uid,
        kind: 'listen',
        description: `hookline listen on ${hostname()}`,
        ...(events ? { filterTypes: events } : {}),
      });
      return { endpoint, created: true, reenabled: null };
    } catch (err) {
      // Listen endpoints are hidden from application tokens: the name is taken by one we cannot
      // read, so it is a listen endpoint (any other kind would have been found above).
      if (statusOf(err) !== 409) throw err;
    }
  } else if (existing.kind !== 'listen') {
    throw usageError(`endpoint "${uid}" exists and is not a listen endpoint; choose another --name`);
  }
  const sameEvents = existing && JSON.stringify(existing.filterTypes ?? null) === JSON.stringify(events);
  if (existing && existing.url === forwardTo && sameEvents && !existing.disabled)
    return { endpoint: existing, created: false, reenabled: null };
  const endpoint = await api.request<EndpointOut>('PATCH', `${base}/${enc(existing?.id ?? uid)}`, {
    url: forwardTo,
    filterTypes: events,
    disabled: false,
  });
  if (endpoint.kind !== 'listen')
    throw usageError(`endpoint "${uid}" exists and is not a listen endpoint; choose another --name`);
  return { endpoint, created: false, reenabled: existing?.disabled ? existing : null };
}

/** POSTs one delivery to the local URL with its exact headers and body. */
async function forward(
  url: string,
  msg: Extract<ListenServerMessage, { type: 'delivery' }>,
  timeoutMs: number,
): Promise<ListenResult> {
  const started = performance.now();
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'user-agent': `Hookline/${VERSION} (hookline listen)`, ...msg.headers },
      body: msg.bodyEncoding === 'base64' ? Buffer.from(msg.body, 'base64') : msg.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.text()).slice(0, MAX_RESPONSE_BYTES);
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k] = v;
    });
    return {
      type: 'result',
      deliveryId: msg.deliveryId,
      status: res.status,
      durationMs: Math.round(performance.now() - started),
      headers,
      body,
    };
  } catch (err) {
    return {
      type: 'result',
      deliveryId: msg.deliveryId,
      status: 0,
      durationMs: Math.round(performance.now() - started),
      error: `cannot reach ${url}: ${causeOf(err)}`,
    };
  }
}

export const listen: Command = {
  name: 'listen',
  summary: "Forward an application's webhooks to a local URL over an outbound connection",
  usage: 'hookline listen --forward-to URL --app ID [--name NAME] [--events TYPES]',
  details: `Creates (or reuses) an endpoint of kind "listen" named by --name in the application and
streams its deliveries here; your machine needs no public address. Each delivery is POSTed to
--forward-to with the exact body and signed headers; its outcome (status, latency) is recorded
on the server, and failures are retried on the production schedule. While listen is not running,
deliveries wait on the server; when it reconnects they arrive in order. After a day away (the
server's HOOKLINE_LISTEN_ENDPOINT_TTL) the endpoint is paused; the next listen enables it again.
Verify signatures in your app with the signing secret printed at start. Stop with Ctrl-C.`,
  maxPositionals: 0,
  options: {
    'forward-to': {
      type: 'string',
      valueName: 'URL',
      description: 'Local URL to POST each webhook to (required)',
    },
    app: { type: 'string', valueName: 'ID', description: 'Application id or uid (required)' },
    name: {
      type: 'string',
      valueName: 'NAME',
      description: 'Name (uid) of the listen endpoint; default listen-<hostname>',
    },
    events: { type: 'string', valueName: 'TYPES', description: 'Only these event types (comma-separated)' },
    ...SERVER_OPTIONS,
  },
  examples: [
    'hookline listen --forward-to http://localhost:3000/webhooks --app my-customer',
    'hookline listen --forward-to http://localhost:3000/hooks --app app_2b... --name ci-laptop --events invoice.paid,invoice.failed',
    'hookline listen --forward-to http://localhost:3000/webhooks --app my-customer --json',
  ],
  async run({ values, io }) {
    const forwardTo = values['forward-to'] as string | undefined;
    const app = values.app as string | undefined;
    if (!forwardTo) throw usageError('listen needs --forward-to URL (your local webhook handler)');
    if (!/^https?:\/\/[^/]/.test(forwardTo))
      throw usageError('--forward-to must be an http:// or https:// URL');
    if (!app) throw usageError('listen needs --app ID');
    const name =
      (values.name as string | undefined) ?? `listen-${hostname().replace(/[^a-zA-Z0-9\-_.]/g, '-')}`;
    if (!/^[a-zA-Z0-9\-_.]{1,256}$/.test(name)) throw usageError('--name may use letters, digits, - _ and .');
    const events = values.events
      ? String(values.events)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : null;
    const api = apiClient(values as { server?: string; token?: string }, io.env);
    const { endpoint, created, reenabled } = await ensureEndpoint(api, app, name, forwardTo, events);
    const appId = (await api.request<{ id: string }>('GET', `/api/v1/app/${enc(app)}`)).id;
    const secret = (
      await api.request<{ key: string }>(
        'GET',
        `/api/v1/app/${enc(appId)}/endpoint/${enc(endpoint.id)}/secret`,
      )
    ).key;
    // Events published while it was disabled were not kept for it: say since when, so that
    // `hookline replay` can send them (a paused endpoint keeps its last-seen time as `updatedAt`).
    const missedSince = reenabled?.updatedAt ?? null;
    const info = {
      type: 'ready',
      endpointId: endpoint.id,
      name,
      created,
      reenabled: reenabled !== null,
      ...(missedSince ? { missedSince } : {}),
      forwardTo,
      secret,
    };
    if (io.json) printJson(io, info);
    else {
      io.err(
        `${created ? 'Created' : 'Using'} listen endpoint ${io.c.bold(endpoint.id)} (${name}) in ${appId}`,
      );
      if (reenabled) {
        io.err(
          io.c.yellow(
            `It was disabled (paused after hookline listen had been gone too long, or by hand) and is enabled again. Events published since ${missedSince ?? 'then'} were not kept for it; to get them: hookline replay --app ${app} --endpoint ${endpoint.id} --since ${missedSince ?? '1d'}`,
          ),
        );
      }
      io.err(`Signing secret: ${io.c.bold(secret)}  (verify webhook-signature with it)`);
    }
    return session(io, api, appId, endpoint.id, forwardTo);
  },
};

/** Connects, forwards, reconnects; returns when the user stops it. */
async function session(
  io: Io,
  api: ApiClient,
  appId: string,
  endpointId: string,
  forwardTo: string,
): Promise<number> {
  const wsUrl = `${api.base.replace(/^http/, 'ws')}/api/v1/app/${enc(appId)}/endpoint/${enc(endpointId)}/listen`;
  let backoff = 500;
  let everConnected = false;
  while (!io.signal.aborted) {
    const outcome = await connectOnce();
    if (io.signal.aborted) break;
    if (outcome.fatal) {
      io.err(`hookline listen: ${outcome.reason}`);
      return outcome.fatal;
    }
    if (io.json) printJson(io, { type: 'disconnected', reason: outcome.reason, retryInMs: backoff });
    else
      io.err(
        io.c.yellow(
          `connection lost (${outcome.reason}); reconnecting in ${(backoff / 1000).toFixed(1)} s — the server keeps events meanwhile`,
        ),
      );
    await pause(backoff, io.signal);
    backoff = outcome.connected ? 500 : Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
  return EXIT.ok;

  function connectOnce(): Promise<{ reason: string; connected: boolean; fatal?: number }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${api.token}` } });
      let connected = false;
      let backlog = 0;
      let timeoutMs = 15_000;
      let forwarded = 0;
      let queue = Promise.resolve();
      let deadTimer: NodeJS.Timeout | undefined;
      const alive = () => {
        clearTimeout(deadTimer);
        deadTimer = setTimeout(() => ws.terminate(), DEAD_AFTER_MS);
      };
      const onAbort = () => ws.close(1000, 'hookline listen stopped');
      io.signal.addEventListener('abort', onAbort, { once: true });
      let settled = false;
      const finish = (r: { reason: string; connected: boolean; fatal?: number }) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadTimer);
        io.signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      ws.on('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => {
          let detail = text;
          try {
            detail = JSON.parse(text).detail ?? text;
          } catch {}
          const status = res.statusCode ?? 0;
          // A refused token or a wrong endpoint will not get better by retrying.
          const fatal =
            status === 401 ? EXIT.unreachable : status >= 400 && status < 500 ? EXIT.failure : undefined;
          finish({
            reason: `server answered ${status}: ${detail}`,
            connected: false,
            ...(fatal ? { fatal } : {}),
          });
        });
      });
      ws.on('open', () => {
        connected = true;
        everConnected = true;
        alive();
      });
      ws.on('ping', alive);
      ws.on('message', (data) => {
        alive();
        let msg: ListenServerMessage;
        try {
          msg = JSON.parse(String(data)) as ListenServerMessage;
        } catch {
          return;
        }
        if (msg.type === 'error') {
          // The server refused something this CLI sent: a bug worth showing, not worth stopping for.
          if (io.json) printJson(io, { type: 'server-error', code: msg.code, detail: msg.detail });
          else io.err(io.c.red(`server: ${msg.code}: ${msg.detail}`));
          return;
        }
        if (msg.type === 'hello') {
          backlog = msg.backlog;
          timeoutMs = msg.timeoutMs;
          if (io.json) printJson(io, { type: 'connected', endpointId: msg.endpointId, backlog });
          else {
            io.err(
              `${io.c.green('Ready!')} Forwarding to ${io.c.bold(forwardTo)}${backlog > 0 ? ` — catching up on ${backlog} event(s) queued while disconnected` : ''}`,
            );
          }
          return;
        }
        if (msg.type === 'idle') {
          // Sent after everything due has been forwarded: what came before was the catch-up.
          queue = queue.then(() => {
            if (forwarded === 0) return;
            if (io.json) printJson(io, { type: 'caught-up', replayed: forwarded });
            else io.err(`caught up: replayed ${forwarded} event(s) queued while disconnected`);
          });
          return;
        }
        // Newer servers may send messages this version does not know: skip them.
        if (msg.type !== 'delivery') return;
        // One at a time, in the order the server sends them.
        queue = queue.then(async () => {
          const result = await forward(forwardTo, msg, timeoutMs);
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(result));
          forwarded++;
          if (io.json) {
            printJson(io, {
              type: 'forwarded',
              time: new Date().toISOString(),
              eventType: msg.eventType,
              msgId: msg.msgId,
              attempt: msg.attempt,
              status: result.status,
              durationMs: result.durationMs,
              ...(result.error ? { error: result.error } : {}),
            });
          } else {
            io.out(
              [
                io.c.dim(clockTime(Date.now())),
                io.c.bold(msg.eventType),
                msg.msgId,
                '->',
                paintStatus(io.c, result.status),
                `${result.durationMs} ms`,
                msg.attempt > 1 ? io.c.yellow(`attempt ${msg.attempt}`) : '',
                result.error ? io.c.red(result.error) : '',
              ]
                .filter(Boolean)
                .join('  '),
            );
          }
        });
      });
      ws.on('error', (err) => {
        if (!connected && !everConnected && causeOf(err).includes('ECONNREFUSED')) {
          // First connection: say clearly that the server is not there, but keep trying.
          io.err(`cannot reach ${api.base} (${causeOf(err)})`);
        }
      });
      ws.on('close', (code, reason) => {
        // 4000: another `hookline listen` for the same endpoint took over; two would only keep
        // replacing each other, so this one stops.
        finish({
          reason: reason.toString() || `closed (${code})`,
          connected,
          ...(code === REPLACED ? { fatal: EXIT.failure } : {}),
        });
      });
    });
  }
}
