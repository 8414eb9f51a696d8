/**
 * `/ingest/api/v1/source`: Svix Ingest's API (the `ingest` namespace of the Svix SDKs) answered
 * by Hookline's inbound sources, so a Svix Ingest user can point their SDK at Hookline.
 *
 * - An ingest source is a source: Svix's `type` and `config` become its verification (a type
 *   Hookline cannot verify is refused with a 422 naming those it can), `name` its description,
 *   `uid` its name (its receive URL is `/in/{name}/{token}`), `metadata` kept alongside.
 * - An ingest endpoint is one of its destinations (an endpoint of the source's application):
 *   url, description, uid, disabled, throttleRate, metadata and headers are the endpoint's.
 * - A source's destinations share one signing secret (`webhook-signature`): an endpoint's
 *   `secret` and its rotation are the source's forwarding secret.
 * - Token rotation gives the receive URL a new token; the previous ones keep working for 48 hours.
 * - Transformations do not run on forwarded requests: reading one answers none, setting code is
 *   refused.
 */
import Type, { type Static } from 'typebox';
import { HooklineError, invalid, notFound } from '../core/errors.ts';
import { isId } from '../core/ids.ts';
import { normalizeSecret } from '../core/signing.ts';
import type { Endpoint, Source, SourceDestination, SourceIngest, SourceVerification } from '../core/types.ts';
import { newIngestToken, receivePath, rotateTokens } from '../inbound/ingest-token.ts';
import { verificationProblems } from '../inbound/rules.ts';
import { portalAccess, publicOrigin } from './auth.ts';
import type { ApiContext, Routes } from './context.ts';
import { assertSigningSecret } from './destination-rules.ts';
import { listOut, pageQuery } from './pagination.ts';
import { AppPortalAccessOut, ErrorOut, ListQuery, listOf, NoContent, ValidationErrorOut } from './schemas.ts';
import { asInput, buildSource, loadSource, rotateForwardSecret, type SourceFields } from './source.ts';
import { iso } from './wire.ts';

const tags = ['Svix Ingest'];
/** The most destinations a source has (as `/api/v1/source` allows). */
const MAX_ENDPOINTS = 20;

// ---- what Svix's source types become ------------------------------------------------------

/** Types whose provider signs the Svix way (Standard Webhooks, `whsec_` secrets). */
const SVIX_SIGNED = [
  'beehiiv',
  'brex',
  'clerk',
  'guesty',
  'incident-io',
  'lithic',
  'nash',
  'open-ai',
  'pleo',
  'psi-fi',
  'render',
  'replicate',
  'resend',
  'safebase',
  'sardine',
  'stych',
  'svix',
] as const;

interface TypeRule {
  /** A source without a secret is not verified (Svix: `secret` optional for the type). */
  optionalSecret?: boolean;
  verification: (secret: string | null) => Pick<SourceVerification, 'scheme' | 'hmac'>;
}

const scheme =
  (name: SourceVerification['scheme']) =>
  (secret: string | null): Pick<SourceVerification, 'scheme' | 'hmac'> => ({
    scheme: secret === null ? 'none' : name,
    hmac: null,
  });

const TYPES: Record<string, TypeRule> = {
  'generic-webhook': { optionalSecret: true, verification: () => ({ scheme: 'none', hmac: null }) },
  stripe: { verification: scheme('stripe') },
  github: { optionalSecret: true, verification: scheme('github') },
  shopify: { verification: scheme('shopify') },
  slack: { verification: scheme('slack') },
  ...Object.fromEntries(SVIX_SIGNED.map((t) => [t, { verification: scheme('svix') }])),
  // Zoom: HMAC-SHA256 of `v0:{timestamp}:{body}`, hex, in x-zm-signature as `v0=...`.
  zoom: {
    verification: () => ({
      scheme: 'hmac',
      hmac: {
        name: 'zoom',
        header: 'x-zm-signature',
        prefix: 'v0=',
        template: 'v0:{timestamp}:{body}',
        timestampHeader: 'x-zm-request-timestamp',
      },
    }),
  },
  // Segment: HMAC-SHA1 of the body, hex, in X-Signature.
  segment: {
    optionalSecret: true,
    verification: (secret) =>
      secret === null
        ? { scheme: 'none', hmac: null }
        : { scheme: 'hmac', hmac: { name: 'segment', header: 'x-signature', algorithm: 'sha1' } },
  },
};
export const SUPPORTED_INGEST_TYPES = Object.keys(TYPES).sort();

