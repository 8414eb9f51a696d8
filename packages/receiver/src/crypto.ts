/**
 * The cryptography the schemes need, behind a small engine so the same scheme code runs on
 * Node (node:crypto, synchronous) and on Web-standard runtimes (Web Crypto, see web.ts).
 *
 * This module imports no `node:` module: the Node engine is loaded on first use through
 * `process.getBuiltinModule`, so the Web entry's module graph stays free of Node built-ins.
 */
import type * as NodeCrypto from 'node:crypto';
import type { BodyBytes } from './body.ts';

/** HMAC digests the schemes use. */
export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** How a signature is written in its header. */
export type SignatureEncoding = 'hex' | 'base64';

/**
 * Key bytes with a stable identity: `id` says how they were derived from the secret, so an
 * engine can keep its imported key (a node KeyObject, a Web CryptoKey) for the next request.
 */
export interface KeyRef {
  readonly id: string;
  readonly bytes: Uint8Array;
}

/** The operations the schemes use. Results are plain bytes. */
export interface CryptoEngine {
  hmac(algorithm: HmacAlgorithm, key: KeyRef, parts: readonly (string | Uint8Array)[]): Uint8Array;
  sha256(parts: readonly (string | Uint8Array)[]): Uint8Array;
  /** Ed25519 verification with a raw 32-byte public key. */
  ed25519Verify(publicKey: KeyRef, message: Uint8Array, signature: Uint8Array): boolean;
  /** The raw public key of a raw 32-byte Ed25519 seed. */
  ed25519PublicFromSeed(seed: KeyRef): Uint8Array;
  /** Signing and key generation: only the Node engine has them. */
  ed25519Sign(seed: KeyRef, message: Uint8Array): Uint8Array;
  ed25519GenerateSeed(): Uint8Array;
  randomBytes(length: number): Uint8Array;
}

let current: CryptoEngine | undefined;
let nodeEngine: CryptoEngine | undefined;

