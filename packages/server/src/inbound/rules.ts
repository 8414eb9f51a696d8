/**
 * What a source's settings mean for one request, without I/O: which `@hookline/receiver` scheme
 * verifies it, and where its dedupe key and event type are read from.
 */
import {
  createHmacScheme,
  type GenericHmacConfig,
  type HeadersInput,
  isWebhookVerificationError,
  parseSalesforceOutboundMessage,
  type SalesforceOutboundMessage,
  type Scheme,
  type SchemeName,
  schemes,
  verify,
  WebhookVerificationError,
  withRequestQuery,
} from '@hookline/receiver';
import type { RECEIVER_SCHEMES } from '../core/enums.ts';
import type { RequestField, SourceSettings, SourceVerification } from '../core/types.ts';

// core/enums.ts spells out the receiver's scheme names for the API schemas and the dashboard
// (which cannot import the receiver); this stops the build when a scheme is added on one side only.
type Listed = (typeof RECEIVER_SCHEMES)[number];
const _schemesListed: [SchemeName, Listed] extends [Listed, SchemeName] ? true : never = true;

/** Where each provider puts the event type, when the source does not say. */
const DEFAULT_EVENT_TYPE: Record<string, RequestField> = {
  github: { header: 'x-github-event', jsonPath: null },
  shopify: { header: 'x-shopify-topic', jsonPath: null },
  stripe: { header: null, jsonPath: 'type' },
  'standard-webhooks': { header: null, jsonPath: 'type' },
  svix: { header: null, jsonPath: 'type' },
  slack: { header: null, jsonPath: 'event.type' },
  paddle: { header: null, jsonPath: 'event_type' },
  // An interaction's type (1 PING, 2 APPLICATION_COMMAND, 3 MESSAGE_COMPONENT, ...); a webhook
  // event's is `event.type` (see discordWebhookEvent).
  discord: { header: null, jsonPath: 'type' },
  // HubSpot posts a JSON array of events (up to 100), each with its subscriptionType.
  hubspot: { header: null, jsonPath: '0.subscriptionType' },
};

/** A Salesforce Outbound Message's event type: `salesforce.{sObject type}` (of its first notification). */
export const salesforceEventType = (sObjectType: string): string => `salesforce.${sObjectType}`;

/** The envelope of a Salesforce Outbound Message, or null when the body is not one. */
export function salesforceMessage(body: Buffer): SalesforceOutboundMessage | null {
  try {
    return parseSalesforceOutboundMessage(body);
  } catch {
    return null;
  }
}

/**
 * What a Discord body is. Discord posts two kinds to an app's URLs, signed alike: interactions
 * (`type` 1 PING, 2 APPLICATION_COMMAND, ...; they carry an `id` and a `token`) and webhook
 * events, which have `version`, `application_id` and `type` 0 (PING: checking the URL) or 1
 * with an `event` object (`{"type": "APPLICATION_AUTHORIZED", "timestamp": ..., "data": ...}`).
 */
export function discordWebhookEvent(json: unknown): 'ping' | 'event' | null {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return null;
  const b = json as Record<string, unknown>;
  if (b.version === undefined || b.application_id === undefined || b.id !== undefined) return null;
  if (b.type === 0) return 'ping';
  const event = b.event;
  return b.type === 1 && event !== null && typeof event === 'object' && !Array.isArray(event)
    ? 'event'
    : null;
}

/** The event type of a request whose type cannot be found. */
export const UNTYPED_EVENT = 'inbound';

/** The scheme object for a source's verification settings (throws WebhookVerificationError). */
export function schemeFor(v: SourceVerification): Scheme | null {
  if (v.scheme === 'none') return null;
  if (v.scheme === 'hmac') {
    if (!v.hmac) throw new WebhookVerificationError('missing_option', 'the hmac scheme needs its settings');
    return createHmacScheme(v.hmac as unknown as GenericHmacConfig);
  }
  if (!Object.hasOwn(schemes, v.scheme)) {
    throw new WebhookVerificationError('unsupported_scheme', `unknown scheme "${v.scheme}"`);
  }
  return schemes[v.scheme as SchemeName];
}

/**
 * Problems with verification settings, as messages: an unknown scheme, a bad generic HMAC
 * configuration, a secret the scheme cannot use, a missing Twilio URL.
 */
export function verificationProblems(v: SourceVerification): { field: string; msg: string }[] {
  let scheme: Scheme | null;
  try {
    scheme = schemeFor(v);
  } catch (err) {
    return [{ field: v.scheme === 'hmac' ? 'hmac' : 'scheme', msg: (err as Error).message }];
  }
  if (!scheme) return [];
  const problems: { field: string; msg: string }[] = [];
  if (v.secrets.length === 0)
    problems.push({ field: 'secrets', msg: `the ${v.scheme} scheme needs a secret` });
  v.secrets.forEach((secret, i) => {
    try {
      if (scheme.validateSecret) scheme.validateSecret(secret);
      else if (secret.length === 0) throw new Error('a secret is empty');
    } catch (err) {
      problems.push({ field: `secrets.${i}`, msg: (err as Error).message });
    }
  });
  if ((v.scheme === 'twilio' || v.scheme === 'hubspot') && !v.url)
    problems.push({
      field: 'url',
      msg: `${v.scheme === 'twilio' ? 'Twilio' : 'HubSpot'} signs the URL it calls: set url to the public URL of /in/{name}`,
    });
  return problems;
}

