/**
 * The checks an endpoint and a source destination share: both are places Hookline sends to, so
 * the same URL safety, chat-URL, custom-header and template rules apply to each. The schema has
 * already checked the shapes; these are the rules a schema cannot express. Each problem's path
 * is relative to the endpoint or destination object; the caller puts it under its own `loc`.
 */
import { invalid } from '../core/errors.ts';
import { secretProblem } from '../core/signing.ts';
import { isChatKind } from '../core/types.ts';
import { checkTemplate } from '../delivery/chat.ts';
import { isForbiddenCustomHeader, isHeaderName, isHeaderValue } from '../delivery/headers.ts';
import { checkDestination, checkUrlShape } from '../delivery/ssrf.ts';

/** A 422 for a supplied signing secret (endpoint or source) that could never sign. */
export function assertSigningSecret(secret: string | null | undefined, loc: (string | number)[]): void {
  if (!secret) return;
  const problem = secretProblem(secret);
  if (problem) throw invalid(loc, problem);
}

/** How long a rotated-out signing secret stays valid when the request does not say. */
export const DEFAULT_GRACE_SECONDS = 24 * 3600;

export interface DestinationProblem {
  path: (string | number)[];
  msg: string;
  /** The 422 issue type (`value_error.url`, `value_error.template` or `value_error`). */
  type: string;
}

/**
 * Chat platforms' incoming webhooks are all https; the real hosts are not required, so a proxy
 * or a self-hosted stand-in works too. Null when the URL is fine for `kind`.
 */
export function chatUrlProblem(
  kind: string | undefined,
  protocol: string,
  allowPrivate: boolean,
): string | null {
  if (!isChatKind(kind) || protocol === 'https:' || allowPrivate) return null;
  return `url of a ${kind} destination must use https (the incoming-webhook URL ${kind} gave you)`;
}

/**
 * What is wrong with where a destination sends, its custom headers and its chat template; fields
 * left undefined (a PATCH that does not change them) are not checked. `listen` URLs are on the
 * machine of the `hookline listen` client and never fetched by the server, so their address is
 * not checked against private networks.
 */
export async function destinationProblems(
  fields: {
    url?: string | undefined;
    kind?: string | undefined;
    headers?: Record<string, string> | null | undefined;
    template?: Record<string, unknown> | null | undefined;
  },
  allowPrivateNetworks: boolean,
): Promise<DestinationProblem[]> {
  const problems: DestinationProblem[] = [];
  if (fields.url !== undefined) {
    const shape = checkUrlShape(fields.url);
    const chat = 'reason' in shape ? null : chatUrlProblem(fields.kind, shape.protocol, allowPrivateNetworks);
    if ('reason' in shape)
      problems.push({ path: ['url'], msg: `url ${shape.reason}`, type: 'value_error.url' });
    else if (chat) problems.push({ path: ['url'], msg: chat, type: 'value_error.url' });
    // Never fetched by the server: a listen client's local URL, a polling endpoint's (unused) one.
    else if (fields.kind !== 'listen' && fields.kind !== 'poller') {
      const problem = await checkDestination(shape, allowPrivateNetworks);
      if (problem) {
        problems.push({
          path: ['url'],
          msg: `url ${problem.reason}; set HOOKLINE_ALLOW_PRIVATE_NETWORKS=true to allow this in development`,
          type: 'value_error.url',
        });
      }
    }
  }
  for (const [name, value] of Object.entries(fields.headers ?? {})) {
    if (!isHeaderName(name)) {
      problems.push({
        path: ['headers', name],
        msg: `header name ${JSON.stringify(name)} is not a valid HTTP header name`,
        type: 'value_error',
      });
    } else if (isForbiddenCustomHeader(name)) {
      problems.push({
        path: ['headers', name],
        msg: `header "${name}" is set by Hookline and cannot be overridden`,
        type: 'value_error',
      });
    } else if (!isHeaderValue(value)) {
      // Accepted, such a value would make every delivery fail (and CR/LF would split the request).
      problems.push({
        path: ['headers', name],
        msg: `header "${name}" has a character an HTTP header cannot carry (a line break or other control character, or one above U+00FF)`,
        type: 'value_error',
      });
    }
  }
  if (fields.template) {
    if (!isChatKind(fields.kind)) {
      problems.push({
        path: ['template'],
        msg: 'template is only used by chat destinations (kind slack, discord or teams)',
        type: 'value_error',
      });
    } else {
      const problem = await checkTemplate(fields.template);
      if (problem) {
        problems.push({
          path: ['template', ...problem.path],
          msg: `template ${problem.message}`,
          type: 'value_error.template',
        });
      }
    }
  }
  return problems;
}