/** Runs `fn` with `engine` as the engine the schemes use (synchronous: no interleaving). */
export function withEngine<T>(engine: CryptoEngine, fn: () => T): T {
  const previous = current;
  current = engine;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/** True when node:crypto can be loaded (Node, Bun, Deno, Workers with nodejs_compat). */
export function hasNodeCrypto(): boolean {
  const getBuiltin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule;
  try {
    return getBuiltin?.('node:crypto') !== undefined;
  } catch {
    return false;
  }
}

/** The engine in effect: the one `withEngine` set, otherwise node:crypto. */
export function engine(): CryptoEngine {
  if (current !== undefined) return current;
  nodeEngine ??= createNodeEngine();
  return nodeEngine;
}

const MAX_CACHED_KEYS = 256;

/** A bounded map: the oldest entry goes when it is full, so rotating secrets cannot grow it. */
export function boundedCache<V>(max = MAX_CACHED_KEYS): {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
} {
  const map = new Map<string, V>();
  return {
    get: (key) => map.get(key),
    delete: (key) => {
      map.delete(key);
    },
    set(key, value) {
      if (map.size >= max) {
        const oldest = map.keys().next();
        if (!oldest.done) map.delete(oldest.value);
      }
      map.set(key, value);
    },
  };
}

const keyRefs = boundedCache<KeyRef>();

/**
 * The key for `cacheKey`, derived with `derive` on first use (which may throw `invalid_secret`).
 * Engines cache their imported key by `id`, because importing a key for every message is slow.
 */
export function cachedKeyRef(cacheKey: string, derive: () => Uint8Array): KeyRef {
  // `derive` must not use the engine: a cached key would change which operations a
  // verification runs, which the Web entry's replay relies on staying the same.
  const cached = keyRefs.get(cacheKey);
  if (cached !== undefined) return cached;
  const key: KeyRef = { id: cacheKey, bytes: derive() };
  keyRefs.set(cacheKey, key);
  return key;
}

/** HMAC of the concatenated parts, with the engine in effect. */
export function hmac(
  algorithm: HmacAlgorithm,
  key: KeyRef,
  parts: readonly (string | Uint8Array)[],
): Uint8Array {
  return engine().hmac(algorithm, key, parts);
}

/** SHA-256 of the concatenated parts, with the engine in effect. */
export function sha256(parts: readonly (string | Uint8Array)[]): Uint8Array {
  return engine().sha256(parts);
}

/** Constant-time equality; different lengths are unequal without comparing contents. */
export function safeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++) difference |= (a[index] ?? 0) ^ (b[index] ?? 0);
  return difference === 0;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a text. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Text of UTF-8 bytes (invalid sequences become U+FFFD, as Buffer#toString does). */
export function utf8Text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Bytes of an even-length hex text the caller has validated. */
export function fromHex(text: string): Uint8Array {
  const out = new Uint8Array(text.length >> 1);
  for (let index = 0; index < out.length; index++)
    out[index] = Number.parseInt(text.slice(index * 2, index * 2 + 2), 16);
  return out;
}

/**
 * Bytes of a base64 text the caller has checked against /^[A-Za-z0-9+/]+={0,2}$/; padding is
 * optional. Undefined for a length no base64 text has.
 */
export function fromBase64(text: string): Uint8Array | undefined {
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  return Uint8Array.from(atob(unpadded), (char) => char.charCodeAt(0));
}

/** Standard base64 (padded) of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The parts (texts as UTF-8) in one byte array. */
export function concatBytes(parts: readonly (string | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((part) => (typeof part === 'string' ? encoder.encode(part) : part));
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += byte.toString(16).padStart(2, '0');
  return text;
}

/** Bytes as a node Buffer (a view, no copy); for the Node-only signing paths. */
export function asBuffer(bytes: Uint8Array): BodyBytes {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Decodes a signature, or returns undefined when it is not canonical in `encoding`.
 *
 * Buffer.from() silently drops invalid characters, which would let `<valid hex>zz` verify;
 * checking the text first keeps the comparison about exactly the bytes that were sent.
 */
export function decodeSignature(text: string, encoding: SignatureEncoding): Uint8Array | undefined {
  if (encoding === 'hex') return HEX.test(text) ? fromHex(text) : undefined;
  if (!BASE64.test(text) || text.length % 4 !== 0) return undefined;
  return fromBase64(text);
}

/** Strict standard base64 decode (padding required), or undefined. */
export function decodeBase64(text: string): Uint8Array | undefined {
  return decodeSignature(text, 'base64');
}

// DER wrappers that turn a raw 32-byte Ed25519 seed / public key into PKCS#8 / SPKI.
const PKCS8_ED25519 = '302e020100300506032b657004220420';
const SPKI_ED25519 = '302a300506032b6570032100';

/** The DER (PKCS#8) form of a raw Ed25519 seed, which both node:crypto and Web Crypto import. */
export function ed25519Pkcs8(seed: Uint8Array): Uint8Array {
  return concatBytes([fromHex(PKCS8_ED25519), seed]);
}

function createNodeEngine(): CryptoEngine {
  const getBuiltin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule;
  const crypto = getBuiltin?.('node:crypto') as typeof NodeCrypto | undefined;
  if (crypto === undefined) {
    throw new Error(
      'node:crypto is not available in this runtime: use the Web-standard entry, @hookline/receiver/web (verifyRequest / verifyWebhook)',
    );
  }
  const keys = boundedCache<NodeCrypto.KeyObject>();
  const keyObject = (kind: string, key: KeyRef, build: () => NodeCrypto.KeyObject) => {
    const id = `${kind}\0${key.id}`;
    const cached = keys.get(id);
    if (cached !== undefined) return cached;
    const built = build();
    keys.set(id, built);
    return built;
  };
  const secretKey = (key: KeyRef) => keyObject('secret', key, () => crypto.createSecretKey(key.bytes));
  const privateKey = (seed: KeyRef) =>
    keyObject('ed25519-private', seed, () =>
      crypto.createPrivateKey({ key: asBuffer(ed25519Pkcs8(seed.bytes)), format: 'der', type: 'pkcs8' }),
    );
  const publicKey = (raw: KeyRef) =>
    keyObject('ed25519-public', raw, () =>
      crypto.createPublicKey({
        key: asBuffer(concatBytes([Buffer.from(SPKI_ED25519, 'hex'), raw.bytes])),
        format: 'der',
        type: 'spki',
      }),
    );
  const rawOf = (key: NodeCrypto.KeyObject) => {
    const der = key.export({ format: 'der', type: key.type === 'private' ? 'pkcs8' : 'spki' });
    return der.subarray(der.length - 32);
  };
  return {
    hmac(algorithm, key, parts) {
      const mac = crypto.createHmac(algorithm, secretKey(key));
      for (const part of parts) mac.update(part);
      return mac.digest();
    },
    sha256(parts) {
      const hash = crypto.createHash('sha256');
      for (const part of parts) hash.update(part);
      return hash.digest();
    },
    ed25519Verify: (key, message, signature) => crypto.verify(null, message, publicKey(key), signature),
    ed25519PublicFromSeed(seed) {
      const publicKey = keyObject('ed25519-public-of', seed, () => crypto.createPublicKey(privateKey(seed)));
      return rawOf(publicKey);
    },
    ed25519Sign: (seed, message) => crypto.sign(null, message, privateKey(seed)),
    ed25519GenerateSeed: () => rawOf(crypto.generateKeyPairSync('ed25519').privateKey),
    randomBytes: (length) => crypto.randomBytes(length),
  };
}
