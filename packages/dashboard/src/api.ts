/**
 * The dashboard's only way to the server: the public HTTP API under /api/v1 with a Bearer token,
 * either the admin token or, in portal mode, an application token (`hl_app_...`) from an app
 * portal link. Every failure becomes an `ApiError` carrying the server's `{code, detail}`.
 */

import type { Static } from 'typebox';
import type {
  EndpointCaConfigOut,
  EndpointMtlsConfigOut,
  EndpointOauthConfigIn,
  EndpointOauthConfigOut,
  EndpointTransformationOut,
  EndpointTransformationPatch,
  TransformationSimulateIn,
  TransformationSimulateOut,
} from '../../server/src/api/endpoint-extras-schemas.ts';
import type { LiveAttemptOut, LiveInboundOut, OverviewOut } from '../../server/src/api/overview-schemas.ts';
import type {
  ApplicationOut,
  AttemptDetailOut,
  AttemptOut,
  BackgroundTaskOut,
  EndpointConcurrencyOut,
  EndpointHeadersOut,
  EndpointOut,
  EndpointSecretOut,
  EndpointStatsOut,
  EventTypeOut,
  InboundEventDetailOut,
  InboundEventOut,
  ListOut,
  MessageOut,
  ReplayOut,
  RetryScheduleInOut,
  SeriesOut,
  SourceOut,
  SourceSecretOut,
} from '../../server/src/api/schemas.ts';
import type { EndpointMessageOut, MessageEndpointOut } from '../../server/src/api/sending-schemas.ts';

// The server's closed sets of names (kinds, statuses, schemes): a dependency-free module, the only
// server code the bundle contains.
export {
  DeliveryStatus,
  type DeliveryStatusName,
  INBOUND_STATUSES,
  SOURCE_DESTINATION_KINDS,
  SOURCE_SCHEMES,
  type SourceDestinationKind,
  type SourceScheme,
  STATUS_TEXT,
  TriggerType,
} from '../../server/src/core/enums.ts';

const TOKEN_KEY = 'hookline.token';
/** Set in portal mode: the one application the token opens. */
const PORTAL_APP_KEY = 'hookline.portalApp';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
/** Keeps the token for this browser tab; `portalApp` marks an application token (portal mode). */
export function setToken(token: string | null, portalApp: string | null = null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  if (token && portalApp) sessionStorage.setItem(PORTAL_APP_KEY, portalApp);
  else sessionStorage.removeItem(PORTAL_APP_KEY);
}
/** The application of portal mode, or null when signed in with the admin token. */
export function getPortalApp(): string | null {
  return getToken() ? sessionStorage.getItem(PORTAL_APP_KEY) : null;
}

/**
 * Signs in from an app portal link, `/apps/{app}#key=hl_app_...` (what
 * `POST /api/v1/auth/app-portal-access/{app}` returns): keeps the token, then removes it from the
 * address bar so it stays out of the history and of screenshots. Returns true when it did.
 */
export function takePortalKey(): boolean {
  const key = new URLSearchParams(location.hash.slice(1)).get('key');
  if (!key) return false;
  const m = /^\/apps\/([^/]+)/.exec(location.pathname);
  history.replaceState(null, '', location.pathname + location.search);
  // An application token opens portal mode on its application; any other key signs in as admin.
  const portalApp = key.startsWith('hl_app_') ? m?.[1] : null;
  if (key.startsWith('hl_app_') && !portalApp) return false;
  setToken(key, portalApp ? decodeURIComponent(portalApp) : null);
  return true;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, detail: string) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
}

/** Turns an error body (`{code, detail}` or a 422 list) into one `ApiError`. */
function toError(status: number, body: unknown): ApiError {
  const b = (body ?? {}) as { code?: unknown; detail?: unknown };
  if (Array.isArray(b.detail)) {
    const issues = (b.detail as ValidationIssue[]).map((i) => `${i.loc.join('.')}: ${i.msg}`).join('; ');
    return new ApiError(status, 'validation', issues);
  }
  const detail = typeof b.detail === 'string' ? b.detail : `HTTP ${status}`;
  return new ApiError(status, typeof b.code === 'string' ? b.code : `http_${status}`, detail);
}

