import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type KeyObject,
  timingSafeEqual,
} from 'node:crypto';

/** HMAC digests the schemes use. */
export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** How a signature is written in its header. */
export type SignatureEncoding = 'hex' | 'base64';

const MAX_CACHED_KEYS = 256;
const keyCache = new Map<string, KeyObject>();

/**
 * Returns a cached KeyObject for `cacheKey`, building it with `derive` on first use.
 *
 * HMAC keyed by a KeyObject is several times faster than keyed by a Buffer, because node
 * does not re-import the key for every message; the cache is bounded so rotating secrets
 * cannot grow it forever.
 */
export function cachedSecretKey(cacheKey: string, derive: () => Buffer): KeyObject {
  return cachedKey(`secret\0${cacheKey}`, () => createSecretKey(derive()));
}

/** Bounded memo of KeyObjects (HMAC and Ed25519), keyed by how the key was derived. */
export function cachedKey(cacheKey: string, build: () => KeyObject): KeyObject {
  const cached = keyCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const key = build();
  if (keyCache.size >= MAX_CACHED_KEYS) {
    const oldest = keyCache.keys().next();
    if (!oldest.done) keyCache.delete(oldest.value);
  }
  keyCache.set(cacheKey, key);
  return key;
}

/** HMAC of the concatenated parts. */
export function hmac(
  algorithm: HmacAlgorithm,
  key: KeyObject,
  parts: readonly (string | Uint8Array)[],
): Buffer {
  const mac = createHmac(algorithm, key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** Constant-time equality; different lengths are unequal without comparing contents. */
export function safeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Decodes a signature, or returns undefined when it is not canonical in `encoding`.
 *
 * Buffer.from() silently drops invalid characters, which would let `<valid hex>zz` verify;
 * checking the text first keeps the comparison about exactly the bytes that were sent.
 */
export function decodeSignature(text: string, encoding: SignatureEncoding): Buffer | undefined {
  if (encoding === 'hex') return HEX.test(text) ? Buffer.from(text, 'hex') : undefined;
  if (!BASE64.test(text) || text.length % 4 !== 0) return undefined;
  return Buffer.from(text, 'base64');
}

/** Strict standard base64 decode (padding required), or undefined. */
export function decodeBase64(text: string): Buffer | undefined {
  return decodeSignature(text, 'base64');
}

// DER wrappers that turn a raw 32-byte Ed25519 seed / public key into PKCS#8 / SPKI.
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

/** The Ed25519 private key for a raw 32-byte seed (Standard Webhooks v1a, Discord). */
export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
}

/** The Ed25519 public key for its raw 32 bytes. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: 'der', type: 'spki' });
}

/** The raw 32 bytes of an Ed25519 key: the seed of a private key, or the public key. */
export function ed25519Raw(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: key.type === 'private' ? 'pkcs8' : 'spki' });
  return der.subarray(der.length - 32);
}
