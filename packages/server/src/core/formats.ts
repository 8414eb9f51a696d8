/**
 * The shapes of names and secrets the API accepts, as JSON Schema patterns. No imports, so the
 * request schemas (and the dashboard, which reads their types) do not depend on Node's crypto.
 */

/** uids, event ids and event type names: 1–256 characters of `[a-zA-Z0-9\-_.]`. */
export const UID_PATTERN = '^[a-zA-Z0-9\\-_.]{1,256}$';

/**
 * Supplied secrets must look like this: an HMAC secret as Svix allows it (optional `whsec_`,
 * 32–100 base64 characters) or an Ed25519 secret key (`whsk_` + base64 of 32 bytes).
 */
export const SECRET_PATTERN = '^((whsec_)?[A-Za-z0-9+/=]{32,100}|whsk_[A-Za-z0-9+/]{43}=)$';

/** The longest `handler(webhook)` code an endpoint's transformation may have (bytes). */
export const TRANSFORMATION_MAX_BYTES = 64 * 1024;
