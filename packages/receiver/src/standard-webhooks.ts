import {
  asBuffer,
  cachedKeyRef,
  concatBytes,
  engine,
  fromBase64,
  hmac,
  type KeyRef,
  safeEqual,
} from './crypto.ts';
import { WebhookVerificationError } from './errors.ts';
import type { HeaderReader } from './headers.ts';
import type { ParsedRequest, Scheme } from './scheme.ts';
import { parseTimestamp, requireHeader } from './schemes/hmac-scheme.ts';

/**
 * Standard Webhooks (and Svix, which it was extracted from).
 *
 * Signed content: `${webhook-id}.${webhook-timestamp}.${body}`.
 * - `v1`: HMAC-SHA256, key = base64-decoded bytes after `whsec_` (the prefix is optional).
 * - `v1a`: Ed25519. Keys are encoded as `whsk_` + base64 of the raw 32-byte seed (secret key)
 *   and `whpk_` + base64 of the raw 32-byte public key. Verify with `whpk_` (or `whsk_`).
 * `webhook-signature` holds space-separated `<version>,<base64>` entries (rotation).
 */

const V1_PREFIX = 'whsec_';
const SECRET_KEY_PREFIX = 'whsk_';
const PUBLIC_KEY_PREFIX = 'whpk_';

/** A v1a key pair in Standard Webhooks encoding. */
export interface Ed25519KeyPair {
  /** `whsk_` + base64 of the raw 32-byte seed. Keep it on the sender. */
  readonly secretKey: string;
  /** `whpk_` + base64 of the raw 32-byte public key. Give it to receivers. */
  readonly publicKey: string;
}

type SecretKind =
  | { readonly version: 'v1'; readonly key: KeyRef }
  | { readonly version: 'v1a'; readonly publicKey: KeyRef; readonly privateKey?: KeyRef | undefined };

function decodeSecretBase64(text: string): Uint8Array | undefined {
  // Secrets are sometimes copied without padding; accept that, but nothing else that is not base64.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 === 1) return undefined;
  return fromBase64(text);
}

function invalidSecret(scheme: string, message: string): WebhookVerificationError {
  return new WebhookVerificationError('invalid_secret', message, { scheme });
}

function rawEd25519Key(secret: string, prefix: string, scheme: string): Uint8Array {
  const raw = decodeSecretBase64(secret.slice(prefix.length));
  if (raw === undefined || raw.length !== 32) {
    throw invalidSecret(
      scheme,
      `a ${prefix} key must be base64 of exactly 32 raw bytes (${prefix === SECRET_KEY_PREFIX ? 'the Ed25519 seed' : 'the Ed25519 public key'}); got ${raw === undefined ? 'invalid base64' : `${raw.length} bytes`}`,
    );
  }
  return raw;
}

function resolveSecret(secret: string, scheme: string): SecretKind {
  if (secret.startsWith(PUBLIC_KEY_PREFIX)) {
    return {
      version: 'v1a',
      publicKey: cachedKeyRef(`whpk\0${secret}`, () => rawEd25519Key(secret, PUBLIC_KEY_PREFIX, scheme)),
    };
  }
  if (secret.startsWith(SECRET_KEY_PREFIX)) {
    const privateKey = cachedKeyRef(`whsk\0${secret}`, () =>
      rawEd25519Key(secret, SECRET_KEY_PREFIX, scheme),
    );
    return {
      version: 'v1a',
      privateKey,
      // Not in the key cache: deriving it is an engine operation (the engine keeps its own copy).
      publicKey: { id: `whsk-pub\0${secret}`, bytes: engine().ed25519PublicFromSeed(privateKey) },
    };
  }
  const encoded = secret.startsWith(V1_PREFIX) ? secret.slice(V1_PREFIX.length) : secret;
  const key = cachedKeyRef(`whsec\0${secret}`, () => {
    const bytes = decodeSecretBase64(encoded);
    if (bytes === undefined || bytes.length === 0) {
      throw invalidSecret(
        scheme,
        `the secret is not valid base64${secret.startsWith(V1_PREFIX) ? ' after the whsec_ prefix' : ''}: Standard Webhooks secrets are whsec_ followed by base64 of random bytes, decoded before use; if the provider gave you a plain-text secret, this is the wrong scheme (try createHmacScheme)`,
      );
    }
    return bytes;
  });
  return { version: 'v1', key };
}