/**
 * The Svix type a source shows: the one it was given while its verification still fits it, else
 * its scheme's (`generic-webhook` for a scheme Svix has no type for).
 */
function typeOf(s: Source): string {
  const given = s.ingest?.type;
  const secret = s.verification.secrets.length > 0 ? 'set' : null;
  if (given && TYPES[given]?.verification(secret).scheme === s.verification.scheme) return given;
  const scheme = s.verification.scheme;
  if (scheme === 'standard-webhooks') return 'svix';
  return scheme !== 'none' && TYPES[scheme] ? scheme : 'generic-webhook';
}

// ---- wire shapes ---------------------------------------------------------------------------

const IngestUid = Type.String({ minLength: 1, maxLength: 128, pattern: '^[a-zA-Z0-9\\-_.]+$' });
const Metadata = Type.Record(Type.String(), Type.String());
const Headers = Type.Record(Type.String({ pattern: "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$" }), Type.String());

const IngestSourceIn = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 65536 }),
    uid: Type.Optional(Type.Union([IngestUid, Type.Null()])),
    metadata: Type.Optional(Metadata),
    type: Type.String({
      minLength: 1,
      maxLength: 64,
      description: `One of: ${SUPPORTED_INGEST_TYPES.join(', ')}`,
    }),
    config: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
  },
  { $id: 'IngestSourceIn' },
);
type IngestSourceIn = Static<typeof IngestSourceIn>;
const IngestSourceOut = Type.Object(
  {
    id: Type.String(),
    uid: Type.Union([Type.String(), Type.Null()]),
    name: Type.String(),
    ingestUrl: Type.String({ description: 'Where the provider posts: /in/{name}/{token}' }),
    type: Type.String(),
    config: Type.Record(Type.String(), Type.Unknown()),
    metadata: Metadata,
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'IngestSourceOut' },
);
const endpointFields = {
  url: Type.String({ minLength: 1, maxLength: 65536 }),
  description: Type.Optional(Type.String({ maxLength: 65536 })),
  throttleRate: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.Null()])),
  uid: Type.Optional(Type.Union([IngestUid, Type.Null()])),
  disabled: Type.Optional(Type.Boolean()),
  metadata: Type.Optional(Metadata),
};
const SecretKey = Type.String({ minLength: 1, maxLength: 256 });
const IngestEndpointIn = Type.Object(
  {
    ...endpointFields,
    secret: Type.Optional(Type.Union([SecretKey, Type.Null()])),
    headers: Type.Optional(Type.Union([Headers, Type.Null()])),
  },
  { $id: 'IngestEndpointIn' },
);
type IngestEndpointIn = Static<typeof IngestEndpointIn>;
const IngestEndpointUpsertIn = Type.Object(endpointFields, { $id: 'IngestEndpointUpsertIn' });
const IngestEndpointOut = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    description: Type.String(),
    throttleRate: Type.Union([Type.Integer(), Type.Null()]),
    uid: Type.Union([Type.String(), Type.Null()]),
    disabled: Type.Boolean(),
    metadata: Metadata,
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'IngestEndpointOut' },
);
const IngestEndpointSecretIn = Type.Object(
  {
    key: Type.Optional(Type.Union([SecretKey, Type.Null()])),
    gracePeriodSeconds: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0, maximum: 7 * 86400 }), Type.Null()]),
    ),
  },
  { $id: 'IngestEndpointSecretIn' },
);
const IngestEndpointHeadersIn = Type.Object({ headers: Headers }, { $id: 'IngestEndpointHeadersIn' });
const IngestEndpointHeadersOut = Type.Object(
  { headers: Type.Record(Type.String(), Type.String()), sensitive: Type.Array(Type.String()) },
  { $id: 'IngestEndpointHeadersOut' },
);
const IngestEndpointTransformationOut = Type.Object(
  {
    code: Type.Union([Type.String(), Type.Null()]),
    enabled: Type.Boolean(),
    variables: Type.Union([Metadata, Type.Null()]),
  },
  { $id: 'IngestEndpointTransformationOut' },
);
const IngestEndpointTransformationPatch = Type.Object(
  {
    code: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    enabled: Type.Optional(Type.Boolean()),
    variables: Type.Optional(Type.Union([Metadata, Type.Null()])),
  },
  { $id: 'IngestEndpointTransformationPatch' },
);
const PortalAccessIn = Type.Object(
  {
    expiry: Type.Optional(Type.Union([Type.Integer({ minimum: 3600, maximum: 7 * 86400 }), Type.Null()])),
    readOnly: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  },
  { $id: 'IngestSourceConsumerPortalAccessIn' },
);
const RotateTokenOut = Type.Object({ ingestUrl: Type.String() }, { $id: 'RotateTokenOut' });

