/**
 * The dashboard's only way to the server: the public HTTP API under /api/v1 with a Bearer token,
 * either the admin token or, in portal mode, an application token (`hl_app_...`) from an app
 * portal link. Every failure becomes an `ApiError` carrying the server's `{code, detail}`.
 */

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

// ---- wire types (the subset of the API's responses the dashboard reads) ----------------------

export interface ListResponse<T> {
  data: T[];
  iterator: string | null;
  prevIterator: string | null;
  done: boolean;
}
export interface App {
  id: string;
  uid: string | null;
  name: string;
  createdAt: string;
}
export interface Endpoint {
  id: string;
  uid: string | null;
  url: string;
  description: string;
  disabled: boolean;
  filterTypes: string[] | null;
  channels: string[] | null;
  kind: 'http' | 'listen' | 'slack' | 'discord' | 'teams';
  template: Record<string, unknown> | null;
  createdAt: string;
}
export interface Message {
  id: string;
  eventId: string | null;
  eventType: string;
  payload: Record<string, unknown>;
  channels: string[] | null;
  timestamp: string;
}
export interface Attempt {
  id: string;
  msgId: string;
  endpointId: string;
  url: string;
  response: string;
  responseStatusCode: number;
  responseDurationMs: number;
  status: number;
  statusText: string;
  triggerType: number;
  timestamp: string;
  msg?: Message;
}
export interface AttemptDetail extends Attempt {
  requestHeaders: Record<string, string>;
  responseHeaders: Record<string, string>;
}
export interface EventType {
  name: string;
  description: string;
  archived: boolean;
  deprecated: boolean;
  schemas: Record<string, unknown> | null;
  groupName?: string | null;
}
export interface SeriesBucket {
  start: string;
  attempts: number;
  successes: number;
  p50Ms: number | null;
  p95Ms: number | null;
}
export interface Series {
  since: string;
  until: string;
  bucketSeconds: number;
  disabled: boolean;
  failingSince: string | null;
  data: SeriesBucket[];
}

export interface SourceDestination {
  id: string;
  url: string;
  headers: Record<string, string>;
  eventTypes: string[] | null;
  disabled: boolean;
}
export interface RequestField {
  header: string | null;
  jsonPath: string | null;
}
/** A source as the API returns it: its verification secrets are never sent, only their count. */
export interface Source {
  id: string;
  name: string;
  description: string;
  ingestPath: string;
  appId: string;
  verification: {
    scheme: string;
    secretCount: number;
    tolerance: number | null;
    url: string | null;
    hmac: Record<string, unknown> | null;
  };
  forwardSecretType: string;
  dedupe: (RequestField & { windowSeconds: number }) | null;
  eventType: RequestField | null;
  maxBodyBytes: number | null;
  destinations: SourceDestination[];
  createdAt: string;
  updatedAt: string;
}
export type InboundStatus = 'accepted' | 'rejected' | 'duplicate' | 'handshake';
export interface InboundEvent {
  id: string;
  sourceId: string;
  status: InboundStatus;
  eventType: string;
  dedupeKey: string | null;
  duplicateOf: string | null;
  verification: { code: string; detail: string } | null;
  method: string;
  contentType: string | null;
  bodySize: number;
  receivedAt: string;
  /** A split request (Salesforce): the messages it was forwarded as; null when the event is its message. */
  messageIds: string[] | null;
}
export interface InboundEventDetail extends InboundEvent {
  /** As received: original case and order, repeats kept. */
  headers: [string, string][];
  body: string;
  bodyEncoding: 'utf8' | 'base64';
  attempts: Attempt[];
}

export const enc = encodeURIComponent;
