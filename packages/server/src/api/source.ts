/**
 * `/api/v1/source`: inbound sources (providers that post to `/in/{name}`), their event log with
 * the raw requests, and replay. A source's destinations are the endpoints of an application it
 * owns, so forwarded events have the usual attempts log and can be resent like any message.
 */
import Type from 'typebox';
import { HooklineError, invalid, notFound, type ValidationIssue } from '../core/errors.ts';
import { isId } from '../core/ids.ts';
import { ipRangeProblems } from '../core/ip-ranges.ts';
import { endpointMatches } from '../core/routing.ts';
import { generateSecret, normalizeSecret, publicKeyFor, rotateSecrets, secretType } from '../core/signing.ts';
import { DEFAULT_HANDSHAKE } from '../core/source-app.ts';
import type {
  Attempt,
  ChallengeRule,
  InboundEvent,
  Source,
  SourceDestination,
  SourceHandshake,
  SourceVerification,
} from '../core/types.ts';
import { CHALLENGE_PRESETS, challengeProblems } from '../inbound/handshakes.ts';
import { receivePath } from '../inbound/ingest-token.ts';
import { verificationProblems } from '../inbound/rules.ts';
import type { ApiContext, Routes } from './context.ts';
import { assertSigningSecret, DEFAULT_GRACE_SECONDS, destinationProblems } from './destination-rules.ts';
import { listOut, pageQuery } from './pagination.ts';
import {
  AttemptOut,
  ErrorOut,
  InboundEventDetailOut,
  InboundEventListQuery,
  InboundEventOut,
  ListQuery,
  listOf,
  NoContent,
  ReplayIn,
  ReplayOut,
  type SourceHandshakeIn,
  SourceIn,
  SourceOut,
  SourcePatch,
  SourceSecretOut,
  SourceSecretRotateIn,
  ValidationErrorOut,
} from './schemas.ts';
import { attemptOut, iso } from './wire.ts';

const tags = ['Source'];
const SourceParams = Type.Object({ source_id: Type.String({ description: 'Source id or name' }) });
const EventParams = Type.Object({ source_id: Type.String(), event_id: Type.String() });
const DEFAULT_DEDUPE_WINDOW_S = 86_400;

/** A dedupe rule as the API shows it (the window in seconds). */
function dedupeOut(d: Source['dedupe']) {
  return d ? { header: d.header, jsonPath: d.jsonPath, windowSeconds: Math.round(d.windowMs / 1000) } : null;
}

/** The handshake settings as the API shows them (the challenge secret only as `hasSecret`). */
function handshakeOut(h: SourceHandshake) {
  const c = h.challenge;
  return {
    provider: h.provider,
    discordResponse: h.discordResponse,
    challenge: c
      ? {
          preset: c.preset,
          method: c.method,
          query: c.query,
          jsonPath: c.jsonPath,
          when: c.when,
          respond: c.respond,
          field: c.field,
          hmacField: c.hmacField,
          hasSecret: c.secret !== null,
          verify: c.verify,
        }
      : null,
  };
}

/** The stored handshake settings from input: a preset filled in, the secret kept when omitted. */
function buildHandshake(
  input: SourceHandshakeIn,
  existing: SourceHandshake | null,
  issue: (loc: (string | number)[], msg: string) => void,
): SourceHandshake {
  const cin = input.challenge;
  let challenge: ChallengeRule | null = null;
  if (cin) {
    const preset = cin.preset ? CHALLENGE_PRESETS[cin.preset]! : null;
    const pick = <K extends keyof ChallengeIn>(k: K, fallback: NonNullable<ChallengeIn[K]> | null) =>
      cin[k] !== undefined ? cin[k] : fallback;
    challenge = {
      preset: cin.preset ?? null,
      method: pick('method', preset?.method ?? 'ANY') as ChallengeRule['method'],
      query: pick('query', preset?.query ?? null) ?? null,
      jsonPath: pick('jsonPath', preset?.jsonPath ?? null) ?? null,
      when: pick('when', preset?.when ?? null) ?? null,
      respond: pick('respond', preset?.respond ?? 'text') as ChallengeRule['respond'],
      field: pick('field', preset?.field ?? null) ?? null,
      hmacField: pick('hmacField', preset?.hmacField ?? null) ?? null,
      secret: cin.secret === undefined ? (existing?.challenge?.secret ?? null) : cin.secret,
      verify: pick('verify', preset?.verify ?? true) as boolean,
    };
    for (const p of challengeProblems(challenge)) issue(['handshake', 'challenge', p.field], p.msg);
  }
  const discordResponse = input.discordResponse ?? DEFAULT_HANDSHAKE.discordResponse;
  if (JSON.stringify(discordResponse).length > 16 * 1024)
    issue(['handshake', 'discordResponse'], 'discordResponse is larger than 16 KiB');
  return { provider: input.provider ?? true, discordResponse, challenge };
}

