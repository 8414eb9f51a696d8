import { WebhookVerificationError } from '../errors.ts';
import { jsonStringField } from './hints.ts';
import { defineHmacScheme, requireHeader } from './hmac-scheme.ts';

const NAME = 'stripe';
const HEADER = 'Stripe-Signature';

/**
 * Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`, HMAC-SHA256 over `${t}.${body}`.
 * The key is the whole `whsec_...` string as UTF-8 (not base64-decoded). Tolerance 300 s.
 */
export const stripe = defineHmacScheme({
  name: NAME,
  algorithm: 'sha256',
  encoding: 'hex',
  defaultTolerance: 300,
  multipleSignatures: true,
  read(headers) {
    const header = requireHeader(headers, HEADER, NAME);
    let timestamp: string | undefined;
    const signatures: string[] = [];
    for (const item of header.split(',')) {
      const eq = item.indexOf('=');
      if (eq === -1) continue;
      const key = item.slice(0, eq).trim();
      const value = item.slice(eq + 1).trim();
      if (key === 't') timestamp = value;
      else if (key === 'v1') signatures.push(value);
    }
    if (timestamp === undefined) {
      throw new WebhookVerificationError('malformed_header', `${HEADER} has no t= timestamp`, {
        scheme: NAME,
      });
    }
    if (signatures.length === 0) {
      throw new WebhookVerificationError(
        'malformed_header',
        `${HEADER} has no v1= signature (only v1 is supported; v0 is Stripe's legacy test scheme)`,
        { scheme: NAME },
      );
    }
    return { signatures, timestamp };
  },
  content: ({ timestamp, body }) => [`${timestamp}.`, body],
  write: (signatures, { timestamp }) => ({
    [HEADER]: [`t=${timestamp}`, ...signatures.map((s) => `v1=${s}`)].join(','),
  }),
  secretHint(secret) {
    if (secret.startsWith('whsec_')) return undefined;
    return 'Stripe signing secrets start with whsec_ and the whole string is the key, used as text: the secret looks base64-decoded or truncated (the whsec_ prefix is missing), so copy the endpoint signing secret as shown by Stripe';
  },
  eventId: (request) => jsonStringField(request.body, 'id'),
});