interface SignatureEntry {
  readonly version: string;
  readonly bytes: Uint8Array;
}

interface StandardState {
  readonly signatures: readonly SignatureEntry[];
  readonly prefix: readonly (string | Uint8Array)[];
}

function parseSignatureHeader(header: string, headerName: string, scheme: string): SignatureEntry[] {
  const entries: SignatureEntry[] = [];
  let wellFormed = 0;
  for (const item of header.split(/[\s]+/)) {
    // Repeated headers arrive joined with ", ", which leaves a trailing comma on all but the last.
    const token = item.replace(/,$/, '');
    const comma = token.indexOf(',');
    if (comma <= 0) continue;
    const encoded = token.slice(comma + 1);
    const bytes = decodeSecretBase64(encoded);
    if (bytes === undefined || encoded.length % 4 !== 0) continue;
    wellFormed++;
    entries.push({ version: token.slice(0, comma), bytes });
  }
  if (wellFormed === 0) {
    throw new WebhookVerificationError(
      'malformed_header',
      `${headerName} has no "<version>,<base64>" entry: ${JSON.stringify(header.slice(0, 60))}`,
      { scheme },
    );
  }
  return entries;
}

/** Options for {@link createStandardWebhooksScheme}. */
export interface StandardWebhooksSchemeOptions {
  /** Scheme name in results and errors. */
  readonly name: string;
  /** Header family written when signing (`webhook` or `svix`); both are always accepted when verifying. */
  readonly headerPrefix: 'webhook' | 'svix';
  /** Default tolerance in seconds. Default 300, as in every reference library. */
  readonly tolerance?: number | undefined;
}

function pickHeaderFamily(headers: HeaderReader, preferred: 'webhook' | 'svix'): 'webhook' | 'svix' {
  const other = preferred === 'webhook' ? 'svix' : 'webhook';
  if (headers.get(`${preferred}-signature`) !== undefined) return preferred;
  return headers.get(`${other}-signature`) !== undefined ? other : preferred;
}

/** Builds a Standard Webhooks scheme (v1 and v1a) with the given name and header family. */
export function createStandardWebhooksScheme(options: StandardWebhooksSchemeOptions): Scheme {
  const name = options.name;
  return {
    name,
    defaultTolerance: options.tolerance ?? 300,
    parse(request): ParsedRequest {
      const family = pickHeaderFamily(request.headers, options.headerPrefix);
      const id = requireHeader(request.headers, `${family}-id`, name);
      const timestampText = requireHeader(request.headers, `${family}-timestamp`, name);
      const timestamp = parseTimestamp(timestampText, name, `${family}-timestamp`);
      const signatureHeader = `${family}-signature`;
      const signatures = parseSignatureHeader(
        requireHeader(request.headers, signatureHeader, name),
        signatureHeader,
        name,
      );
      const state: StandardState = { signatures, prefix: [`${id}.${timestampText}.`, request.body] };
      return { id, timestamp, state };
    },
    validateSecret(secret) {
      if (secret.length === 0)
        throw invalidSecret(name, 'a secret is empty; check the configuration/env var');
      resolveSecret(secret, name);
    },
    check(secret, parsed) {
      const state = parsed.state as StandardState;
      const kind = resolveSecret(secret, name);
      let matched = false;
      if (kind.version === 'v1') {
        const expected = hmac('sha256', kind.key, state.prefix);
        for (const entry of state.signatures) {
          if (entry.version === 'v1') matched = safeEqual(expected, entry.bytes) || matched;
        }
        return matched;
      }
      const content = concatBytes(state.prefix);
      for (const entry of state.signatures) {
        if (entry.version === 'v1a' && entry.bytes.length === 64) {
          matched = engine().ed25519Verify(kind.publicKey, content, entry.bytes) || matched;
        }
      }
      return matched;
    },
    headerIdSigned: true,
    signedContent: (parsed) => (parsed.state as StandardState).prefix,
    requestHint(parsed, secrets) {
      const state = parsed.state as StandardState;
      const sent = new Set(state.signatures.map((entry) => entry.version));
      const configured = new Set(
        secrets.map((secret) =>
          secret.startsWith(PUBLIC_KEY_PREFIX) || secret.startsWith(SECRET_KEY_PREFIX) ? 'v1a' : 'v1',
        ),
      );
      if (![...configured].some((version) => sent.has(version))) {
        return `the request carries only ${[...sent].join('/')} signatures but the configured secrets are ${[...configured].join('/')} (v1: whsec_ HMAC secret, v1a: whpk_ Ed25519 public key)`;
      }
      return undefined;
    },
    sign(parts) {
      const id = parts.id ?? `msg_${asBuffer(engine().randomBytes(12)).toString('base64url')}`;
      const prefix = [`${id}.${parts.timestamp}.`, parts.body];
      const signatures = parts.secrets.map((secret) => {
        if (secret.length === 0) throw invalidSecret(name, 'a secret is empty');
        const kind = resolveSecret(secret, name);
        if (kind.version === 'v1')
          return `v1,${asBuffer(hmac('sha256', kind.key, prefix)).toString('base64')}`;
        if (kind.privateKey === undefined) {
          throw invalidSecret(name, 'a whpk_ public key can only verify: sign v1a with the whsk_ secret key');
        }
        const signature = engine().ed25519Sign(kind.privateKey, concatBytes(prefix));
        return `v1a,${asBuffer(signature).toString('base64')}`;
      });
      const family = options.headerPrefix;
      return {
        headers: {
          [`${family}-id`]: id,
          [`${family}-timestamp`]: String(parts.timestamp),
          [`${family}-signature`]: signatures.join(' '),
        },
      };
    },
  };
}

