/**
 * Transformations: an endpoint's JavaScript `handler(webhook)` (Svix's shape) may change the
 * payload, the method, the URL's path and query and the headers, or cancel the delivery. It runs
 * in a sandbox worker (`transform-runner.ts`); what it returns is checked here, and anything
 * unusable fails the attempt with the reason in its log. The request is signed after the
 * transformation, over the body that is actually sent.
 */
import { TRANSFORMATION_MAX_BYTES } from '../core/formats.ts';
import { isForbiddenCustomHeader, isHeaderName, isHeaderValue } from './headers.ts';
import { runTransformation } from './transform-runner.ts';

/** What `handler(webhook)` receives and returns. */
export interface Webhook {
  method: string;
  url: string;
  eventType: string;
  payload: unknown;
  /** Headers to add to the request (the endpoint's custom headers are not shown). */
  headers: Record<string, string>;
  /** Set to true to send nothing: the delivery is canceled. */
  cancel: boolean;
}

export type Transformed =
  | {
      ok: true;
      cancel: boolean;
      method: string;
      url: string;
      /** The body to send (JSON text). */
      payload: string;
      headers: Record<string, string>;
    }
  | { ok: false; message: string };

/** The longest handler code an endpoint may have (kept with the API's formats, which bound it too). */
export { TRANSFORMATION_MAX_BYTES };

const METHODS = new Set(['POST', 'PUT', 'PATCH']);
/** The largest body a transformation may produce. */
const MAX_OUTPUT_BYTES = 1024 * 1024;

/** Checks what the handler returned against the endpoint it was run for. */
export function readOutput(output: string, endpointUrl: string): Transformed {
  const bad = (why: string): Transformed => ({ ok: false, message: `handler(webhook) returned ${why}` });
  if (output.length > MAX_OUTPUT_BYTES) return bad(`more than ${MAX_OUTPUT_BYTES} bytes`);
  let w: Partial<Webhook>;
  try {
    w = JSON.parse(output) as Partial<Webhook>;
  } catch {
    return bad('something that is not JSON');
  }
  if (w === null || typeof w !== 'object' || Array.isArray(w))
    return bad('something other than the webhook object');
  if (w.cancel !== undefined && typeof w.cancel !== 'boolean') return bad('a cancel that is not a boolean');
  const method = w.method === undefined ? 'POST' : w.method;
  if (typeof method !== 'string' || !METHODS.has(method.toUpperCase()))
    return bad(`the method ${JSON.stringify(method)} (POST, PUT or PATCH)`);
  const base = new URL(endpointUrl);
  let url: URL;
  try {
    url = new URL(typeof w.url === 'string' ? w.url : endpointUrl);
  } catch {
    return bad('a url that is not a URL');
  }
  // Only the path and query may change: the endpoint's origin is what was checked when it was saved.
  if (url.origin !== base.origin) return bad(`a url outside the endpoint's origin (${base.origin})`);
  if (url.username || url.password) return bad('a url with credentials');
  const headers: Record<string, string> = {};
  if (w.headers !== undefined && w.headers !== null) {
    if (typeof w.headers !== 'object' || Array.isArray(w.headers))
      return bad('headers that are not an object');
    for (const [k, v] of Object.entries(w.headers)) {
      if (typeof v !== 'string' || !isHeaderName(k) || !isHeaderValue(v))
        return bad(`the header ${JSON.stringify(k)} with a value HTTP cannot carry`);
      if (isForbiddenCustomHeader(k)) return bad(`the header ${k}, which Hookline sets itself`);
      headers[k.toLowerCase()] = v;
    }
  }
  if (!('payload' in w) || w.payload === undefined) return bad('no payload');
  return {
    ok: true,
    cancel: w.cancel === true,
    method: method.toUpperCase(),
    url: url.href,
    payload: JSON.stringify(w.payload),
    headers,
  };
}

/** Runs an endpoint's handler on a webhook and checks the result. */
export async function transform(code: string, input: Webhook, endpointUrl: string): Promise<Transformed> {
  const out = await runTransformation('run', code, input);
  if (!out.ok) return { ok: false, message: `the transformation ${out.message}` };
  const read = readOutput(out.output, endpointUrl);
  return read.ok ? read : { ok: false, message: `the transformation's ${read.message}` };
}

/** Evaluates code once to find problems before it is saved (syntax, no `handler`). */
export async function checkTransformation(code: string): Promise<string | null> {
  const out = await runTransformation('check', code, null);
  return out.ok ? null : out.message;
}
