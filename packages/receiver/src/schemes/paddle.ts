import { WebhookVerificationError } from '../errors.ts';
import { jsonStringField, textSecretHint } from './hints.ts';
import { defineHmacScheme, requireHeader } from './hmac-scheme.ts';

const NAME = 'paddle';
const HEADER = 'Paddle-Signature';

/**
 * Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>]`, HMAC-SHA256 over
 * `${ts}:${body}` (colon) keyed by the endpoint secret. Tolerance 5 s, as in Paddle's SDK;
 * retries and queues usually need more: pass `tolerance`.
 */
export const paddle = defineHmacScheme({
  name: NAME,
  algorithm: 'sha256',
  encoding: 'hex',
  defaultTolerance: 5,
  multipleSignatures: true,
  read(headers) {
    const header = requireHeader(headers, HEADER, NAME);
    let timestamp: string | undefined;
    const signatures: string[] = [];
    for (const item of header.split(';')) {
      const eq = item.indexOf('=');
      if (eq === -1) continue;
      const key = item.slice(0, eq).trim();
      const value = item.slice(eq + 1).trim();
      if (key === 'ts') timestamp = value;
      else if (key === 'h1') signatures.push(value);
    }
    if (timestamp === undefined || signatures.length === 0) {
      throw new WebhookVerificationError('malformed_header', `${HEADER} must look like ts=<unix>;h1=<hex>`, {
        scheme: NAME,
      });
    }
    return { signatures, timestamp };
  },
  content: ({ timestamp, body }) => [`${timestamp}:`, body],
  write: (signatures, { timestamp }) => ({
    [HEADER]: [`ts=${timestamp}`, ...signatures.map((s) => `h1=${s}`)].join(';'),
  }),
  secretHint: (secret) =>
    secret.startsWith('pdl_ntfset_') || secret.startsWith('pdl_')
      ? undefined
      : (textSecretHint(secret) ??
        'Paddle endpoint secrets usually start with pdl_ntfset_: check you configured the notification destination secret, not an API key'),
  eventId: (request) => jsonStringField(request.body, 'event_id'),
});