const SourceParams = Type.Object({ source_id: Type.String({ description: 'Source id or uid' }) });
const EndpointParams = Type.Object({
  source_id: Type.String({ description: 'Source id or uid' }),
  endpoint_id: Type.String({ description: 'Endpoint id or uid' }),
});

// ---- mapping ---------------------------------------------------------------------------------

function sourceOut(origin: string, s: Source) {
  return {
    id: s.id,
    uid: s.ingest?.uid ?? null,
    name: s.description || s.name,
    ingestUrl: `${origin}${receivePath(s)}`,
    type: typeOf(s),
    config: {},
    metadata: s.ingest?.metadata ?? {},
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
  };
}

function endpointOut(e: Endpoint) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    throttleRate: e.throttleRate,
    uid: e.uid,
    disabled: e.disabled,
    metadata: e.metadata,
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
  };
}

/** The verification Svix's type and config ask for; a 422 for what Hookline cannot verify. */
function verificationFor(input: IngestSourceIn): Pick<SourceVerification, 'scheme' | 'hmac' | 'secrets'> {
  const rule = TYPES[input.type];
  if (!rule) {
    throw invalid(
      ['body', 'type'],
      `Hookline cannot verify sources of type "${input.type}"; supported types: ${SUPPORTED_INGEST_TYPES.join(', ')}`,
    );
  }
  const raw = input.config?.secret;
  if (raw !== undefined && raw !== null && (typeof raw !== 'string' || raw.length === 0))
    throw invalid(['body', 'config', 'secret'], 'secret must be a non-empty string');
  const secret = typeof raw === 'string' ? raw : null;
  if (secret === null && !rule.optionalSecret && input.type !== 'generic-webhook')
    throw invalid(['body', 'config', 'secret'], `a ${input.type} source needs config.secret`);
  const v = rule.verification(secret);
  const verification = { ...v, secrets: v.scheme === 'none' || secret === null ? [] : [secret] };
  const problem = verificationProblems({ ...verification, tolerance: null, url: null })[0];
  if (problem) throw invalid(['body', 'config', 'secret'], problem.msg);
  return verification;
}

/** A readable, unique-enough source name from Svix's free-form name (when no uid is given). */
function nameFrom(svixName: string): string {
  const slug = svixName
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 100);
  return `${slug || 'source'}-${newIngestToken()
    .slice(0, 8)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, 'x')}`;
}

/** A source's destinations as input again (each keeps its id, so its endpoint and history). */
const destinationsIn = (s: Source) =>
  s.destinations.map((d) => ({
    id: d.id,
    url: d.url,
    headers: d.headers,
    eventTypes: d.eventTypes,
    disabled: d.disabled,
    kind: d.kind,
    template: d.template,
  }));

/** Saves a source built from `fields`, with the Svix settings and destination extras given. */
async function save(
  ctx: ApiContext,
  fields: SourceFields,
  existing: Source | null,
  ingest: SourceIngest,
  extras: Map<number, Partial<SourceDestination>> = new Map(),
): Promise<Source> {
  const built = await buildSource(ctx, fields, existing);
  const source: Source = {
    ...built,
    ingest,
    destinations: built.destinations.map((d, i) => ({ ...d, ...extras.get(i) })),
  };
  if (existing) await ctx.store.updateSource(source);
  else await ctx.store.insertSource(source);
  return source;
}

