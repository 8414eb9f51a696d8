/**
 * Alert emails: Hookline emails an application's alert email (`PATCH /api/v1/app/{app}/alert-email`,
 * or Svix's `svix.email` metadata key) when one of its endpoints is disabled for failing, and,
 * when the operator turns it on (`HOOKLINE_ALERT_EMAIL_EVENTS`), when a message has failed every
 * attempt to an endpoint. Sent through the SMTP server `HOOKLINE_SMTP_URL` names.
 *
 * Sending never holds up or fails a delivery: events are queued here and mailed in the
 * background, and a failure is a log line. A burst of events for one application becomes one
 * email: the first goes out a moment after its event, and the next no sooner than
 * `HOOKLINE_ALERT_EMAIL_INTERVAL` later, listing everything that happened in between. Each
 * delivering process keeps its own interval.
 */
import { createTransport } from 'nodemailer';
import type { Logger } from 'pino';
import type { AlertEmailEvent, HooklineConfig } from '../config.ts';
import type { Clock } from '../core/clock.ts';
import { parseAddressList } from '../core/email-address.ts';
import type { App, Attempt } from '../core/types.ts';
import type { ClaimedDelivery, DeliveryOutcome, Store } from '../store/store.ts';

/** Svix's metadata key for an application's notification email, read when no alert email is set. */
export const SVIX_EMAIL_METADATA_KEY = 'svix.email';
/** How long the first event of a quiet application waits for others to join its email. */
const GATHER_MS = 1_000;
/** Most events one email lists (the rest are counted). */
const MAX_LISTED = 50;
/** How long stopping waits for the last emails. */
const CLOSE_WAIT_MS = 5_000;

type AlertItem =
  | {
      type: 'endpoint.disabled';
      endpointId: string;
      endpointUid: string | null;
      url: string;
      failingSince: number | null;
      at: number;
    }
  | {
      type: 'message.attempt.exhausted';
      msgId: string;
      eventType: string;
      endpointId: string;
      url: string;
      status: number;
      at: number;
    };

/** One email, as the transport gets it. */
export interface AlertMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

export interface AlertEmails {
  /** The dispatcher disabled an endpoint that kept failing. Returns at once. */
  endpointDisabled(endpointId: string): void;
  /** After an attempt: a delivery that failed its last attempt is an `exhausted` alert. Returns at once. */
  attempt(attempt: Attempt, delivery: ClaimedDelivery, next: DeliveryOutcome['next']): void;
  /** Sends what waits for its interval at once, waiting for it a few seconds. */
  close(): Promise<void>;
}

interface Pending {
  app: Pick<App, 'id' | 'uid' | 'name'>;
  to: string[];
  items: AlertItem[];
  /** The gather or interval timer; while it runs, new events wait for it. */
  timer: NodeJS.Timeout | null;
}

