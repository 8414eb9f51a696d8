import {
  cachedKeyRef,
  concatBytes,
  decodeSignature,
  engine,
  fromHex,
  type KeyRef,
  safeEqual,
  sha256,
  toHex,
} from '../crypto.ts';
import { WebhookVerificationError } from '../errors.ts';
import type { ParsedRequest, Scheme } from '../scheme.ts';
import { parseTimestamp, requireHeader } from './hmac-scheme.ts';

const NAME = 'discord';
const SIGNATURE = 'X-Signature-Ed25519';
const TIMESTAMP = 'X-Signature-Timestamp';
const PUBLIC_KEY = /^[0-9a-fA-F]{64}$/;
const PRIVATE_KEY = /^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$/;

/**
 * Discord interactions (and Discord webhook events): `X-Signature-Ed25519` is the hex Ed25519
 * signature of `${X-Signature-Timestamp}${rawBody}`, verified with the application's public
 * key (64 hex characters, "Public Key" in the Developer Portal), which is the secret here.
 *
 * Discord states no freshness window; the default tolerance is 300 s, like every other scheme
 * with a signed timestamp (`tolerance: Infinity` disables it).
 *
 * Signing (tests, `hookline trigger`) takes the private key as hex: the 32-byte seed, or the
 * 64-byte seed + public key that tweetnacl and most Discord tooling print.
 */

interface DiscordState {
  readonly signature: Uint8Array;
  readonly content: Uint8Array;
}

function invalidSecret(message: string): WebhookVerificationError {
  return new WebhookVerificationError('invalid_secret', message, { scheme: NAME });
}

function publicKeyFor(secret: string): KeyRef {
  if (!PUBLIC_KEY.test(secret)) {
    throw invalidSecret(
      `the secret must be the application's public key, 64 hex characters (Developer Portal → General Information → Public Key); got ${secret.length === 0 ? 'an empty secret' : `${secret.length} characters${PRIVATE_KEY.test(secret) ? ' (a 128-hex private key? verify with the public key)' : ''}`}`,
    );
  }
  return cachedKeyRef(`discord-pub\0${secret.toLowerCase()}`, () => fromHex(secret));
}

function privateKeyFor(secret: string): KeyRef {
  if (!PRIVATE_KEY.test(secret)) {
    throw invalidSecret(
      'signing needs the private key as hex: the 32-byte seed (64 hex characters) or seed + public key (128 hex characters)',
    );
  }
  const seed = secret.slice(0, 64).toLowerCase();
  const privateKey = cachedKeyRef(`discord-seed\0${seed}`, () => fromHex(seed));
  if (
    secret.length === 128 &&
    !safeEqual(engine().ed25519PublicFromSeed(privateKey), fromHex(secret.slice(64)))
  ) {
    throw invalidSecret('the 128-hex private key does not end with the public key of its seed');
  }
  return privateKey;
}

/** A Discord-style Ed25519 key pair, hex encoded. */
export interface DiscordKeyPair {
  /** The 32-byte seed as 64 hex characters: sign with it (keep it on the sender). */
  readonly privateKey: string;
  /** The 32-byte public key as 64 hex characters: verify with it. */
  readonly publicKey: string;
}

/** The hex public key for a hex private key (64-hex seed or 128-hex seed + public key). */
export function discordPublicKeyFromSeed(privateKey: string): string {
  return toHex(engine().ed25519PublicFromSeed(privateKeyFor(privateKey)));
}

/** Generates a fresh key pair for signing test interactions (`sign()` with `privateKey`). */
export function generateDiscordKeyPair(): DiscordKeyPair {
  const seed = engine().ed25519GenerateSeed();
  const privateKey = toHex(seed);
  return {
    privateKey,
    publicKey: toHex(engine().ed25519PublicFromSeed({ id: `discord-seed\0${privateKey}`, bytes: seed })),
  };
}

/**
 * Interactions carry their snowflake `id`. Webhook events (`{"version":1,"application_id":..,
 * "type":0|1,"event":{..}}`) carry none, and Discord resends one that did not get its 204: their
 * id is `sha256:` + the hex SHA-256 of the body, which holds the event's own timestamp.
 */
function discordEventId(body: Uint8Array): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { id, version, application_id: applicationId } = value as Record<string, unknown>;
  if (typeof id === 'string') return id;
  if (version !== undefined && applicationId !== undefined) {
    return `sha256:${toHex(sha256([body]))}`;
  }
  return undefined;
}

/** Discord: Ed25519 over `${timestamp}${body}`, verified with the application's hex public key. */
export const discord: Scheme = {
  name: NAME,
  defaultTolerance: 300,
  parse(request): ParsedRequest {
    const signatureText = requireHeader(request.headers, SIGNATURE, NAME);
    const timestampText = requireHeader(request.headers, TIMESTAMP, NAME);
    const signature = decodeSignature(signatureText, 'hex');
    if (signature === undefined || signature.length !== 64) {
      throw new WebhookVerificationError(
        'malformed_header',
        `${SIGNATURE} must be 128 hex characters (a 64-byte Ed25519 signature): got ${JSON.stringify(signatureText.slice(0, 40))}`,
        { scheme: NAME },
      );
    }
    const timestamp = parseTimestamp(timestampText, NAME, TIMESTAMP);
    const state: DiscordState = {
      signature,
      content: concatBytes([timestampText, request.body]),
    };
    return { timestamp, state };
  },
  validateSecret(secret) {
    publicKeyFor(secret);
  },
  check(secret, parsed) {
    const state = parsed.state as DiscordState;
    return engine().ed25519Verify(publicKeyFor(secret), state.content, state.signature);
  },
  secretHint: () =>
    "check that the secret is this application's Public Key (not the bot token, client secret or another application's key)",
  eventId: (request) => discordEventId(request.body),
  signedContent: (parsed) => [(parsed.state as DiscordState).content],
  sign(parts) {
    if (parts.secrets.length !== 1) {
      throw new RangeError('discord carries exactly one signature: sign with one private key');
    }
    const [secret = ''] = parts.secrets;
    const timestamp = String(parts.timestamp);
    const signature = engine().ed25519Sign(privateKeyFor(secret), concatBytes([timestamp, parts.body]));
    return { headers: { [SIGNATURE]: toHex(signature), [TIMESTAMP]: timestamp } };
  },
};
