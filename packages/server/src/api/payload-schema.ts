/**
 * Payload schemas that mean something: an event type's JSON Schema (its newest version in
 * `schemas`) checked against message payloads on publish, when the event type opts in
 * (`validatePayload`) or, for those that do not say, when the server does
 * (`HOOKLINE_VALIDATE_PAYLOADS`). A payload that does not match is answered 422
 * `payload_invalid`, each issue's `loc` pointing at the failing field under `payload`.
 *
 * Publishing must not pay a query per message for this: each process keeps the catalog's event
 * types that have a schema, read again at most every `CATALOG_TTL_MS` (and at once after a change
 * through this process). Compiled validators are cached per event type and version (`updatedAt`).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { HooklineError, type ValidationIssue } from '../core/errors.ts';
import type { EventType } from '../core/types.ts';
import type { Store } from '../store/store.ts';

const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: true });
addFormats.default(ajv);

/** Most issues one answer lists. */
const MAX_ISSUES = 20;
const cache = new Map<string, { updatedAt: number; validate: ValidateFunction | null }>();

/** The newest schema version of an event type (by numeric version key), or null. */
export function newestSchema(schemas: Record<string, unknown> | null): Record<string, unknown> | null {
  const versions = Object.keys(schemas ?? {}).sort((a, b) => Number(b) - Number(a) || b.localeCompare(a));
  const s = versions.length > 0 ? schemas![versions[0]!] : null;
  return s !== null && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, unknown>) : null;
}

/** Why the schema cannot be used to check payloads, or null when it can. */
export function schemaProblem(schemas: Record<string, unknown> | null): string | null {
  const s = newestSchema(schemas);
  if (!s) return 'the event type has no JSON Schema to check payloads against';
  try {
    ajv.compile(withoutId(s));
    return null;
  } catch (err) {
    return `the JSON Schema cannot be compiled: ${(err as Error).message}`;
  }
}

/** `$id` would register the schema globally in Ajv; each event type's is compiled on its own. */
const withoutId = (s: Record<string, unknown>) => {
  const { $id: _id, ...rest } = s;
  return rest;
};

function validatorFor(t: EventType): ValidateFunction | null {
  const hit = cache.get(t.name);
  if (hit && hit.updatedAt === t.updatedAt) return hit.validate;
  let validate: ValidateFunction | null = null;
  const s = newestSchema(t.schemas);
  if (s) {
    try {
      validate = ajv.compile(withoutId(s));
    } catch {
      // A schema that cannot compile checks nothing (setting validatePayload refuses one).
      validate = null;
    }
  }
  cache.set(t.name, { updatedAt: t.updatedAt, validate });
  return validate;
}

/** Throws 422 `payload_invalid` when validation is on for `t` and the payload does not match. */
export function checkPayload(t: EventType | null, payload: unknown, serverDefault: boolean): void {
  if (!t || !(t.validatePayload ?? serverDefault)) return;
  const validate = validatorFor(t);
  if (!validate || validate(payload)) return;
  const issues: ValidationIssue[] = (validate.errors ?? []).slice(0, MAX_ISSUES).map((e) => {
    const path = e.instancePath
      .split('/')
      .filter(Boolean)
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'required') path.push(String(params.missingProperty));
    if (e.keyword === 'additionalProperties') path.push(String(params.additionalProperty));
    return {
      loc: ['body', 'payload', ...path.map((p) => (/^\d+$/.test(p) ? Number(p) : p))],
      msg: e.keyword === 'required' ? 'field required' : (e.message ?? 'invalid value'),
      type: `value_error.jsonschema.${e.keyword}`,
    };
  });
  throw new HooklineError(
    'payload_invalid',
    `the payload does not match the JSON Schema of event type "${t.name}"`,
    issues,
  );
}

const CATALOG_TTL_MS = 2_000;

interface Catalog {
  byName: Map<string, EventType>;
  readAt: number;
  reading: Promise<Map<string, EventType>> | null;
}
const catalogs = new WeakMap<Store, Catalog>();

async function readCatalog(store: Store): Promise<Map<string, EventType>> {
  const byName = new Map<string, EventType>();
  let after: string | null = null;
  for (;;) {
    const page = await store.listEventTypes({ limit: 250, after, before: null, order: 'asc' }, false);
    for (const t of page.items) if (t.schemas && Object.keys(t.schemas).length > 0) byName.set(t.name, t);
    if (!page.more || page.items.length === 0) return byName;
    after = page.items.at(-1)!.name;
  }
}

/** The event type (with a schema) as this process last read it, or null. */
async function cachedEventType(store: Store, name: string): Promise<EventType | null> {
  let c = catalogs.get(store);
  if (!c) {
    c = { byName: new Map(), readAt: Number.NEGATIVE_INFINITY, reading: null };
    catalogs.set(store, c);
  }
  if (performance.now() - c.readAt > CATALOG_TTL_MS) {
    const cat = c;
    cat.reading ??= readCatalog(store).then(
      (m) => {
        cat.byName = m;
        cat.readAt = performance.now();
        cat.reading = null;
        return m;
      },
      (err: unknown) => {
        cat.reading = null;
        throw err;
      },
    );
    await cat.reading;
  }
  return c.byName.get(name) ?? null;
}

/** An event type changed through this process: the next publish reads the catalog again. */
export function eventTypesChanged(store: Store): void {
  const c = catalogs.get(store);
  if (c) c.readAt = Number.NEGATIVE_INFINITY;
}

/** `checkPayload` for a message about to be published (the event type from the cached catalog). */
export async function checkMessagePayload(
  store: Store,
  eventType: string,
  payload: unknown,
  serverDefault: boolean,
): Promise<void> {
  checkPayload(await cachedEventType(store, eventType), payload, serverDefault);
}
