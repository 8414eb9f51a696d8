import {
  fromBase64,
  fromHex,
  type HmacAlgorithm,
  type SignatureEncoding,
  toBase64,
  utf8,
} from '../crypto.ts';
import { WebhookVerificationError } from '../errors.ts';
import type { Scheme } from '../scheme.ts';
import { textSecretHint } from './hints.ts';
import { defineHmacScheme, requireHeader, type SignedFields, stripPrefix } from './hmac-scheme.ts';

/** Configuration of a custom HMAC scheme; see {@link createHmacScheme}. */
export interface GenericHmacConfig {
  /** Name in results and errors. Default `hmac`. */
  readonly name?: string | undefined;
  /** Header that carries the signature, e.g. `X-Signature`. */
  readonly header: string;
  /** Default `sha256`. */
  readonly algorithm?: HmacAlgorithm | undefined;
  /** Default `hex`. Hex signatures are compared case-insensitively. */
  readonly encoding?: SignatureEncoding | undefined;
  /** Text before the signature in the header, e.g. `sha256=`. Required when set. */
  readonly prefix?: string | undefined;
  /**
   * What is signed. Placeholders: `{body}` (raw bytes), `{timestamp}`, `{id}`, `{url}`, `{method}`.
   * Default `{body}`. `{timestamp}` needs `timestampHeader`; `{id}` needs `idHeader`.
   */
  readonly template?: string | undefined;
  /** Header with the signed timestamp. Enables the freshness check. */
  readonly timestampHeader?: string | undefined;
  /** Unit of the timestamp header. Default `seconds`. */
  readonly timestampUnit?: 'seconds' | 'milliseconds' | undefined;
  /** Header with the delivery id, reported as `id` (and usable in the template). */
  readonly idHeader?: string | undefined;
  /** Default tolerance in seconds when `timestampHeader` is set. Default 300. */
  readonly tolerance?: number | undefined;
  /** How the configured secret becomes key bytes. Default `utf8` (the text itself). */
  readonly secretEncoding?: 'utf8' | 'base64' | 'hex' | undefined;
}

type Placeholder = 'body' | 'timestamp' | 'id' | 'url' | 'method';
type TemplatePart = { readonly text: string } | { readonly field: Placeholder };

const PLACEHOLDER = /\{(body|timestamp|id|url|method)\}/g;

function compileTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push({ text: template.slice(last, match.index) });
    parts.push({ field: match[1] as Placeholder });
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push({ text: template.slice(last) });
  return parts;
}

/**
 * Builds a scheme for a provider that signs with one HMAC, from data:
 *
 * ```ts
 * const linear = createHmacScheme({ name: 'linear', header: 'Linear-Signature' });
 * const acme = createHmacScheme({
 *   header: 'X-Acme-Signature', prefix: 'sha512=', algorithm: 'sha512', encoding: 'base64',
 *   template: '{timestamp}.{body}', timestampHeader: 'X-Acme-Timestamp', tolerance: 600,
 * });
 * ```
 */
export function createHmacScheme(config: GenericHmacConfig): Scheme {
  const name = config.name ?? 'hmac';
  const template = config.template ?? '{body}';
  const compiled = compileTemplate(template);
  const uses = (field: Placeholder) => compiled.some((part) => 'field' in part && part.field === field);
  if (uses('timestamp') && config.timestampHeader === undefined) {
    throw new TypeError(`${name}: the template uses {timestamp} but no timestampHeader is configured`);
  }
  if (uses('id') && config.idHeader === undefined) {
    throw new TypeError(`${name}: the template uses {id} but no idHeader is configured`);
  }
  const encoding = config.encoding ?? 'hex';
  const secretEncoding = config.secretEncoding ?? 'utf8';
  const prefix = config.prefix ?? '';

  const needsUrl = (fields: SignedFields, field: 'url' | 'method') => {
    const value = fields[field];
    if (value === undefined) {
      throw new WebhookVerificationError(
        'missing_option',
        `the template signs {${field}}: pass the \`${field}\` option`,
        {
          scheme: name,
        },
      );
    }
    return value;
  };

  return defineHmacScheme({
    name,
    algorithm: config.algorithm ?? 'sha256',
    encoding,
    defaultTolerance: config.timestampHeader === undefined ? undefined : (config.tolerance ?? 300),
    timestampDivisor: config.timestampUnit === 'milliseconds' ? 1000 : 1,
    keyTag: secretEncoding,
    key(secret) {
      if (secretEncoding === 'utf8') return utf8(secret);
      const bytes =
        secretEncoding === 'hex'
          ? /^(?:[0-9a-fA-F]{2})+$/.test(secret)
            ? fromHex(secret)
            : undefined
          : /^[A-Za-z0-9+/]+={0,2}$/.test(secret)
            ? fromBase64(secret)
            : undefined;
      // Only canonical text: base64 whose last character carries bits no byte uses is refused.
      const canonical = (text: string) => text.replace(/=+$/, '');
      if (
        bytes === undefined ||
        bytes.length === 0 ||
        (secretEncoding === 'base64' && canonical(toBase64(bytes)) !== canonical(secret))
      ) {
        throw new WebhookVerificationError('invalid_secret', `the secret is not valid ${secretEncoding}`, {
          scheme: name,
        });
      }
      return bytes;
    },
    read(headers) {
      const raw = requireHeader(headers, config.header, name);
      const signature = prefix === '' ? raw : stripPrefix(raw, prefix, config.header, name);
      return {
        signatures: [encoding === 'hex' ? signature.toLowerCase() : signature],
        timestamp:
          config.timestampHeader === undefined
            ? undefined
            : requireHeader(headers, config.timestampHeader, name),
        id:
          config.idHeader === undefined
            ? undefined
            : uses('id')
              ? requireHeader(headers, config.idHeader, name)
              : headers.get(config.idHeader),
      };
    },
    content: (fields) =>
      compiled.map((part) => {
        if ('text' in part) return part.text;
        if (part.field === 'body') return fields.body;
        if (part.field === 'url' || part.field === 'method') return needsUrl(fields, part.field);
        return fields[part.field] ?? '';
      }),
    write(signatures, fields) {
      const headers: Record<string, string> = { [config.header]: `${prefix}${signatures[0] ?? ''}` };
      if (config.timestampHeader !== undefined) headers[config.timestampHeader] = fields.timestamp ?? '';
      if (config.idHeader !== undefined && fields.id !== undefined) headers[config.idHeader] = fields.id;
      return headers;
    },
    secretHint: secretEncoding === 'utf8' ? textSecretHint : undefined,
    idSigned: uses('id'),
  });
}
