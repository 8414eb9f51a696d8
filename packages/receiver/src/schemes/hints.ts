import { utf8Text } from '../crypto.ts';

const BASE64_LOOKING = /^[A-Za-z0-9+/]{16,}={0,2}$/;

/** Hint for schemes that use the secret as text, when the secret looks like base64 data. */
export function textSecretHint(secret: string): string | undefined {
  if (secret.startsWith('whsec_')) {
    return 'the secret starts with whsec_, which is a Standard Webhooks/Svix/Stripe secret: check the scheme and the secret belong to the same provider';
  }
  if (
    BASE64_LOOKING.test(secret) &&
    secret.length % 4 === 0 &&
    /[+/=]|[a-z].*[A-Z]|[A-Z].*[a-z]/.test(secret)
  ) {
    return 'the secret looks base64-encoded but this scheme uses it as text: configure it exactly as the provider shows it, without encoding or decoding it';
  }
  return undefined;
}

/** Parses a JSON body and returns a top-level string field, or undefined. */
export function jsonStringField(body: Uint8Array, field: string): string | undefined {
  try {
    const value: unknown = JSON.parse(utf8Text(body));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const found = (value as Record<string, unknown>)[field];
      return typeof found === 'string' ? found : undefined;
    }
  } catch {
    // Not JSON: the scheme has no id for this request.
  }
  return undefined;
}
