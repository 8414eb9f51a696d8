/**
 * Endpoint secrets are encrypted at rest with AES-256-GCM under `HOOKLINE_SECRET_KEY`, so a
 * copy of the database alone does not let anyone forge webhooks. What is sealed: each endpoint's
 * signing secrets and custom headers (they often carry credentials), and each inbound source's
 * verification secrets, forwarding secrets and handshake settings.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
  /**
   * Names the sealing key without revealing it (a hash of the derived key). Stored in the
   * database, it tells a process started with another key to stop before it fails every read.
   */
  readonly fingerprint: string;
}

/** A sealed value that none of the box's keys opens: the key is not the one it was sealed with. */
export class SecretKeyMismatchError extends Error {
  constructor() {
    super('a stored secret cannot be decrypted with this secret key (HOOKLINE_SECRET_KEY)');
    this.name = 'SecretKeyMismatchError';
  }
}

const VERSION = 'v1';

const deriveKey = (key: string) => createHash('sha256').update(key).digest();

/** Text `seal` produced (its version prefix), as opposed to anything stored in the clear. */
export const isSealed = (text: string): boolean => text.startsWith(`${VERSION}:`);

/** The fingerprint of `key` (see `SecretBox.fingerprint`). */
export function secretKeyFingerprint(key: string): string {
  return createHash('sha256')
    .update('hookline secret key fingerprint\0')
    .update(deriveKey(key))
    .digest('hex')
    .slice(0, 16);
}

/**
 * `key` is any string with enough entropy (Hookline generates 32 random bytes, base64). It seals;
 * `previousKeys` only open (while `hookline rotate-secret-key` re-encrypts under a new key).
 */
export function createSecretBox(key: string, previousKeys: string[] = []): SecretBox {
  const k = deriveKey(key);
  const openers = [k, ...previousKeys.map(deriveKey)];
  const cache = new Map<string, string>();
  const tryOpen = (k: Buffer, iv: string, tag: string, data: string): string | null => {
    try {
      const decipher = createDecipheriv('aes-256-gcm', k, Buffer.from(iv, 'base64'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  };
  return {
    fingerprint: secretKeyFingerprint(key),
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', k, iv);
      const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [
        VERSION,
        iv.toString('base64'),
        cipher.getAuthTag().toString('base64'),
        data.toString('base64'),
      ].join(':');
    },
    open(sealed) {
      const hit = cache.get(sealed);
      if (hit !== undefined) return hit;
      const [version, iv, tag, data] = sealed.split(':');
      if (version !== VERSION || !iv || !tag || data === undefined) {
        throw new Error('stored secret is not in a format this version of Hookline can read');
      }
      let plain: string | null = null;
      for (const key of openers) {
        plain = tryOpen(key, iv, tag, data);
        if (plain !== null) break;
      }
      if (plain === null) throw new SecretKeyMismatchError();
      if (cache.size > 10_000) cache.clear();
      cache.set(sealed, plain);
      return plain;
    },
  };
}
