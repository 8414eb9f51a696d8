/**
 * `hookline tail`: delivery attempts as they happen, one line each, like `tail -f`.
 *
 * It polls the public attempts API (`/attempt/endpoint/{id}`, oldest first, from a keyset
 * cursor), so it sees attempts made by every worker process of the server. Attempt ids sort by
 * the second they were made and are committed a moment later, so each poll reads again from a
 * few seconds back and skips what it has printed: an attempt committed late still shows once.
 *
 * The API lists attempts per endpoint, so tail keeps the application's endpoint list current
 * the same way: each poll first asks for the endpoints created since a few seconds before the
 * last poll (endpoint ids sort by creation time too; usually one request with nothing in it),
 * so an endpoint made while tail runs (`hookline listen` makes one) is followed from the next
 * poll. An endpoint whose attempts answer 404 was deleted and is dropped.
 */
import { idFloor } from '../../core/ids.ts';
import { STATUS_TEXT } from '../../core/types.ts';
import type { Command } from '../command.ts';
import {
  type ApiClient,
  apiClient,
  CliError,
  clockTime,
  EXIT,
  enc,
  listAll,
  paintStatus,
  parseTimeOption,
  pause,
  printJson,
  SERVER_OPTIONS,
  usageError,
} from '../shared.ts';

/** How far back each poll reads again, for attempts committed after later ones were seen. */
const OVERLAP_MS = 5_000;
const STATUS: Record<string, number> = { success: 0, fail: 2, failed: 2 };

interface AttemptOut {
  id: string;
  msgId: string;
  endpointId: string;
  url: string;
  responseStatusCode: number;
  responseDurationMs: number;
  status: number;
  timestamp: string;
  triggerType: number;
  msg?: { eventType: string };
}

