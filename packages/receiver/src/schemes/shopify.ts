import { textSecretHint } from './hints.ts';
import { defineHmacScheme, requireHeader } from './hmac-scheme.ts';

const NAME = 'shopify';
const HEADER = 'X-Shopify-Hmac-Sha256';

/**
 * Shopify: `X-Shopify-Hmac-Sha256: <base64>`, HMAC-SHA256 over the raw body keyed by the app
 * client secret, no timestamp (deduplicate on `X-Shopify-Event-Id`).
 */
export const shopify = defineHmacScheme({
  name: NAME,
  algorithm: 'sha256',
  encoding: 'base64',
  read: (headers) => ({
    signatures: [requireHeader(headers, HEADER, NAME)],
    id: headers.get('X-Shopify-Event-Id') ?? headers.get('X-Shopify-Webhook-Id'),
  }),
  content: ({ body }) => [body],
  write: ([signature], { id }) => ({
    [HEADER]: signature ?? '',
    ...(id === undefined ? {} : { 'X-Shopify-Event-Id': id, 'X-Shopify-Webhook-Id': id }),
  }),
  secretHint: textSecretHint,
});