/** The Svix settings to keep for a source given `input` (its tokens unchanged). */
const ingestOf = (
  input: IngestSourceIn,
  existing: Source | null,
  tokens: SourceIngest['tokens'],
): SourceIngest => ({
  type: input.type,
  // Left out (as an upsert by uid may): the uid stays.
  uid: input.uid !== undefined ? input.uid : (existing?.ingest?.uid ?? null),
  metadata: input.metadata ?? {},
  tokens: existing?.ingest?.tokens ?? tokens,
});

const hmacIn = (h: SourceVerification['hmac']) => h as SourceFields['verification']['hmac'];

/** Zoom checks the URL with a challenge signed with the same secret: answered for a zoom source. */
function zoomHandshake(input: IngestSourceIn, v: { secrets: string[] }): SourceFields['handshake'] | null {
  return input.type === 'zoom' ? { challenge: { preset: 'zoom', secret: v.secrets[0]! } } : null;
}

async function createSource(ctx: ApiContext, input: IngestSourceIn, name: string): Promise<Source> {
  const verification = verificationFor(input);
  return save(
    ctx,
    {
      name,
      description: input.name,
      verification: { ...verification, hmac: hmacIn(verification.hmac), tolerance: null, url: null },
      forwardSecret: null,
      dedupe: { windowSeconds: 86_400 },
      eventType: null,
      maxBodyBytes: null,
      handshake: zoomHandshake(input, verification) ?? {},
      allowedIps: null,
      destinations: [],
    },
    null,
    ingestOf(input, null, [{ token: newIngestToken(), expiresAt: null }]),
  );
}

async function updateSource(ctx: ApiContext, existing: Source, input: IngestSourceIn): Promise<Source> {
  const verification = verificationFor(input);
  const current = asInput(existing);
  return save(
    ctx,
    {
      ...current,
      name: input.uid ?? existing.name,
      description: input.name,
      verification: { ...current.verification, ...verification, hmac: hmacIn(verification.hmac) },
      handshake:
        zoomHandshake(input, verification) ??
        // No longer Zoom: its URL validation is no longer answered.
        (existing.ingest?.type === 'zoom' ? { ...current.handshake, challenge: null } : current.handshake),
      destinations: destinationsIn(existing),
    },
    existing,
    ingestOf(input, existing, []),
  );
}

/** The Svix settings a source made through `/api/v1/source` shows, to keep when changing it. */
const ingestSettings = (s: Source): SourceIngest =>
  s.ingest ?? { type: typeOf(s), uid: null, metadata: {}, tokens: [] };

async function loadEndpoint(ctx: ApiContext, source: Source, idOrUid: string): Promise<Endpoint> {
  const ep = await ctx.store.getEndpoint(source.appId, idOrUid);
  if (!ep) throw notFound('endpoint');
  return ep;
}

/** Saves the source with one destination changed (by index; `-1` appends one). */
async function saveDestination(
  ctx: ApiContext,
  source: Source,
  index: number,
  change: Partial<SourceDestination> & { url?: string },
  forwardSecret: string | null = null,
): Promise<string> {
  const list: SourceFields['destinations'] = destinationsIn(source);
  const at = index < 0 ? list.length : index;
  const base = list[at] ?? {
    url: '',
    headers: {},
    eventTypes: null,
    disabled: false,
    kind: 'http',
    template: null,
  };
  list[at] = {
    ...base,
    ...(change.url !== undefined ? { url: change.url } : {}),
    ...(change.headers !== undefined ? { headers: change.headers } : {}),
    ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
  };
  const extras: Partial<SourceDestination> = {};
  for (const k of ['description', 'uid', 'throttleRate', 'metadata'] as const)
    if (change[k] !== undefined) Object.assign(extras, { [k]: change[k] });
  const saved = await save(
    ctx,
    { ...asInput(source), destinations: list, forwardSecret },
    source,
    ingestSettings(source),
    new Map([[at, extras]]),
  );
  return saved.destinations[at]!.id;
}

/** An endpoint's uid is unique within its source. */
async function assertUidFree(
  ctx: ApiContext,
  source: Source,
  uid: string | null | undefined,
  self: string | null,
) {
  if (!uid) return;
  const other = await ctx.store.getEndpoint(source.appId, uid);
  if (other && other.id !== self) throw new HooklineError('conflict', 'an endpoint with this uid exists');
}