export const tail: Command = {
  name: 'tail',
  summary: 'Follow delivery attempts live, one line each (filters: app, endpoint, status)',
  usage: 'hookline tail --app ID [--endpoint ID] [--status success|fail] [--since 10m]',
  details:
    'Prints time, HTTP status, event type, message id, endpoint, duration and trigger for each attempt.\nStops on Ctrl-C. With --json, one attempt object per line.',
  maxPositionals: 0,
  options: {
    app: { type: 'string', valueName: 'ID', description: 'Application id or uid (required)' },
    endpoint: { type: 'string', valueName: 'ID', description: 'Only attempts to this endpoint' },
    status: { type: 'string', valueName: 'success|fail', description: 'Only successful or failed attempts' },
    since: {
      type: 'string',
      valueName: 'TIME',
      description: 'Start with attempts since then (30m, 2h, or a time); default now',
    },
    interval: { type: 'string', valueName: 'SECONDS', description: 'Seconds between polls (default 1)' },
    ...SERVER_OPTIONS,
  },
  examples: [
    'hookline tail --app my-customer',
    'hookline tail --app my-customer --endpoint ep_2b... --status fail --since 1h',
    'hookline tail --app my-customer --json | jq .responseStatusCode',
  ],
  async run({ values, io }) {
    const app = values.app as string | undefined;
    if (!app) throw usageError('tail needs --app ID');
    const status = values.status as string | undefined;
    if (status !== undefined && STATUS[status] === undefined)
      throw usageError('--status must be success or fail');
    const intervalMs = values.interval !== undefined ? Number(values.interval) * 1000 : 1000;
    if (!Number.isFinite(intervalMs) || intervalMs < 100)
      throw usageError('--interval must be at least 0.1 seconds');
    const start = values.since ? parseTimeOption('since', values.since as string) : Date.now();
    const api = apiClient(values as { server?: string; token?: string }, io.env);
    const appOut = await api.request('GET', `/api/v1/app/${enc(app)}`);
    const given = values.endpoint as string | undefined;
    const endpoints = new Set<string>(
      given ? [(await api.request('GET', `/api/v1/app/${enc(app)}/endpoint/${enc(given)}`)).id] : [],
    );
    /** When the endpoint list was last brought up to date (0: never; the first look reads all). */
    let endpointsAt = 0;
    const seen = new Map<string, number>();
    if (!io.json)
      io.err(
        io.c.dim(
          `following attempts of ${appOut.id}${given ? ` to ${[...endpoints][0]}` : ''}; Ctrl-C stops`,
        ),
      );

    /** When the last poll that reached the server started: the next one reads from a little before. */
    let polledAt = start;
    let outage = false;
    while (!io.signal.aborted) {
      const now = Date.now();
      const fresh: AttemptOut[] = [];
      try {
        if (!given) {
          for (const id of await endpointsSince(api, appOut.id, endpointsAt)) endpoints.add(id);
          endpointsAt = now;
        }
        const cursor = idFloor('attempt', Math.max(start, polledAt - OVERLAP_MS) - 1000);
        for (const ep of endpoints) {
          const q = `order=ascending&with_msg=true&with_content=false${status ? `&status=${STATUS[status]}` : ''}`;
          let iterator = cursor;
          for (;;) {
            let page: { data: AttemptOut[]; iterator: string; done: boolean };
            try {
              page = await api.request(
                'GET',
                `/api/v1/app/${enc(appOut.id)}/attempt/endpoint/${enc(ep)}?${q}&limit=250&iterator=${enc(iterator)}`,
              );
            } catch (err) {
              // Deleted while we follow it: nothing more will come from it.
              if (!given && err instanceof CliError && / failed: 404 /.test(err.message)) {
                endpoints.delete(ep);
                break;
              }
              throw err;
            }
            for (const a of page.data) {
              if (seen.has(a.id) || Date.parse(a.timestamp) < start) continue;
              seen.set(a.id, now);
              fresh.push(a);
            }
            if (page.done || page.data.length === 0) break;
            iterator = page.iterator;
          }
        }
        polledAt = now;
        if (outage) io.err(io.c.green('server is back; following again'));
        outage = false;
      } catch (err) {
        // Like `tail -f` across a log rotation: a server restart does not end the command.
        if (
          !(err instanceof CliError) ||
          err.exitCode !== EXIT.unreachable ||
          /rejected the token/.test(err.message)
        ) {
          throw err;
        }
        if (!outage) io.err(io.c.yellow(`${err.message}; retrying...`));
        outage = true;
      }
      fresh.sort((a, b) => (a.id < b.id ? -1 : 1));
      for (const a of fresh) {
        if (io.json) printJson(io, a);
        else {
          io.out(
            [
              io.c.dim(clockTime(Date.parse(a.timestamp))),
              paintStatus(io.c, a.responseStatusCode).padEnd(3),
              io.c.bold(a.msg?.eventType ?? '?'),
              a.msgId,
              io.c.dim(`-> ${a.endpointId}`),
              `${a.responseDurationMs} ms`,
              a.status === 0 ? '' : io.c.red(STATUS_TEXT[a.status] ?? ''),
              a.triggerType === 1 ? io.c.cyan('manual') : '',
            ]
              .filter(Boolean)
              .join('  '),
          );
        }
      }
      for (const [id, at] of seen) if (at < polledAt - OVERLAP_MS * 2) seen.delete(id);
      await pause(intervalMs, io.signal);
    }
    return 0;
  },
};

/**
 * Ids of the application's endpoints created since `sinceMs` (a few seconds earlier, for
 * endpoints committed a moment after their id was made), or all of them when `sinceMs` is 0.
 */
async function endpointsSince(api: ApiClient, appId: string, sinceMs: number): Promise<string[]> {
  const path = `/api/v1/app/${enc(appId)}/endpoint?order=ascending`;
  if (sinceMs === 0) return (await listAll<{ id: string }>(api, path)).map((e) => e.id);
  const ids: string[] = [];
  let iterator = idFloor('endpoint', sinceMs - OVERLAP_MS - 1000);
  for (;;) {
    const page = await api.request<{ data: { id: string }[]; iterator: string; done: boolean }>(
      'GET',
      `${path}&limit=250&iterator=${enc(iterator)}`,
    );
    ids.push(...page.data.map((e) => e.id));
    if (page.done || page.data.length === 0) return ids;
    iterator = page.iterator;
  }
}
