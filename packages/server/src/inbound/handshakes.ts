/**
 * Handshakes: requests a provider sends to check that `/in/{name}` is really its receiver. They
 * are answered at once (the provider waits for the answer), logged as `handshake` events and
 * never forwarded.
 *
 * - Provider handshakes, on by default for their scheme: Slack's `url_verification` (echo the
 *   challenge), Discord's interaction PING (answer `{"type":1}`) and webhook-event PING (`204`).
 * - A generic challenge rule per source, for Microsoft Graph (`validationToken`), Dropbox
 *   (`GET ?challenge=`), Zoom (`endpoint.url_validation`) and the like; presets spell those out.
 */
import { createHmac } from 'node:crypto';
import type { ChallengeRule, SourceSettings } from '../core/types.ts';
import { discordWebhookEvent, jsonPathValue } from './rules.ts';

/** Ready-made challenge rules; a source may override any field of its preset. */
export const CHALLENGE_PRESETS: Record<string, Omit<ChallengeRule, 'preset' | 'secret'>> = {
  // Microsoft Graph: POST /in/x?validationToken=... echoed as text/plain within 10 s.
  graph: {
    method: 'POST',
    query: 'validationToken',
    jsonPath: null,
    when: null,
    respond: 'text',
    field: null,
    hmacField: null,
    verify: false,
  },
  // Dropbox: GET /in/x?challenge=... echoed as text/plain.
  dropbox: {
    method: 'GET',
    query: 'challenge',
    jsonPath: null,
    when: null,
    respond: 'text',
    field: null,
    hmacField: null,
    verify: false,
  },
  // Zoom: a signed {"event":"endpoint.url_validation","payload":{"plainToken":...}} answered with
  // {plainToken, encryptedToken: hex HMAC-SHA256(secret token, plainToken)}.
  zoom: {
    method: 'POST',
    query: null,
    jsonPath: 'payload.plainToken',
    when: { jsonPath: 'event', equals: 'endpoint.url_validation' },
    respond: 'json',
    field: 'plainToken',
    hmacField: 'encryptedToken',
    verify: true,
  },
};

/** What is wrong with a challenge rule, as (field, message) pairs. */
export function challengeProblems(rule: ChallengeRule): { field: string; msg: string }[] {
  const problems: { field: string; msg: string }[] = [];
  if (!rule.query === !rule.jsonPath)
    problems.push({ field: 'query', msg: 'give query or jsonPath (where the challenge is), not both' });
  if (rule.method === 'GET' && (rule.jsonPath || rule.when))
    problems.push({
      field: rule.jsonPath ? 'jsonPath' : 'when',
      msg: 'a GET request has no JSON body: use query',
    });
  if (rule.respond === 'json' && !rule.field)
    problems.push({ field: 'field', msg: 'a json answer needs field (where the challenge is echoed)' });
  if (rule.hmacField) {
    if (rule.respond !== 'json') problems.push({ field: 'hmacField', msg: 'hmacField needs respond "json"' });
    if (!rule.secret)
      problems.push({ field: 'secret', msg: 'hmacField needs the secret the HMAC is keyed with' });
    if (rule.hmacField === rule.field)
      problems.push({ field: 'hmacField', msg: 'hmacField and field must differ' });
  }
  return problems;
}

/** What a handshake is answered with. */
export interface HandshakeAnswer {
  /** 200 unless said otherwise; 204 is sent without a body or content type. */
  status?: number;
  contentType: string;
  body: string;
}

/** Discord's webhook events (their PING included) want 204 and nothing else. */
const NO_CONTENT: HandshakeAnswer = { status: 204, contentType: '', body: '' };

const text = (value: string): HandshakeAnswer => ({ contentType: 'text/plain; charset=utf-8', body: value });
const json = (value: unknown): HandshakeAnswer => ({
  contentType: 'application/json; charset=utf-8',
  body: JSON.stringify(value),
});

/**
 * The answer to a request the source's challenge rule recognizes, or null when the rule does
 * not apply (the request is then handled as any other).
 */
export function challengeAnswer(
  rule: ChallengeRule,
  method: string,
  query: URLSearchParams,
  body: () => unknown,
): HandshakeAnswer | null {
  if (rule.method !== 'ANY' && rule.method !== method) return null;
  if (rule.when && jsonPathValue(body(), rule.when.jsonPath) !== rule.when.equals) return null;
  const value = rule.query
    ? query.get(rule.query)
    : rule.jsonPath
      ? jsonPathValue(body(), rule.jsonPath)
      : null;
  if (value === null || value === undefined || value === '') return null;
  if (rule.respond === 'text') return text(value);
  const answer: Record<string, string> = { [rule.field!]: value };
  if (rule.hmacField) answer[rule.hmacField] = createHmac('sha256', rule.secret!).update(value).digest('hex');
  return json(answer);
}

/**
 * The answer to a provider handshake of the source's scheme (verified already), or null:
 * Slack's url_verification, Discord's interaction PING and its webhook-event PING.
 */
export function providerHandshake(source: SourceSettings, body: () => unknown): HandshakeAnswer | null {
  if (!source.handshake.provider) return null;
  const b = body() as { type?: unknown; challenge?: unknown } | undefined;
  if (b === null || typeof b !== 'object') return null;
  switch (source.verification.scheme) {
    case 'slack':
      return b.type === 'url_verification' && typeof b.challenge === 'string'
        ? json({ challenge: b.challenge })
        : null;
    case 'discord': {
      const webhook = discordWebhookEvent(b);
      if (webhook === 'ping') return NO_CONTENT;
      return webhook === null && b.type === 1 ? json({ type: 1 }) : null;
    }
    default:
      return null;
  }
}

/**
 * What an accepted (forwarded) request is answered with, when its provider expects more than a
 * 200: a Discord interaction needs a response within 3 s, by default `{"type":5}` (deferred: the
 * application completes it later with the interaction token); a Discord webhook event wants 204.
 */
export function providerReply(source: SourceSettings, body: () => unknown): HandshakeAnswer | null {
  if (!source.handshake.provider) return null;
  if (source.verification.scheme === 'discord')
    return discordWebhookEvent(body()) ? NO_CONTENT : json(source.handshake.discordResponse);
  return null;
}
