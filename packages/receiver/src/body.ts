import { WebhookVerificationError } from './errors.ts';

// Runtimes without Buffer (Cloudflare Workers without nodejs_compat) get plain Uint8Arrays.
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

/**
 * The request body exactly as received. Signatures cover bytes, so a body that was parsed
 * and serialized again (even with the same keys) will not verify.
 */
export type RawBody = string | Uint8Array | ArrayBuffer;

/**
 * The bytes of a body as the schemes get them: Node's `Buffer` in programs that have Node's
 * types (`@types/node`), `Uint8Array` in those that do not (a Worker's), so the declarations
 * need no Node types. At run time it is a Buffer wherever the runtime has Buffer.
 */
export type BodyBytes = typeof globalThis extends { Buffer: { prototype: infer B } } ? B : Uint8Array;

/**
 * Converts a raw body to a Buffer without copying when possible; rejects parsed objects. Where
 * the runtime has no Buffer, the result is a Uint8Array (the built-in schemes use no Buffer
 * methods on it).
 */
export function toBodyBuffer(body: unknown, scheme?: string): BodyBytes {
  if (NodeBuffer === undefined) {
    if (typeof body === 'string') return new TextEncoder().encode(body) as BodyBytes;
    if (body instanceof Uint8Array) return body as BodyBytes;
    if (body instanceof ArrayBuffer) return new Uint8Array(body) as BodyBytes;
  } else {
    if (typeof body === 'string') return NodeBuffer.from(body, 'utf8');
    if (NodeBuffer.isBuffer(body)) return body;
    if (body instanceof Uint8Array) return NodeBuffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (body instanceof ArrayBuffer) return NodeBuffer.from(body);
  }
  const parsed = typeof body === 'object' && body !== null;
  const got = Array.isArray(body)
    ? 'an array'
    : parsed
      ? `an object (${body.constructor?.name ?? 'null prototype'})`
      : body === null || body === undefined
        ? String(body)
        : `a ${typeof body}`;
  throw new WebhookVerificationError(
    'invalid_body',
    parsed
      ? `the body is ${got}, not raw bytes: the body was already parsed (and would have to be re-serialized), so the signature cannot be checked. Pass the raw bytes: a Buffer, Uint8Array or string read before any JSON/form parser ran`
      : `the body is ${got}: pass the raw request bytes as a Buffer, Uint8Array or string`,
    { scheme },
  );
}