/** Standard Webhooks, signing with `webhook-*` headers; verifies `webhook-*` and `svix-*`. */
export const standardWebhooks: Scheme = createStandardWebhooksScheme({
  name: 'standard-webhooks',
  headerPrefix: 'webhook',
});

/** Svix (Clerk, Resend, ...): Standard Webhooks signing with `svix-*` headers; verifies both families. */
export const svix: Scheme = createStandardWebhooksScheme({ name: 'svix', headerPrefix: 'svix' });

function encodeKeyPair(seed: Uint8Array): Ed25519KeyPair {
  const publicKey = engine().ed25519PublicFromSeed({
    id: `seed\0${asBuffer(seed).toString('hex')}`,
    bytes: seed,
  });
  return {
    secretKey: SECRET_KEY_PREFIX + asBuffer(seed).toString('base64'),
    publicKey: PUBLIC_KEY_PREFIX + asBuffer(publicKey).toString('base64'),
  };
}

/** Generates a fresh v1a Ed25519 key pair (`whsk_` secret key, `whpk_` public key). */
export function generateEd25519KeyPair(): Ed25519KeyPair {
  return encodeKeyPair(engine().ed25519GenerateSeed());
}

/** The v1a key pair for a fixed 32-byte seed; for deterministic tests and vectors. */
export function ed25519KeyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is exactly 32 bytes');
  return encodeKeyPair(Uint8Array.from(seed));
}

/** The `whpk_` public key belonging to a `whsk_` secret key. */
export function ed25519PublicKeyFor(secretKey: string): string {
  if (!secretKey.startsWith(SECRET_KEY_PREFIX)) throw new TypeError('expected a whsk_ secret key');
  const kind = resolveSecret(secretKey, 'standard-webhooks');
  if (kind.version !== 'v1a') throw new TypeError('expected a whsk_ secret key');
  return PUBLIC_KEY_PREFIX + asBuffer(kind.publicKey.bytes).toString('base64');
}

/** Generates a v1 secret: `whsec_` + base64 of `bytes` random bytes (24–64 per the spec; default 32). */
export function generateStandardWebhooksSecret(bytes = 32): string {
  if (bytes < 24 || bytes > 64) throw new RangeError('Standard Webhooks secrets are 24 to 64 bytes');
  return V1_PREFIX + asBuffer(engine().randomBytes(bytes)).toString('base64');
}
