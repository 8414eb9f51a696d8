/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): every delivery carries
 * `webhook-id`, `webhook-timestamp` and `webhook-signature` over `${id}.${timestamp}.${body}`.
 *
 * An endpoint signs with one of two kinds of key:
 * - `whsec_` + base64: HMAC-SHA256, signatures `v1,<base64>` (the default, as in Svix);
 * - `whsk_` + base64 of a 32-byte Ed25519 seed: signatures `v1a,<base64>`; receivers verify
 *   with the matching public key `whpk_...`, which cannot sign.
 *
 * The signing itself is `@hookline/receiver`'s, so what Hookline sends and what the receiver
 * library verifies come from one implementation. One space-separated entry per active secret
 * lets receivers rotate keys without downtime.
 */
import {
  ed25519PublicKeyFor,
  generateEd25519KeyPair,
  generateStandardWebhooksSecret,
  schemes,
} from '@hookline/receiver';

import type { EndpointSecret } from './types.ts';

const SECRET_PREFIX = 'whsec_';
const ED25519_SECRET_PREFIX = 'whsk_';

/** The kinds of signing key an endpoint can have. */
export type SecretType = 'hmac-sha256' | 'ed25519';

/** A new endpoint secret: `whsec_` plus base64 of 24 random bytes, or a new `whsk_` Ed25519 key. */
export function generateSecret(type: SecretType = 'hmac-sha256'): string {
  return type === 'ed25519' ? generateEd25519KeyPair().secretKey : generateStandardWebhooksSecret(24);
}

/** Adds the `whsec_` prefix when a caller supplied the bare base64 form. */
export function normalizeSecret(secret: string): string {
  return secret.startsWith(SECRET_PREFIX) || secret.startsWith(ED25519_SECRET_PREFIX)
    ? secret
    : SECRET_PREFIX + secret;
}

export function secretType(secret: string): SecretType {
  return secret.startsWith(ED25519_SECRET_PREFIX) ? 'ed25519' : 'hmac-sha256';
}

/** The `whpk_` public key receivers verify `v1a` signatures with; null for an HMAC secret. */
export function publicKeyFor(secret: string): string | null {
  return secretType(secret) === 'ed25519' ? ed25519PublicKeyFor(secret) : null;
}

const scheme = schemes['standard-webhooks'];

/**
 * Why a supplied secret cannot sign, or null. The API's pattern admits what Svix admits (32–100
 * base64 characters), which includes strings that are not base64 (`====...`, a length of 4n+1);
 * such a secret would fail every delivery at signing time.
 */
export function secretProblem(secret: string): string | null {
  try {
    scheme.validateSecret?.(normalizeSecret(secret));
    return null;
  } catch (err) {
    return (err as Error).message.replace(/^standard-webhooks: /, '');
  }
}

/**
 * The `webhook-signature` header value: one entry per secret, space-separated (`v1,` for
 * `whsec_` secrets, `v1a,` for `whsk_` keys).
 */
export function signatureHeader(
  secrets: readonly string[],
  msgId: string,
  timestampSeconds: number,
  body: string | Buffer,
): string {
  const signed = scheme.sign({
    body: typeof body === 'string' ? Buffer.from(body) : body,
    secrets,
    timestamp: timestampSeconds,
    id: msgId,
    url: undefined,
    method: undefined,
    contentType: undefined,
  });
  return signed.headers['webhook-signature']!;
}

/** One `v1,<base64>` (or `v1a,`) signature of `${msgId}.${timestamp}.${body}`. */
export function signV1(
  secret: string,
  msgId: string,
  timestampSeconds: number,
  body: string | Buffer,
): string {
  return signatureHeader([secret], msgId, timestampSeconds, body);
}

/**
 * Rotation: a new current secret (`newKey`, or a generated one of `type`) and the still-active
 * old ones kept for `graceSeconds` more (never longer than they had), newest first.
 */
export function rotateSecrets(
  secrets: readonly EndpointSecret[],
  newKey: string | null,
  graceSeconds: number,
  now: number,
  type: SecretType = 'hmac-sha256',
): EndpointSecret[] {
  const kept = secrets
    .filter((s) => s.expiresAt === null || s.expiresAt > now)
    .map((s) => ({
      key: s.key,
      expiresAt: Math.min(s.expiresAt ?? Number.POSITIVE_INFINITY, now + graceSeconds * 1000),
    }))
    .filter((s) => s.expiresAt > now);
  return [{ key: newKey ? normalizeSecret(newKey) : generateSecret(type), expiresAt: null }, ...kept];
}