export function sourceOut(s: Source) {
  const v = s.verification;
  return {
    id: s.id,
    name: s.name,
    description: s.description,
    ingestPath: receivePath(s),
    appId: s.appId,
    verification: {
      scheme: v.scheme,
      secretCount: v.secrets.length,
      tolerance: v.tolerance,
      url: v.url,
      hmac: v.hmac,
    },
    forwardSecretType: secretType(s.forwardSecrets[0]!.key),
    dedupe: dedupeOut(s.dedupe),
    eventType: s.eventType,
    maxBodyBytes: s.maxBodyBytes,
    handshake: handshakeOut(s.handshake),
    allowedIps: s.allowedIps,
    destinations: s.destinations,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
  };
}

export function inboundEventOut(e: InboundEvent) {
  return {
    id: e.id,
    sourceId: e.sourceId,
    status: e.status,
    eventType: e.eventType,
    dedupeKey: e.dedupeKey,
    duplicateOf: e.duplicateOf,
    verification: e.verifyCode ? { code: e.verifyCode, detail: e.verifyDetail ?? '' } : null,
    method: e.method,
    contentType: e.contentType,
    bodySize: e.body.length,
    receivedAt: iso(e.receivedAt),
    bodyExpungedAt: e.bodyExpungedAt === null ? null : iso(e.bodyExpungedAt),
    messageIds: e.messageIds,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function inboundEventDetailOut(e: InboundEvent, attempts: Attempt[]) {
  let body: string;
  let bodyEncoding: 'utf8' | 'base64' = 'utf8';
  try {
    body = utf8.decode(e.body);
  } catch {
    body = e.body.toString('base64');
    bodyEncoding = 'base64';
  }
  return {
    ...inboundEventOut(e),
    headers: e.headers,
    body,
    bodyEncoding,
    attempts: attempts.map((a) => attemptOut(a)),
  };
}

/** The messages an accepted inbound event was forwarded as: itself, or the parts it was split into. */
const messagesOf = (e: InboundEvent): string[] => e.messageIds ?? [e.id];

export async function loadSource(ctx: ApiContext, idOrName: string): Promise<Source> {
  const source = await ctx.store.getSource(idOrName);
  if (!source) throw notFound('source');
  return source;
}

export type SourceFields = Required<Omit<SourceIn, 'forwardSecret'>> & {
  forwardSecret?: string | null | undefined;
};
type ChallengeIn = NonNullable<SourceHandshakeIn['challenge']>;

/**
 * The existing destination each given one stays: the one it names by id, else the first
 * existing one with the same URL that no other names, so an edit listing destinations by URL
 * alone (`"destinations": [{"url": ...}]`) keeps their endpoints and forwarding attempts;
 * undefined for a new destination.
 */
function destinationIds(
  given: readonly { id?: string | undefined; url: string }[],
  existing: readonly SourceDestination[],
): (string | undefined)[] {
  const taken = new Set(given.flatMap((d) => (d.id ? [d.id] : [])));
  return given.map((d) => {
    if (d.id) return d.id;
    const same = existing.find((e) => e.url === d.url && !taken.has(e.id));
    if (same) taken.add(same.id);
    return same?.id;
  });
}

/** Builds the record from (merged) input, checking what the schema cannot. */
export async function buildSource(
  ctx: ApiContext,
  input: SourceFields,
  existing: Source | null,
): Promise<Source> {
  const issues: ValidationIssue[] = [];
  const issue = (loc: (string | number)[], msg: string) =>
    issues.push({ loc: ['body', ...loc], msg, type: 'value_error' });
  if (isId('source', input.name)) issue(['name'], 'name must not look like a source id (src_...)');
  const vin = input.verification;
  const verification: SourceVerification = {
    scheme: vin.scheme,
    secrets:
      vin.secrets ?? (existing?.verification.scheme === vin.scheme ? existing.verification.secrets : []),
    tolerance: vin.tolerance ?? null,
    url: vin.url ?? null,
    hmac: (vin.hmac as Record<string, unknown> | null | undefined) ?? null,
  };
  if (verification.scheme === 'hmac' && !verification.hmac)
    issue(['verification', 'hmac'], 'the hmac scheme needs its settings');
  else if (issues.length === 0) {
    for (const p of verificationProblems(verification)) {
      issue(['verification', ...p.field.split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k))], p.msg);
    }
  }
  if (input.dedupe?.header && input.dedupe.jsonPath) issue(['dedupe'], 'give header or jsonPath, not both');
  const handshake = buildHandshake(input.handshake, existing?.handshake ?? null, issue);
  for (const p of ipRangeProblems(input.allowedIps ?? [])) issue(['allowedIps', p.index], p.msg);
  if (input.eventType?.header && input.eventType.jsonPath)
    issue(['eventType'], 'give header or jsonPath, not both');
  const known = new Set(existing?.destinations.map((d) => d.id));
  const ids = destinationIds(input.destinations, existing?.destinations ?? []);
  const destinations: SourceDestination[] = [];
  for (const [i, d] of input.destinations.entries()) {
    if (d.id && !known.has(d.id))
      issue(['destinations', i, 'id'], `destination "${d.id}" is not one of this source's`);
    const kind = d.kind ?? 'http';
    const template = d.template ?? null;
    const problems = await destinationProblems({ ...d, kind }, ctx.config.allowPrivateNetworks);
    for (const p of problems) issue(['destinations', i, ...p.path], p.msg);
    destinations.push({
      id: ids[i] ?? ctx.ids('endpoint'),
      kind,
      template: kind === 'http' ? null : template,
      url: d.url,
      headers: Object.fromEntries(Object.entries(d.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      eventTypes: d.eventTypes && d.eventTypes.length > 0 ? d.eventTypes : null,
      disabled: d.disabled ?? false,
    });
  }
  if (issues.length > 0) throw new HooklineError('validation', issues[0]!.msg, issues);
  if (existing?.name !== input.name) {
    const other = await ctx.store.getSource(input.name);
    if (other && other.id !== existing?.id)
      throw new HooklineError('conflict', `a source named "${input.name}" exists already`);
  }
  assertSigningSecret(input.forwardSecret, ['body', 'forwardSecret']);
  const now = ctx.clock.now();
  const forwardSecrets =
    input.forwardSecret != null
      ? [{ key: normalizeSecret(input.forwardSecret), expiresAt: null }]
      : (existing?.forwardSecrets ?? [{ key: generateSecret(), expiresAt: null }]);
  return {
    id: existing?.id ?? ctx.ids('source'),
    name: input.name,
    appId: existing?.appId ?? ctx.ids('app'),
    description: input.description,
    verification,
    forwardSecrets,
    dedupe: input.dedupe
      ? {
          header: input.dedupe.header ?? null,
          jsonPath: input.dedupe.jsonPath ?? null,
          windowMs: (input.dedupe.windowSeconds ?? DEFAULT_DEDUPE_WINDOW_S) * 1000,
        }
      : null,
    eventType: input.eventType
      ? { header: input.eventType.header ?? null, jsonPath: input.eventType.jsonPath ?? null }
      : null,
    maxBodyBytes: input.maxBodyBytes,
    handshake,
    allowedIps: input.allowedIps && input.allowedIps.length > 0 ? input.allowedIps : null,
    destinations,
    ingest: existing?.ingest ?? null,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
}

/** Rotates the secret that signs forwarded requests; the old one signs on for the grace period. */
export async function rotateForwardSecret(
  ctx: ApiContext,
  source: Source,
  body: {
    key?: string | null;
    gracePeriodSeconds?: number | null;
    secretType?: Parameters<typeof rotateSecrets>[4];
  },
): Promise<void> {
  assertSigningSecret(body.key, ['body', 'key']);
  const now = ctx.clock.now();
  await ctx.store.updateSource({
    ...source,
    forwardSecrets: rotateSecrets(
      source.forwardSecrets,
      body.key ?? null,
      body.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
      now,
      body.secretType ?? 'hmac-sha256',
    ),
    updatedAt: now,
  });
}

/** A source's settings as input again, so PATCH can merge into them. */
export function asInput(s: Source): SourceFields {
  return {
    name: s.name,
    description: s.description,
    verification: {
      scheme: s.verification.scheme,
      secrets: s.verification.secrets,
      tolerance: s.verification.tolerance,
      url: s.verification.url,
      hmac: s.verification.hmac as SourceIn['verification']['hmac'],
    },
    dedupe: dedupeOut(s.dedupe),
    eventType: s.eventType,
    maxBodyBytes: s.maxBodyBytes,
    // The stored rule as input again; its secret is kept by buildHandshake (omitted = unchanged).
    handshake: {
      provider: s.handshake.provider,
      discordResponse: s.handshake.discordResponse,
      challenge: s.handshake.challenge && {
        ...s.handshake.challenge,
        preset: s.handshake.challenge.preset as ChallengeIn['preset'],
        secret: undefined,
      },
    },
    allowedIps: s.allowedIps,
    destinations: s.destinations,
  };
}

export function withDefaults(input: SourceIn): SourceFields {
  return {
    ...input,
    description: input.description ?? '',
    // Dedupe is on by default (on the id the scheme reports); `null` turns it off.
    dedupe: input.dedupe === undefined ? { windowSeconds: DEFAULT_DEDUPE_WINDOW_S } : input.dedupe,
    eventType: input.eventType ?? null,
    maxBodyBytes: input.maxBodyBytes ?? null,
    handshake: input.handshake ?? {},
    allowedIps: input.allowedIps ?? null,
  };
}

export function sourceRoutes(api: Routes, ctx: ApiContext): void {
  api.get(
    '/source',
    {
      schema: {
        tags,
        summary: 'List sources',
        querystring: ListQuery,
        response: { 200: listOf(SourceOut, 'SourceOut') },
      },
    },
    async (req) => {
      const q = pageQuery(req.query, 'asc');
      return listOut(await ctx.store.listSources(q), q, (s) => s.id, sourceOut);
    },
  );

  api.post(
    '/source',
    {
      schema: {
        tags,
        summary: 'Create a source',
        body: SourceIn,
        response: { 201: SourceOut, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req, reply) => {
      const source = await buildSource(ctx, withDefaults(req.body), null);
      await ctx.store.insertSource(source);
      return reply.code(201).send(sourceOut(source));
    },
  );

  api.get(
    '/source/:source_id',
    {
      schema: {
        tags,
        summary: 'Get a source',
        params: SourceParams,
        response: { 200: SourceOut, 404: ErrorOut },
      },
    },
    async (req) => sourceOut(await loadSource(ctx, req.params.source_id)),
  );

  api.put(
    '/source/:source_id',
    {
      schema: {
        tags,
        summary: 'Replace a source (destinations given with their id keep their history)',
        params: SourceParams,
        body: SourceIn,
        response: { 200: SourceOut, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const existing = await loadSource(ctx, req.params.source_id);
      const source = await buildSource(ctx, withDefaults(req.body), existing);
      await ctx.store.updateSource(source);
      return sourceOut(source);
    },
  );

  api.patch(
    '/source/:source_id',
    {
      schema: {
        tags,
        summary: 'Change some fields of a source',
        params: SourceParams,
        body: SourcePatch,
        response: { 200: SourceOut, 404: ErrorOut, 409: ErrorOut, 422: ValidationErrorOut },
      },
    },
    async (req) => {
      const existing = await loadSource(ctx, req.params.source_id);
      const current = asInput(existing);
      // handshake merges one level down: changing one of its settings keeps the others.
      const merged = {
        ...current,
        ...req.body,
        ...(req.body.handshake ? { handshake: { ...current.handshake, ...req.body.handshake } } : {}),
      } as SourceFields;
      const source = await buildSource(ctx, merged, existing);
      await ctx.store.updateSource(source);
      return sourceOut(source);
    },
  );

  api.delete(
    '/source/:source_id',
    {
      schema: {
        tags,
        summary: 'Delete a source with its destinations and events',
        params: SourceParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      const source = await loadSource(ctx, req.params.source_id);
      await ctx.store.deleteSource(source.id);
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/source/:source_id/secret',
    {
      schema: {
        tags,
        summary: 'Get the secret that signs forwarded requests (webhook-signature)',
        params: SourceParams,
        response: {
          200: SourceSecretOut,
        },
      },
    },
    async (req) => {
      const key = (await loadSource(ctx, req.params.source_id)).forwardSecrets[0]!.key;
      return { key, publicKey: publicKeyFor(key) };
    },
  );

  api.post(
    '/source/:source_id/secret/rotate',
    {
      schema: {
        tags,
        summary:
          'Rotate the forwarding secret (the old one keeps signing for a grace period, 24 h by default)',
        params: SourceParams,
        body: Type.Optional(SourceSecretRotateIn),
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await rotateForwardSecret(ctx, await loadSource(ctx, req.params.source_id), req.body ?? {});
      return reply.code(204).send(null);
    },
  );

  // ---- event log ---------------------------------------------------------------------------
  api.get(
    '/source/:source_id/event',
    {
      schema: {
        tags,
        summary: 'List received requests, newest first',
        params: SourceParams,
        querystring: InboundEventListQuery,
        response: { 200: listOf(InboundEventOut, 'InboundEventOut') },
      },
    },
    async (req) => {
      const source = await loadSource(ctx, req.params.source_id);
      const q = pageQuery(req.query, 'desc');
      const page = await ctx.store.listInboundEvents(
        source.id,
        {
          ...(req.query.status ? { status: req.query.status } : {}),
          ...(req.query.before ? { before: Date.parse(req.query.before) } : {}),
          ...(req.query.after ? { after: Date.parse(req.query.after) } : {}),
        },
        q,
      );
      return listOut(page, q, (e) => e.id, inboundEventOut);
    },
  );

  const loadEvent = async (sourceIdOrName: string, eventId: string) => {
    const source = await loadSource(ctx, sourceIdOrName);
    const event = await ctx.store.getInboundEvent(source.id, eventId);
    if (!event) throw notFound('inbound event');
    return { source, event };
  };

  api.get(
    '/source/:source_id/event/:event_id',
    {
      schema: {
        tags,
        summary: 'Get a received request with its raw headers and body',
        params: EventParams,
        response: { 200: InboundEventDetailOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const { source, event } = await loadEvent(req.params.source_id, req.params.event_id);
      const attempts =
        event.status === 'accepted'
          ? await ctx.store.listAttempts(
              { appId: source.appId, msgIds: messagesOf(event) },
              { limit: 50, after: null, before: null, order: 'desc' },
            )
          : { items: [] };
      return inboundEventDetailOut(event, attempts.items);
    },
  );

  api.get(
    '/source/:source_id/event/:event_id/attempt',
    {
      schema: {
        tags,
        summary: 'Forwarding attempts of an event, newest first',
        params: EventParams,
        querystring: ListQuery,
        response: { 200: listOf(AttemptOut, 'InboundAttemptOut') },
      },
    },
    async (req) => {
      const { source, event } = await loadEvent(req.params.source_id, req.params.event_id);
      const q = pageQuery(req.query, 'desc');
      const page = await ctx.store.listAttempts({ appId: source.appId, msgIds: messagesOf(event) }, q);
      return listOut(
        page,
        q,
        (a) => a.id,
        (a) => attemptOut(a),
      );
    },
  );

  api.post(
    '/source/:source_id/event/:event_id/replay',
    {
      schema: {
        tags,
        summary: 'Forward an accepted event again to its destinations (or one of them)',
        params: EventParams,
        body: Type.Optional(ReplayIn),
        response: { 202: ReplayOut, 404: ErrorOut, 409: ErrorOut },
      },
    },
    async (req, reply) => {
      const { source, event } = await loadEvent(req.params.source_id, req.params.event_id);
      const only = req.body?.destinationId ?? null;
      if (event.status === 'rejected') {
        throw new HooklineError(
          'inbound_event_rejected',
          `event ${event.id} failed verification; it is never forwarded`,
        );
      }
      if (event.status === 'handshake') throw notFound('forwarded event (a handshake is never forwarded)');
      // A duplicate is replayed as the event it repeats: destinations know that one's webhook-id.
      const original =
        event.status === 'duplicate' ? await ctx.store.getInboundEvent(source.id, event.duplicateOf!) : event;
      if (!original) throw notFound('inbound event');
      // A split request is forwarded as its messages' payloads; any other needs its bytes.
      if (original.bodyExpungedAt !== null && original.messageIds === null) {
        throw new HooklineError(
          'inbound_body_expunged',
          `event ${original.id} is past the retention period: its body was removed, so it cannot be replayed`,
        );
      }
      if (only && !source.destinations.some((d) => d.id === only))
        throw invalid(['body', 'destinationId'], 'no such destination');
      const now = ctx.clock.now();
      let deliveries = 0;
      // A split request (Salesforce) is replayed as every message it became.
      for (const msgId of messagesOf(original)) {
        const message = await ctx.store.getMessage(source.appId, msgId);
        if (!message) throw notFound('inbound event');
        const targets = source.destinations.filter((d) =>
          only ? d.id === only : endpointMatches({ ...d, channels: null }, message.eventType, null),
        );
        for (const d of targets) await ctx.store.resend(message, d.id, ctx.ids('delivery'), now);
        deliveries += targets.length;
      }
      return reply.code(202).send({ id: original.id, deliveries });
    },
  );
}
