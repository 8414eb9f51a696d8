/**
 * `hookline replay`: resend one message, or every message an endpoint subscribes to in a time
 * range. Resends keep the message id (`webhook-id`), so receivers that dedupe still can; each
 * is signed again with a fresh timestamp, so it is not refused as stale.
 */
import type { Command } from '../command.ts';
import {
  apiClient,
  CliError,
  EXIT,
  enc,
  listAll,
  parseTimeOption,
  printJson,
  SERVER_OPTIONS,
  usageError,
} from '../shared.ts';

interface MessageOut {
  id: string;
  eventType: string;
  channels?: string[] | null;
  timestamp: string;
}

export const replay: Command = {
  name: 'replay',
  summary: 'Resend one message, or everything for an endpoint in a time range',
  usage:
    'hookline replay --app ID --msg ID [--endpoint ID]\n       hookline replay --app ID --endpoint ID --since TIME [--until TIME] [--dry-run]',
  details:
    'With --msg, resends the message to --endpoint, or to every endpoint that has attempts for it.\nWith --since, resends each message of the range that the endpoint subscribes to (its event\ntypes and channels), oldest first; --dry-run lists them without sending. Times are RFC 3339\nor a duration ago (30m, 2h, 7d).',
  maxPositionals: 0,
  options: {
    app: { type: 'string', valueName: 'ID', description: 'Application id or uid (required)' },
    msg: { type: 'string', valueName: 'ID', description: 'The message to resend (id or eventId)' },
    endpoint: { type: 'string', valueName: 'ID', description: 'The endpoint to resend to' },
    since: {
      type: 'string',
      valueName: 'TIME',
      description: 'Start of the range (messages created at or after)',
    },
    until: { type: 'string', valueName: 'TIME', description: 'End of the range (default now)' },
    'dry-run': { type: 'boolean', description: 'List what would be resent; send nothing' },
    ...SERVER_OPTIONS,
  },
  examples: [
    'hookline replay --app my-customer --msg msg_2b...',
    'hookline replay --app my-customer --endpoint ep_2b... --since 2h --dry-run',
    'hookline replay --app my-customer --endpoint ep_2b... --since 2026-03-01T00:00:00Z --until 2026-03-02T00:00:00Z',
  ],
  async run({ values, io }) {
    const app = values.app as string | undefined;
    if (!app) throw usageError('replay needs --app ID');
    const msgArg = values.msg as string | undefined;
    const endpointArg = values.endpoint as string | undefined;
    if (!msgArg && !(endpointArg && values.since)) {
      throw usageError('replay needs --msg ID, or --endpoint ID with --since TIME');
    }
    if (msgArg && values.since) throw usageError('give --msg or --since, not both');
    const now = Date.now();
    const since = values.since ? parseTimeOption('since', values.since as string, now) : 0;
    const until = values.until ? parseTimeOption('until', values.until as string, now) : now + 1;
    const api = apiClient(values as { server?: string; token?: string }, io.env);
    const base = `/api/v1/app/${enc(app)}`;

    // What goes where: [message, endpoint] pairs.
    let jobs: { msg: MessageOut; endpointId: string }[];
    if (msgArg) {
      const msg = await api.request<MessageOut>('GET', `${base}/msg/${enc(msgArg)}`);
      let endpoints: string[];
      if (endpointArg) endpoints = [(await api.request('GET', `${base}/endpoint/${enc(endpointArg)}`)).id];
      else {
        const attempts = await listAll<{ endpointId: string }>(api, `${base}/attempt/msg/${enc(msg.id)}`);
        endpoints = [...new Set(attempts.map((a) => a.endpointId))];
        if (endpoints.length === 0) {
          throw new CliError(`${msg.id} has no attempts yet; name the endpoint with --endpoint`);
        }
      }
      jobs = endpoints.map((endpointId) => ({ msg, endpointId }));
    } else {
      const ep = await api.request<{ id: string; filterTypes: string[] | null; channels: string[] | null }>(
        'GET',
        `${base}/endpoint/${enc(endpointArg!)}`,
      );
      const range = `after=${enc(new Date(since - 1).toISOString())}&before=${enc(new Date(until).toISOString())}&with_content=false`;
      const messages = await listAll<MessageOut>(api, `${base}/msg?${range}`);
      const types = ep.filterTypes && ep.filterTypes.length > 0 ? new Set(ep.filterTypes) : null;
      const channels = ep.channels && ep.channels.length > 0 ? new Set(ep.channels) : null;
      jobs = messages
        .filter(
          (m) =>
            (!types || types.has(m.eventType)) &&
            (!channels || (m.channels ?? []).some((c) => channels.has(c))),
        )
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((msg) => ({ msg, endpointId: ep.id }));
    }

    if (values['dry-run']) {
      for (const j of jobs) {
        if (io.json)
          printJson(io, {
            msgId: j.msg.id,
            eventType: j.msg.eventType,
            endpointId: j.endpointId,
            timestamp: j.msg.timestamp,
          });
        else
          io.out(
            `${io.c.dim(j.msg.timestamp)}  ${j.msg.id}  ${io.c.bold(j.msg.eventType)}  -> ${j.endpointId}`,
          );
      }
      if (!io.json) io.err(`${jobs.length} message(s) would be resent (dry run: nothing sent)`);
      return EXIT.ok;
    }

    const started = Date.now();
    let done = 0;
    let failed = 0;
    for (const j of jobs) {
      if (io.signal.aborted) break;
      try {
        await api.request('POST', `${base}/msg/${enc(j.msg.id)}/endpoint/${enc(j.endpointId)}/resend`);
        done++;
        if (io.json) printJson(io, { msgId: j.msg.id, endpointId: j.endpointId, resent: true });
      } catch (err) {
        if (err instanceof CliError && err.exitCode === EXIT.unreachable) throw err;
        failed++;
        if (io.json)
          printJson(io, {
            msgId: j.msg.id,
            endpointId: j.endpointId,
            resent: false,
            error: (err as Error).message,
          });
        else io.err(`${io.c.red('failed')} ${j.msg.id}: ${(err as Error).message}`);
      }
      const secs = Math.max(0.001, (Date.now() - started) / 1000);
      io.status(
        `replaying ${done + failed}/${jobs.length}  ${(((done + failed) / jobs.length) * 100).toFixed(0)}%  ${(done / secs).toFixed(1)}/s  failed ${failed}`,
      );
    }
    const secs = (Date.now() - started) / 1000;
    if (!io.json) {
      io.err(
        `${io.c.green('replayed')} ${done} of ${jobs.length} in ${secs.toFixed(1)} s${failed ? io.c.red(`, ${failed} failed`) : ''}`,
      );
    }
    return failed > 0 || io.signal.aborted ? EXIT.failure : EXIT.ok;
  },
};
