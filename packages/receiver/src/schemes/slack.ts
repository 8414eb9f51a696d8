import { jsonStringField, textSecretHint } from './hints.ts';
import { defineHmacScheme, requireHeader, stripPrefix } from './hmac-scheme.ts';

const NAME = 'slack';
const SIGNATURE = 'X-Slack-Signature';
const TIMESTAMP = 'X-Slack-Request-Timestamp';

/**
 * Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 over `v0:${ts}:${body}` with
 * `X-Slack-Request-Timestamp`, keyed by the signing secret. Tolerance 300 s.
 */
export const slack = defineHmacScheme({
  name: NAME,
  algorithm: 'sha256',
  encoding: 'hex',
  defaultTolerance: 300,
  read: (headers) => ({
    signatures: [stripPrefix(requireHeader(headers, SIGNATURE, NAME), 'v0=', SIGNATURE, NAME)],
    timestamp: requireHeader(headers, TIMESTAMP, NAME),
  }),
  content: ({ timestamp, body }) => [`v0:${timestamp}:`, body],
  write: ([signature], { timestamp }) => ({
    [SIGNATURE]: `v0=${signature}`,
    [TIMESTAMP]: timestamp ?? '',
  }),
  secretHint: textSecretHint,
  // Events API bodies carry event_id; slash commands and interactivity (form bodies) have none.
  eventId: (request) => jsonStringField(request.body, 'event_id'),
});