export function createAlertEmails(deps: {
  store: Store;
  clock: Clock;
  logger: Logger;
  config: Readonly<HooklineConfig['alertEmail']>;
  /** The dashboard's public URL, for links (`HOOKLINE_PUBLIC_URL`). */
  publicUrl: string | null;
  /** Sends one email (tests); by default nodemailer over `config.smtpUrl`. */
  send?: (mail: AlertMail) => Promise<void>;
}): AlertEmails {
  const { store, logger, config } = deps;
  const events = new Set<AlertEmailEvent>(config.events);
  const transport =
    config.smtpUrl === null
      ? null
      : createTransport({
          url: config.smtpUrl,
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 30_000,
        });
  const send =
    deps.send ??
    (transport
      ? async (mail: AlertMail) => {
          await transport.sendMail(mail);
        }
      : null);
  const pending = new Map<string, Pending>();
  let warnedNoSmtp = false;
  let closed = false;

  /** The application's addresses: its alert email, else its `svix.email` metadata. */
  async function recipients(appId: string): Promise<{ app: App; to: string[] } | null> {
    const [app, email] = await Promise.all([store.getApp(appId), store.getAppAlertEmail(appId)]);
    if (!app) return null;
    let to: string[] = [];
    const list = email ?? app.metadata[SVIX_EMAIL_METADATA_KEY] ?? null;
    if (list !== null) {
      try {
        to = parseAddressList(list);
      } catch (err) {
        logger.warn({ appId, err: (err as Error).message }, 'alert email not sent: bad address');
      }
    }
    return to.length > 0 ? { app, to } : null;
  }

  function queue(appId: string, item: AlertItem): void {
    void (async () => {
      const target = await recipients(appId);
      if (target === null || closed) return;
      if (send === null) {
        if (!warnedNoSmtp) {
          warnedNoSmtp = true;
          logger.warn(
            { appId },
            'alert emails are not sent: HOOKLINE_SMTP_URL is not set (applications keep their alert email)',
          );
        }
        return;
      }
      const entry = pending.get(appId) ?? { app: target.app, to: target.to, items: [], timer: null };
      entry.app = target.app;
      entry.to = target.to;
      entry.items.push(item);
      pending.set(appId, entry);
      if (entry.timer === null)
        entry.timer = later(() => flush(appId), Math.min(GATHER_MS, config.intervalMs));
    })().catch((err) => logger.warn({ err, appId, type: item.type }, 'could not prepare an alert email'));
  }

  function later(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  }

  function flush(appId: string): void {
    const entry = pending.get(appId);
    if (!entry) return;
    entry.timer = null;
    if (entry.items.length === 0) {
      pending.delete(appId);
      return;
    }
    const items = entry.items;
    entry.items = [];
    const mail = compose(entry.app, entry.to, items);
    // The interval runs from this email: events until then wait and go in the next one.
    entry.timer = later(() => flush(appId), config.intervalMs);
    send!(mail).then(
      () => logger.info({ appId, to: mail.to, events: items.length }, 'alert email sent'),
      (err) => logger.warn({ err, appId, to: mail.to, events: items.length }, 'alert email not sent'),
    );
  }

  function compose(app: Pending['app'], to: string[], items: AlertItem[]): AlertMail {
    const base = deps.publicUrl?.replace(/\/+$/, '') ?? null;
    const enc = encodeURIComponent;
    const iso = (ms: number) => new Date(ms).toISOString();
    const disabled = items.filter((i) => i.type === 'endpoint.disabled');
    const exhausted = items.filter((i) => i.type === 'message.attempt.exhausted');
    const appLine = `${app.name} (${app.id}${app.uid ? `, uid ${app.uid}` : ''})`;
    const lines = [`Application: ${appLine}`];
    if (base) lines.push(`${base}/apps/${enc(app.id)}`);
    if (disabled.length > 0) {
      lines.push(
        '',
        `Endpoints disabled because every attempt to them failed for too long (${disabled.length}):`,
      );
      for (const d of disabled.slice(0, MAX_LISTED)) {
        lines.push(
          `- ${d.endpointId}${d.endpointUid ? ` (uid ${d.endpointUid})` : ''}: ${d.url}`,
          `  failing since ${d.failingSince === null ? 'unknown' : iso(d.failingSince)}, disabled at ${iso(d.at)}`,
        );
        if (base) lines.push(`  ${base}/apps/${enc(app.id)}/endpoints/${enc(d.endpointId)}`);
      }
      if (disabled.length > MAX_LISTED) lines.push(`- and ${disabled.length - MAX_LISTED} more`);
      lines.push(
        '',
        'A disabled endpoint gets no messages. Once it answers again, enable it (PATCH the endpoint with',
        '"disabled": false) and send it what it missed (POST .../endpoint/{endpoint}/recover).',
      );
    }
    if (exhausted.length > 0) {
      lines.push('', `Messages that failed every attempt to an endpoint (${exhausted.length}):`);
      for (const m of exhausted.slice(0, MAX_LISTED)) {
        lines.push(
          `- ${m.msgId} (${m.eventType}) to ${m.endpointId}: ${m.url}`,
          `  last attempt at ${iso(m.at)}: ${m.status === 0 ? 'no response' : `HTTP ${m.status}`}`,
        );
        if (base) lines.push(`  ${base}/apps/${enc(app.id)}/msg/${enc(m.msgId)}`);
      }
      if (exhausted.length > MAX_LISTED) lines.push(`- and ${exhausted.length - MAX_LISTED} more`);
    }
    lines.push('', '-- ', 'Sent by Hookline to the alert email of this application.');
    const subject =
      exhausted.length === 0
        ? disabled.length === 1
          ? `Webhook endpoint disabled: ${disabled[0]!.url} (${app.name})`
          : `${disabled.length} webhook endpoints disabled (${app.name})`
        : disabled.length === 0
          ? `${exhausted.length} webhook message${exhausted.length === 1 ? '' : 's'} failed (${app.name})`
          : `Webhook endpoints disabled and messages failed (${app.name})`;
    // Names and URLs are the API users': no line breaks or control characters in a header.
    const oneLine = subject.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 200);
    return { from: config.from ?? '', to, subject: oneLine, text: `${lines.join('\n')}\n` };
  }

  return {
    endpointDisabled(endpointId) {
      if (!events.has('endpoint.disabled') || closed) return;
      const at = deps.clock.now();
      void store.getEndpointById(endpointId).then(
        (ep) => {
          if (!ep) return;
          queue(ep.appId, {
            type: 'endpoint.disabled',
            endpointId: ep.id,
            endpointUid: ep.uid,
            url: ep.url,
            failingSince: ep.failingSince,
            at,
          });
        },
        (err) => logger.warn({ err, endpointId }, 'could not prepare an alert email'),
      );
    },

    attempt(attempt, d, next) {
      if (next.kind !== 'fail' || !events.has('message.attempt.exhausted') || closed) return;
      queue(d.appId, {
        type: 'message.attempt.exhausted',
        msgId: d.msgId,
        eventType: d.eventType,
        endpointId: d.endpointId,
        url: d.endpoint.url,
        status: attempt.responseStatusCode,
        at: attempt.createdAt,
      });
    },

    async close() {
      closed = true;
      // What waits for its interval goes now; the server's stop waits for it a few seconds.
      const last: Promise<void>[] = [];
      for (const [appId, entry] of pending) {
        if (entry.timer) clearTimeout(entry.timer);
        if (entry.items.length === 0 || send === null) continue;
        const mail = compose(entry.app, entry.to, entry.items);
        last.push(
          send(mail).catch((err) =>
            logger.warn({ err, appId, to: mail.to, events: entry.items.length }, 'alert email not sent'),
          ),
        );
      }
      pending.clear();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(last),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      transport?.close();
    },
  };
}
