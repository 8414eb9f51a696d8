/**
 * `hookline trigger <scheme> <event>`: sends a realistic test event, signed the way the provider
 * signs it (with @hookline/receiver's `sign`), to a URL. The body is serialized once and those
 * exact bytes are signed and sent.
 */
import { type SchemeName, sign } from '@hookline/receiver';
import type { Command } from '../command.ts';
import { FIXTURES } from '../fixtures.ts';
import {
  CliError,
  causeOf,
  DEFAULT_SERVER,
  EXIT,
  enc,
  paintStatus,
  printJson,
  usageError,
} from '../shared.ts';

const list = Object.entries(FIXTURES)
  .map(([scheme, events]) => `  ${scheme.padEnd(18)}${Object.keys(events).join(', ')}`)
  .join('\n');

export const trigger: Command = {
  name: 'trigger',
  summary:
    'Send a realistic signed test event (Standard Webhooks, Stripe, GitHub, Shopify, Slack, Discord, HubSpot, Salesforce) to a URL',
  usage: 'hookline trigger <scheme> <event> (--url URL | --source NAME) --secret SECRET [--print]',
  details: `Schemes and events:\n${list}\n\nThe secret is the one your receiver verifies with: a whsec_ secret for Standard Webhooks and
Stripe, the webhook secret for GitHub, the app's client secret for Shopify and HubSpot, the signing secret for
Slack, the application's private key (hex seed; your receiver verifies with its public key) for Discord, and
the organization id (00D...) for Salesforce, whose outbound messages are not signed. HubSpot signs the URL it
calls, so sign for the exact URL your receiver is configured with.`,
  maxPositionals: 2,
  options: {
    url: {
      type: 'string',
      valueName: 'URL',
      description: 'Where to POST the event',
    },
    source: {
      type: 'string',
      valueName: 'NAME',
      description:
        'POST to the Hookline inbound source NAME instead (<server>/in/NAME; NAME/TOKEN for a source whose URL has a token)',
    },
    server: {
      type: 'string',
      valueName: 'URL',
      description: 'Hookline server for --source (env HOOKLINE_URL; default http://127.0.0.1:8071)',
    },
    secret: { type: 'string', valueName: 'SECRET', description: 'Signing secret (required)' },
    print: { type: 'boolean', description: 'Print the signed request instead of sending it' },
    timestamp: {
      type: 'string',
      valueName: 'UNIX',
      description: 'Signed timestamp in unix seconds (default now)',
    },
  },
  examples: [
    'hookline trigger stripe payment_intent.succeeded --url http://localhost:3000/webhooks --secret whsec_...',
    'hookline trigger github push --url http://localhost:3000/github --secret s3cret',
    'hookline trigger shopify orders/create --source my-shop --secret shpss_...    # through a Hookline inbound source',
    'hookline trigger salesforce Account --source crm --secret 00D5g000004Tz1XEAS    # a SOAP outbound message',
    'hookline trigger standard-webhooks invoice.paid --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --print',
  ],
  async run({ values, positionals, io }) {
    const [scheme, event] = positionals;
    if (!scheme || !FIXTURES[scheme]) throw usageError(`name a scheme: ${Object.keys(FIXTURES).join(', ')}`);
    const make = event ? FIXTURES[scheme][event] : undefined;
    if (!make) {
      throw usageError(`name an event of ${scheme}: ${Object.keys(FIXTURES[scheme]).join(', ')}`);
    }
    const secret = values.secret as string | undefined;
    if (!secret) throw usageError('trigger needs --secret (the secret your receiver verifies with)');
    if (values.url && values.source) throw usageError('give --url or --source, not both');
    const source = values.source as string | undefined;
    const url = source
      ? `${String(values.server ?? io.env.HOOKLINE_URL ?? DEFAULT_SERVER).replace(/\/+$/, '')}/in/${source.split('/').map(enc).join('/')}`
      : (values.url as string | undefined);
    if (!url && !values.print) {
      throw usageError('trigger needs --url URL or --source NAME (or --print to only show the request)');
    }
    if (url && !/^https?:\/\//.test(url)) throw usageError('--url must be an http:// or https:// URL');
    let timestamp = Math.floor(Date.now() / 1000);
    if (values.timestamp !== undefined) {
      timestamp = Number(values.timestamp);
      if (!Number.isInteger(timestamp) || timestamp <= 0)
        throw usageError('--timestamp must be unix seconds');
    }
    const fixture = make(new Date(timestamp * 1000), secret);
    let signed: ReturnType<typeof sign>;
    try {
      signed = sign({
        scheme: scheme as SchemeName,
        body: fixture.body,
        secret,
        timestamp,
        id: fixture.id,
        url,
      });
    } catch (err) {
      throw usageError(`cannot sign with this secret: ${(err as Error).message}`);
    }
    const headers = { ...fixture.headers, ...signed.headers };
    if (values.print || !url) {
      if (io.json) printJson(io, { scheme, event, headers, body: fixture.body });
      else {
        for (const [k, v] of Object.entries(headers)) io.out(`${io.c.cyan(k)}: ${v}`);
        io.out('');
        io.out(fixture.body);
      }
      return EXIT.ok;
    }
    const started = performance.now();
    let res: Response;
    try {
      res = await fetch(signed.url ?? url, { method: 'POST', headers, body: fixture.body });
    } catch (err) {
      throw new CliError(`cannot reach ${url}: ${causeOf(err)}`, EXIT.unreachable);
    }
    const response = await res.text();
    const ms = performance.now() - started;
    const ok = res.status >= 200 && res.status < 300;
    if (io.json) {
      printJson(io, {
        scheme,
        event,
        url,
        status: res.status,
        durationMs: Math.round(ms),
        headers,
        body: fixture.body,
        response,
      });
    } else {
      io.out(
        `${paintStatus(io.c, res.status)} ${scheme} ${event} -> ${url} ${io.c.dim(`${ms.toFixed(0)} ms`)}${ok ? '' : `  ${answerText(response)}`}`,
      );
    }
    return ok ? EXIT.ok : EXIT.failure;
  },
};

/** Longest non-JSON answer printed in full (`--json` always has all of it). */
const MAX_ANSWER_CHARS = 2_000;

/**
 * A refusing target's answer, for the status line: a `{code, detail}` error (as Hookline's
 * `/in/{source}` answers) in full, since its hint comes last; any other text up to a limit.
 */
export function answerText(body: string): string {
  try {
    const e = JSON.parse(body) as { code?: unknown; detail?: unknown };
    if (typeof e.code === 'string' && typeof e.detail === 'string') return `${e.code}: ${e.detail}`;
  } catch {
    // not JSON: shown as text
  }
  const text = body.replace(/\s+/g, ' ').trim();
  if (text.length <= MAX_ANSWER_CHARS) return text;
  return `${text.slice(0, MAX_ANSWER_CHARS)}… (${text.length - MAX_ANSWER_CHARS} more characters; --json shows all)`;
}