const schemeCache = new Map<string, Scheme | null>();

/** What a verified request tells about its identity (see `VerifyResult` of `@hookline/receiver`). */
export interface VerifiedIdentity {
  /** The provider's id for the event, when the scheme has one. */
  id: string | undefined;
  /** True when `id` is covered by the signature. */
  idSigned: boolean;
  /** Hex SHA-256 of the content the signature covers; undefined when nothing is signed. */
  contentHash: string | undefined;
}

export type Verdict =
  | ({ ok: true } & VerifiedIdentity)
  | { ok: false; code: WebhookVerificationError['code']; detail: string };

const UNVERIFIED: Verdict = { ok: true, id: undefined, idSigned: false, contentHash: undefined };

/**
 * Verifies one request against its source; a failure is a verdict, never a throw.
 * `requestUrl` is the request target as received (`/in/name?query`): schemes that sign the URL
 * (Twilio, HubSpot) are checked against the source's `url` with this query string, since
 * providers sign the URL they call, and Twilio adds `bodySHA256` to it for JSON bodies.
 */
export function verifyRequest(
  source: SourceSettings,
  body: Buffer,
  headers: HeadersInput,
  receivedAtMs: number,
  method = 'POST',
  requestUrl?: string,
): Verdict {
  const v = source.verification;
  try {
    const cacheKey = `${source.id}:${source.updatedAt}`;
    let scheme = schemeCache.get(cacheKey);
    if (scheme === undefined) {
      scheme = schemeFor(v);
      if (schemeCache.size > 1000) schemeCache.clear();
      schemeCache.set(cacheKey, scheme);
    }
    if (!scheme) return UNVERIFIED;
    const result = verify({
      scheme,
      body,
      headers,
      secret: v.secrets,
      ...(v.tolerance !== null ? { tolerance: v.tolerance } : {}),
      ...(v.url !== null ? { url: withRequestQuery(v.url, requestUrl) } : {}),
      method,
      receivedAt: receivedAtMs / 1000,
    });
    return {
      ok: true,
      id: result.id,
      idSigned: result.idSigned === true,
      contentHash: result.contentHash,
    };
  } catch (err) {
    if (isWebhookVerificationError(err)) return { ok: false, code: err.code, detail: err.message };
    throw err;
  }
}

/** A header's value (repeats joined), or undefined. */
function headerValue(headers: readonly [string, string][], name: string): string | undefined {
  const wanted = name.toLowerCase();
  const values = headers.filter(([k]) => k.toLowerCase() === wanted).map(([, v]) => v);
  return values.length > 0 ? values.join(', ') : undefined;
}

/** Reads a dotted path (`data.object.id`) from a JSON value; only strings and numbers count. */
export function jsonPathValue(json: unknown, path: string): string | undefined {
  let node = json;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'string' || typeof node === 'number' ? String(node) : undefined;
}

/** Reads the body as JSON once, lazily; undefined when it is not JSON. */
export function lazyJson(body: Buffer): () => unknown {
  let parsed: { value: unknown } | null = null;
  return () => {
    if (!parsed) {
      try {
        parsed = { value: JSON.parse(body.toString('utf8')) };
      } catch {
        parsed = { value: undefined };
      }
    }
    return parsed.value;
  };
}

function fieldValue(
  field: RequestField,
  headers: readonly [string, string][],
  json: () => unknown,
): string | undefined {
  if (field.header) return headerValue(headers, field.header);
  if (field.jsonPath) return jsonPathValue(json(), field.jsonPath);
  return undefined;
}

/**
 * The dedupe key: the rule's header or JSON field; else the id the scheme reported when the
 * signature covers it; else `sha256:` + the hash of the signed content. GitHub's, Shopify's and
 * Twilio's ids are not signed: keyed on them, a captured request resent under a new id would
 * pass as new. Providers resend the same signed content with the same id, so the content is
 * as good a key for their retries. Null when dedupe is off or nothing identifies the request.
 */
export function dedupeKey(
  source: SourceSettings,
  headers: readonly [string, string][],
  json: () => unknown,
  verified: VerifiedIdentity | undefined,
): string | null {
  const rule = source.dedupe;
  if (!rule) return null;
  let value: string | undefined;
  if (rule.header || rule.jsonPath) value = fieldValue(rule, headers, json);
  else if (verified?.id !== undefined && verified.idSigned) value = verified.id;
  else if (verified?.contentHash !== undefined) value = `sha256:${verified.contentHash}`;
  else value = verified?.id;
  return value ? value.slice(0, 512) : null;
}

/** The event type destinations filter on: the source's field, else the provider's usual place. */
export function eventTypeOf(
  source: SourceSettings,
  headers: readonly [string, string][],
  json: () => unknown,
  /** For a Salesforce source: its parsed Outbound Message (see salesforceMessage). */
  salesforce?: SalesforceOutboundMessage | null,
): string {
  let field = source.eventType ?? DEFAULT_EVENT_TYPE[source.verification.scheme];
  if (!source.eventType && source.verification.scheme === 'discord' && discordWebhookEvent(json()))
    field = { header: null, jsonPath: 'event.type' };
  let value = field ? fieldValue(field, headers, json) : undefined;
  if (!field && source.verification.scheme === 'salesforce') {
    const type = salesforce?.notifications[0]?.sObject.type;
    if (type) value = salesforceEventType(type);
  }
  return value ? value.slice(0, 256) : UNTYPED_EVENT;
}
