import type { Scheme } from '../scheme.ts';
import { textSecretHint } from './hints.ts';
import { defineHmacScheme, requireHeader, stripPrefix } from './hmac-scheme.ts';

/** Options for {@link createGithubScheme}. */
export interface GithubSchemeOptions {
  /**
   * Accept the legacy SHA-1 `X-Hub-Signature` when `X-Hub-Signature-256` is absent.
   * Off by default: SHA-1 is only for old GitHub Enterprise servers.
   */
  readonly allowSha1?: boolean | undefined;
}

const NAME = 'github';
const SHA256_HEADER = 'X-Hub-Signature-256';
const SHA1_HEADER = 'X-Hub-Signature';

// X-GitHub-Delivery is not signed (idSigned stays false): a resend under a new delivery id
// has the same contentHash.
const common = {
  encoding: 'hex',
  secretHint: textSecretHint,
} as const satisfies Partial<Parameters<typeof defineHmacScheme>[0]>;

const sha256 = defineHmacScheme({
  ...common,
  name: NAME,
  algorithm: 'sha256',
  read(headers) {
    const header = requireHeader(headers, SHA256_HEADER, NAME);
    return {
      signatures: [stripPrefix(header, 'sha256=', SHA256_HEADER, NAME)],
      id: headers.get('X-GitHub-Delivery'),
    };
  },
  content: ({ body }) => [body],
  write: ([signature], { id }) => ({
    [SHA256_HEADER]: `sha256=${signature}`,
    ...(id === undefined ? {} : { 'X-GitHub-Delivery': id }),
  }),
});

const sha1 = defineHmacScheme({
  ...common,
  name: NAME,
  algorithm: 'sha1',
  read(headers) {
    const header = requireHeader(headers, SHA1_HEADER, NAME);
    return {
      signatures: [stripPrefix(header, 'sha1=', SHA1_HEADER, NAME)],
      id: headers.get('X-GitHub-Delivery'),
    };
  },
  content: ({ body }) => [body],
  write: ([signature], { id }) => ({
    [SHA1_HEADER]: `sha1=${signature}`,
    ...(id === undefined ? {} : { 'X-GitHub-Delivery': id }),
  }),
});

/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 over the raw body, no timestamp
 * (deduplicate on `X-GitHub-Delivery`). With `allowSha1`, falls back to `X-Hub-Signature: sha1=<hex>`.
 */
export function createGithubScheme(options: GithubSchemeOptions = {}): Scheme {
  if (!options.allowSha1) return sha256;
  return {
    ...sha256,
    parse(request) {
      const useSha1 =
        request.headers.get(SHA256_HEADER) === undefined && request.headers.get(SHA1_HEADER) !== undefined;
      const parsed = (useSha1 ? sha1 : sha256).parse(request);
      return { ...parsed, state: { useSha1, inner: parsed } };
    },
    check(secret, parsed, request) {
      const { useSha1, inner } = parsed.state as { useSha1: boolean; inner: typeof parsed };
      return (useSha1 ? sha1 : sha256).check(secret, inner, request);
    },
    signedContent(parsed, request) {
      const { useSha1, inner } = parsed.state as { useSha1: boolean; inner: typeof parsed };
      return (useSha1 ? sha1 : sha256).signedContent?.(inner, request) ?? [request.body];
    },
    // GitHub sends both headers; signing both lets receivers of either kind verify.
    sign: (parts) => ({ headers: { ...sha1.sign(parts).headers, ...sha256.sign(parts).headers } }),
  };
}

/** GitHub with SHA-256 only; see {@link createGithubScheme}. */
export const github: Scheme = createGithubScheme();