async function createEndpoint(ctx: ApiContext, source: Source, body: IngestEndpointIn, uid?: string) {
  if (source.destinations.length >= MAX_ENDPOINTS)
    throw invalid(['path', 'source_id'], `a source has at most ${MAX_ENDPOINTS} endpoints`);
  const wantUid = body.uid ?? uid ?? null;
  await assertUidFree(ctx, source, wantUid, null);
  let forwardSecret: string | null = null;
  if (body.secret != null) {
    assertSigningSecret(body.secret, ['body', 'secret']);
    const current = source.forwardSecrets[0]!.key;
    // One secret signs for every endpoint of a source: a first endpoint sets it.
    if (source.destinations.length === 0) forwardSecret = body.secret;
    else if (normalizeSecret(body.secret) !== current)
      throw invalid(
        ['body', 'secret'],
        "a source's endpoints share one signing secret; leave secret out, or rotate it with .../secret/rotate",
      );
  }
  const id = await saveDestination(
    ctx,
    source,
    -1,
    {
      url: body.url,
      headers: body.headers ?? {},
      disabled: body.disabled ?? false,
      description: body.description ?? '',
      uid: wantUid,
      throttleRate: body.throttleRate ?? null,
      metadata: body.metadata ?? {},
    },
    forwardSecret,
  );
  return endpointOut(await loadEndpoint(ctx, source, id));
}

/** The index of an endpoint among its source's destinations. */
function destinationIndex(source: Source, ep: Endpoint): number {
  const i = source.destinations.findIndex((d) => d.id === ep.id);
  if (i < 0) throw notFound('endpoint');
  return i;
}

