/**
 * Endpoint secrets are encrypted at rest with AES-256-GCM under `HOOKLINE_SECRET_KEY`, so a
 * copy of the database alone does not let anyone forge webhooks.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

const VERSION = 'v1';

/** `key` is any string with enough entropy (Hookline generates 32 random bytes, base64). */
export function createSecretBox(key: string): SecretBox {
  const k = createHash('sha256').update(key).digest();
  const cache = new Map<string, string>();
  return {
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
      const decipher = createDecipheriv('aes-256-gcm', k, Buffer.from(iv, 'base64'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString(
        'utf8',
      );
      if (cache.size > 10_000) cache.clear();
      cache.set(sealed, plain);
      return plain;
    },
  };
}