/** Called when the server rejects the token, so the app can show the login (or link expired) page. */
let onUnauthorized: (err: ApiError) => void = () => {};
export function setUnauthorizedHandler(fn: (err: ApiError) => void): void {
  onUnauthorized = fn;
}

export async function api<T>(method: string, path: string, body?: unknown, token = getToken()): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token ?? ''}`,
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new ApiError(0, 'network_error', `the server cannot be reached (${(err as Error).message})`);
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { detail: text };
  }
  if (!res.ok) {
    const err = toError(res.status, parsed);
    if (res.status === 401) onUnauthorized(err);
    throw err;
  }
  return parsed as T;
}

/** Builds a query string, leaving out empty values. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

// ---- wire types: the server's response schemas -----------------------------------------------
// Type-only imports (erased from the bundle): when a response schema changes, the pages that
// read it stop compiling instead of drifting from the server.

export type ListResponse<T> = ListOut<T>;
export type App = ApplicationOut;
export type Endpoint = EndpointOut;
export type Message = MessageOut;
export type Attempt = AttemptOut;
export type BackgroundTask = BackgroundTaskOut;
export type AttemptDetail = AttemptDetailOut;
export type EventType = EventTypeOut;
export type Series = SeriesOut;
/** The overview of the instance or one application (`/overview`). */
export type Overview = OverviewOut;
/** An endpoint with where one message stands there (`/msg/{msg}/endpoint`, listAttemptedDestinations). */
export type MessageDestination = Static<typeof MessageEndpointOut>;
/** A message with where it stands at one endpoint (`/endpoint/{ep}/msg`, listAttemptedMessages). */
export type EndpointMessage = Static<typeof EndpointMessageOut>;
/** Events of the live feed (`/live`). */
export type LiveAttempt = LiveAttemptOut;
export type LiveInbound = LiveInboundOut;
/** An event type's own retry schedule (`/event-type/{name}/retry-schedule`). */
export type RetrySchedule = RetryScheduleInOut;
/** An endpoint's signing secret (`/secret`). */
export type EndpointSecret = EndpointSecretOut;
/** An endpoint's custom headers (`/headers`): values, and the names of sensitive ones. */
export type EndpointHeaders = Static<typeof EndpointHeadersOut>;
/** What replaying an inbound event queued (`/source/{source}/event/{event}/replay`). */
export type InboundReplay = ReplayOut;
/** Deliveries of an endpoint by status in a window. */
export type EndpointStats = Static<typeof EndpointStatsOut>;
export type SeriesBucket = SeriesOut['data'][number];
/** A source as the API returns it: its verification secrets are never sent, only their count. */
export type Source = SourceOut;
/** The secret a source signs forwarded requests with (`/source/{source}/secret`). */
export type SourceSecret = SourceSecretOut;
export type SourceDestination = SourceOut['destinations'][number];
export type RequestField = NonNullable<SourceOut['eventType']>;
export type InboundEvent = InboundEventOut;
export type InboundStatus = InboundEventOut['status'];
export type InboundEventDetail = InboundEventDetailOut;
/** How many requests the answering process sends an endpoint at once, and why (`/concurrency`). */
export type EndpointConcurrency = EndpointConcurrencyOut;
/** An endpoint's `handler(webhook)` code and whether it runs (`/transformation`). */
export type Transformation = Static<typeof EndpointTransformationOut>;
export type TransformationPatch = Static<typeof EndpointTransformationPatch>;
export type SimulateIn = Static<typeof TransformationSimulateIn>;
/** The request a transformation would make (`/transformation/simulate`). */
export type SimulateOut = Static<typeof TransformationSimulateOut>;
/** OAuth client credentials as the API answers them: never the client secret. */
export type OauthConfig = Static<typeof EndpointOauthConfigOut>;
export type OauthConfigIn = Static<typeof EndpointOauthConfigIn>;
/** A client certificate (mTLS) or trusted CA as the API answers it: never a private key. */
export type CertificateConfig = Static<typeof EndpointMtlsConfigOut> | Static<typeof EndpointCaConfigOut>;

export const enc = encodeURIComponent;