export function svixIngestRoutes(api: Routes, ctx: ApiContext): void {
  const errors = { 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut };

  // ---- sources -----------------------------------------------------------------------------
  api.get(
    '/source',
    {
      schema: {
        tags,
        summary: 'List ingest sources (all inbound sources)',
        querystring: ListQuery,
        response: { 200: listOf(IngestSourceOut, 'ListResponseIngestSourceOut') },
      },
    },
    async (req) => {
      const q = pageQuery(req.query, 'asc');
      const origin = publicOrigin(ctx, req);
      return listOut(
        await ctx.store.listSources(q),
        q,
        (s) => s.id,
        (s) => sourceOut(origin, s),
      );
    },
  );

  api.post(
    '/source',
    {
      schema: {
        tags,
        summary: 'Create an ingest source',
        body: IngestSourceIn,
        response: { 201: IngestSourceOut, ...errors },
      },
    },
    async (req, reply) => {
      const source = await createSource(ctx, req.body, req.body.uid ?? nameFrom(req.body.name));
      return reply.code(201).send(sourceOut(publicOrigin(ctx, req), source));
    },
  );

  api.get(
    '/source/:source_id',
    {
      schema: {
        tags,
        summary: 'Get an ingest source by id or uid',
        params: SourceParams,
        response: { 200: IngestSourceOut, ...errors },
      },
    },
    async (req) => sourceOut(publicOrigin(ctx, req), await loadSource(ctx, req.params.source_id)),
  );

  api.put(
    '/source/:source_id',
    {
      schema: {
        tags,
        summary:
          'Create or update an ingest source (created under the path as its uid when it does not exist)',
        params: SourceParams,
        body: IngestSourceIn,
        response: { 200: IngestSourceOut, 201: IngestSourceOut, ...errors },
      },
    },
    async (req, reply) => {
      const id = req.params.source_id;
      const existing = await ctx.store.getSource(id);
      if (existing) return sourceOut(publicOrigin(ctx, req), await updateSource(ctx, existing, req.body));
      if (isId('source', id)) throw notFound('source');
      const uid = req.body.uid ?? id;
      const source = await createSource(ctx, { ...req.body, uid }, uid);
      return reply.code(201).send(sourceOut(publicOrigin(ctx, req), source));
    },
  );

  api.delete(
    '/source/:source_id',
    {
      schema: {
        tags,
        summary: 'Delete an ingest source with its endpoints and events',
        params: SourceParams,
        response: { 204: NoContent, 404: ErrorOut },
      },
    },
    async (req, reply) => {
      const source = await loadSource(ctx, req.params.source_id);
      await ctx.store.deleteSource(source.id);
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/source/:source_id/token/rotate',
    {
      schema: {
        tags,
        summary: "Rotate the token in the source's ingest URL (the previous ones work for 48 hours more)",
        params: SourceParams,
        response: { 200: RotateTokenOut, 404: ErrorOut, 429: ErrorOut },
      },
    },
    async (req) => {
      const source = await loadSource(ctx, req.params.source_id);
      const now = ctx.clock.now();
      const ingest = ingestSettings(source);
      const tokens = rotateTokens(ingest.tokens, now);
      if (!tokens)
        throw new HooklineError(
          'too_many_rotations',
          'the ingest URL token was rotated three times within 48 hours; wait until an older one expires',
        );
      const next: Source = { ...source, ingest: { ...ingest, tokens }, updatedAt: now };
      await ctx.store.updateSource(next);
      // Never replayed from an idempotency record: the response holds the new URL's secret part.
      req.idempotencyKeep = false;
      return { ingestUrl: `${publicOrigin(ctx, req)}${receivePath(next)}` };
    },
  );

  api.post(
    '/source/:source_id/dashboard',
    {
      schema: {
        tags,
        summary:
          "Get a dashboard link and token for the source's application (its endpoints, forwarded messages and attempts)",
        params: SourceParams,
        body: Type.Optional(PortalAccessIn),
        response: { 200: AppPortalAccessOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const source = await loadSource(ctx, req.params.source_id);
      const body = req.body ?? {};
      return portalAccess(ctx, req, source.appId, {
        expiry: body.expiry ?? null,
        readOnly: body.readOnly ?? null,
      });
    },
  );

  // ---- endpoints ---------------------------------------------------------------------------
  api.get(
    '/source/:source_id/endpoint',
    {
      schema: {
        tags,
        summary: "List an ingest source's endpoints (its destinations)",
        params: SourceParams,
        querystring: ListQuery,
        response: { 200: listOf(IngestEndpointOut, 'ListResponseIngestEndpointOut'), 404: ErrorOut },
      },
    },
    async (req) => {
      const source = await loadSource(ctx, req.params.source_id);
      const q = pageQuery(req.query, 'asc');
      return listOut(await ctx.store.listEndpoints(source.appId, q), q, (e) => e.id, endpointOut);
    },
  );

  api.post(
    '/source/:source_id/endpoint',
    {
      schema: {
        tags,
        summary: 'Create an ingest endpoint (a destination of the source)',
        params: SourceParams,
        body: IngestEndpointIn,
        response: { 201: IngestEndpointOut, ...errors },
      },
    },
    async (req, reply) => {
      const source = await loadSource(ctx, req.params.source_id);
      return reply.code(201).send(await createEndpoint(ctx, source, req.body));
    },
  );

  api.get(
    '/source/:source_id/endpoint/:endpoint_id',
    {
      schema: {
        tags,
        summary: 'Get an ingest endpoint',
        params: EndpointParams,
        response: { 200: IngestEndpointOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const source = await loadSource(ctx, req.params.source_id);
      return endpointOut(await loadEndpoint(ctx, source, req.params.endpoint_id));
    },
  );

  api.put(
    '/source/:source_id/endpoint/:endpoint_id',
    {
      schema: {
        tags,
        summary:
          'Create or update an ingest endpoint (created under the path as its uid when it does not exist)',
        params: EndpointParams,
        body: IngestEndpointUpsertIn,
        response: { 200: IngestEndpointOut, 201: IngestEndpointOut, ...errors },
      },
    },
    async (req, reply) => {
      const source = await loadSource(ctx, req.params.source_id);
      const id = req.params.endpoint_id;
      const ep = await ctx.store.getEndpoint(source.appId, id);
      if (!ep) {
        if (isId('endpoint', id)) throw notFound('endpoint');
        return reply.code(201).send(await createEndpoint(ctx, source, req.body, id));
      }
      await assertUidFree(ctx, source, req.body.uid, ep.id);
      await saveDestination(ctx, source, destinationIndex(source, ep), {
        url: req.body.url,
        disabled: req.body.disabled ?? false,
        description: req.body.description ?? '',
        uid: req.body.uid ?? null,
        throttleRate: req.body.throttleRate ?? null,
        metadata: req.body.metadata ?? {},
      });
      return endpointOut(await loadEndpoint(ctx, source, ep.id));
    },
  );

  api.delete(
    '/source/:source_id/endpoint/:endpoint_id',
    {
      schema: {
        tags,
        summary: 'Delete an ingest endpoint',
        params: EndpointParams,
        response: { 204: NoContent, 404: ErrorOut },
      },
    },
    async (req, reply) => {
      const source = await loadSource(ctx, req.params.source_id);
      const ep = await loadEndpoint(ctx, source, req.params.endpoint_id);
      const now = ctx.clock.now();
      await ctx.store.updateSource({
        ...source,
        destinations: source.destinations.filter((d) => d.id !== ep.id),
        updatedAt: now,
      });
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/source/:source_id/endpoint/:endpoint_id/headers',
    {
      schema: {
        tags,
        summary: 'Get the headers added to requests forwarded to the endpoint',
        params: EndpointParams,
        response: { 200: IngestEndpointHeadersOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const source = await loadSource(ctx, req.params.source_id);
      const ep = await loadEndpoint(ctx, source, req.params.endpoint_id);
      return { headers: ep.headers, sensitive: [] };
    },
  );

  api.put(
    '/source/:source_id/endpoint/:endpoint_id/headers',
    {
      schema: {
        tags,
        summary: 'Set the headers added to requests forwarded to the endpoint',
        params: EndpointParams,
        body: IngestEndpointHeadersIn,
        response: { 204: NoContent, ...errors },
      },
    },
    async (req, reply) => {
      const source = await loadSource(ctx, req.params.source_id);
      const ep = await loadEndpoint(ctx, source, req.params.endpoint_id);
      await saveDestination(ctx, source, destinationIndex(source, ep), { headers: req.body.headers });
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/source/:source_id/endpoint/:endpoint_id/secret',
    {
      schema: {
        tags,
        summary:
          "Get the secret forwarded requests are signed with (webhook-signature; the source's, shared by its endpoints)",
        params: EndpointParams,
        response: {
          200: Type.Object({ key: Type.String() }, { $id: 'IngestEndpointSecretOut' }),
          404: ErrorOut,
        },
      },
    },
    async (req) => {
      const source = await loadSource(ctx, req.params.source_id);
      await loadEndpoint(ctx, source, req.params.endpoint_id);
      return { key: source.forwardSecrets[0]!.key };
    },
  );

  api.post(
    '/source/:source_id/endpoint/:endpoint_id/secret/rotate',
    {
      schema: {
        tags,
        summary:
          "Rotate the signing secret (the source's, for all its endpoints; the old one signs on for the grace period, 24 h by default)",
        params: EndpointParams,
        body: Type.Optional(IngestEndpointSecretIn),
        response: { 204: NoContent, ...errors },
      },
    },
    async (req, reply) => {
      const source = await loadSource(ctx, req.params.source_id);
      await loadEndpoint(ctx, source, req.params.endpoint_id);
      const body = req.body ?? {};
      await rotateForwardSecret(ctx, source, {
        key: body.key ?? null,
        gracePeriodSeconds: body.gracePeriodSeconds ?? null,
      });
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/source/:source_id/endpoint/:endpoint_id/transformation',
    {
      schema: {
        tags,
        summary: 'Get the transformation (none: forwarded requests go out as they came)',
        params: EndpointParams,
        response: { 200: IngestEndpointTransformationOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const source = await loadSource(ctx, req.params.source_id);
      await loadEndpoint(ctx, source, req.params.endpoint_id);
      return { code: null, enabled: false, variables: null };
    },
  );

  api.patch(
    '/source/:source_id/endpoint/:endpoint_id/transformation',
    {
      schema: {
        tags,
        summary: 'Unset the transformation; setting code is refused (forwarded requests are not transformed)',
        params: EndpointParams,
        body: IngestEndpointTransformationPatch,
        response: { 204: NoContent, ...errors },
      },
    },
    async (req, reply) => {
      const source = await loadSource(ctx, req.params.source_id);
      await loadEndpoint(ctx, source, req.params.endpoint_id);
      if (req.body.code)
        throw invalid(
          ['body', 'code'],
          'Hookline forwards inbound requests as they came: ingest endpoints have no transformations',
        );
      if (req.body.enabled)
        throw invalid(['body', 'enabled'], 'ingest endpoints have no transformation to enable');
      return reply.code(204).send(null);
    },
  );
}
