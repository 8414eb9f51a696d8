/**
 * `POST /in/{source}`: where providers send webhooks. A client outside the source's allowlist is
 * refused before its body is read. The request is verified on its raw bytes, checked for
 * duplicates, and stored byte for byte with its headers in one transaction together with its
 * deliveries; only then is it answered (200, or 401 for a request that fails verification, which
 * is kept for inspection and never forwarded). Forwarding happens later, in the dispatcher, like
 * any other delivery.
 *
 * Handshakes (a provider checking the URL: Slack, Discord, a source's challenge rule, also on
 * `GET` and `HEAD`) are answered at once, stored as `handshake` events and never forwarded. A
 * Salesforce Outbound Message (at most 100 notifications) is split into one message per
 * notification and acknowledged after the commit.
 */
import { Transform } from 'node:stream';
import { salesforceAck } from '@hookline/receiver';
import type { Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/context.ts';
import { refuseNul } from '../api/http-limits.ts';
import { ERRORS, HooklineError, notFound } from '../core/errors.ts';
import { endpointMatches } from '../core/routing.ts';
import { storableText } from '../core/text.ts';
import type { InboundEvent, SourceSettings } from '../core/types.ts';
import type { InboundPart } from '../store/store.ts';
import { inSpan, SpanKind } from '../tracing.ts';
import { ipAllowed } from './allowlist.ts';
import { challengeAnswer, type HandshakeAnswer, providerHandshake, providerReply } from './handshakes.ts';
import { hubspotParts } from './hubspot.ts';
import { tokenAccepted } from './ingest-token.ts';
import { dedupeKey, eventTypeOf, lazyJson, salesforceMessage, type Verdict, verifyRequest } from './rules.ts';
import { SALESFORCE_MAX_NOTIFICATIONS, salesforceFault, salesforceParts } from './salesforce.ts';

/**
 * Rejected, duplicate and handshake requests kept per source for inspection (the newest). Anyone can post
 * to /in, so this bounds what junk can cost; accepted events are never pruned.
 */
export const KEEP_UNACCEPTED = 1000;

/** The most any source may accept; each source has its own limit (default: the server's). */
export const MAX_SOURCE_BODY_BYTES = 64 * 1024 * 1024;

/** Node's flat `rawHeaders` as [name, value] pairs, original case and order kept. */
export function headerPairs(raw: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
  return pairs;
}

export function sourceBodyLimit(source: SourceSettings, ctx: ApiContext): number {
  return source.maxBodyBytes ?? ctx.config.maxPayloadBytes;
}

const tooLarge = (limit: number) =>
  new HooklineError('payload_too_large', `the body is larger than this source's ${limit}-byte limit`);

export function inboundRoutes(ctx: ApiContext) {
  return async (scope: FastifyInstance) => {
    const sources = new WeakMap<FastifyRequest, SourceSettings>();
    /** The trace context a request's messages carry on to their destinations (`tracing.ts`). */
    const traced = new WeakMap<FastifyRequest, { traceparent: string; span: Span | null }>();

    // Any content type, kept as the exact bytes received; only in this scope.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: MAX_SOURCE_BODY_BYTES },
      (_req, body, done) => done(null, body),
    );

    scope.addHook(
      'onRequest',
      async (req: FastifyRequest<{ Params: { source: string; token?: string } }>) => {
        // A NUL in the name or query (`/in/%00`) is refused before the lookup: no source has one,
        // and PostgreSQL cannot even compare text holding one. The body may hold `\u0000`.
        await refuseNul(req);
        const source = await ctx.store.getSourceSettings(req.params.source);
        if (!source || source.name !== req.params.source) throw notFound('source');
        // A source with a URL token is reached only with a current (or not yet expired) one.
        if (!tokenAccepted(source, req.params.token, ctx.clock.now())) throw notFound('source');
        // Before the body is read: nothing from outside the allowlist is kept.
        if (source.allowedIps && !ipAllowed(source.allowedIps, req.ip, `${source.id}:${source.updatedAt}`)) {
          ctx.metrics?.inboundRequest('ip_not_allowed');
          throw new HooklineError('ip_not_allowed', `${req.ip} is not in this source's allowedIps`);
        }
        const limit = sourceBodyLimit(source, ctx);
        const declared = Number(req.headers['content-length']);
        if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
        sources.set(req, source);
      },
    );

    // Chunked bodies have no length up front: count the bytes as they come.
    scope.addHook('preParsing', async (req, _reply, payload) => {
      const limit = sourceBodyLimit(sources.get(req)!, ctx);
      let seen = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          seen += chunk.length;
          if (seen > limit) callback(tooLarge(limit));
          else callback(null, chunk);
        },
      });
      payload.on('error', (err) => counter.destroy(err));
      return payload.pipe(counter);
    });

    /** Stores one received request (with its parts, when split) and reports what became of it. */
    const store = async (
      req: FastifyRequest,
      source: SourceSettings,
      fields: Pick<
        InboundEvent,
        'status' | 'eventType' | 'dedupeKey' | 'verifyCode' | 'verifyDetail' | 'headers' | 'body'
      >,
      parts?: InboundPart[],
    ) => {
      const now = ctx.clock.now();
      const event: InboundEvent = {
        id: ctx.ids('message'),
        sourceId: source.id,
        ...fields,
        // Read from the body, which may hold `\u0000` (the body itself is kept as bytes).
        eventType: storableText(fields.eventType),
        dedupeKey: fields.dedupeKey === null ? null : storableText(fields.dedupeKey),
        verifyDetail: fields.verifyDetail === null ? null : storableText(fields.verifyDetail),
        duplicateOf: null,
        method: req.method,
        contentType: req.headers['content-type'] ?? null,
        receivedAt: now,
        bodyExpungedAt: null,
        messageIds: null,
      };
      const result = await ctx.inbound.add({
        event,
        appId: source.appId,
        dedupeSince: source.dedupe ? now - source.dedupe.windowMs : null,
        route: (endpoints, eventType) =>
          endpoints.filter((e) => endpointMatches(e, eventType, null)).map((e) => e.id),
        newDeliveryId: () => ctx.ids('delivery'),
        keepUnaccepted: KEEP_UNACCEPTED,
        traceparent: traced.get(req)?.traceparent ?? null,
        ...(parts
          ? {
              parts: parts.map((p) => ({
                ...p,
                eventType: storableText(p.eventType),
                dedupeKey: p.dedupeKey === null ? null : storableText(p.dedupeKey),
              })),
            }
          : {}),
      });
      if (result.status === 'source_not_found') throw notFound('source');
      ctx.metrics?.inboundRequest(result.status);
      const span = traced.get(req)?.span;
      if (span?.isRecording()) {
        span.setAttributes({ 'hookline.msg_id': event.id, 'hookline.inbound.status': result.status });
      }
      return { event, result };
    };

    const answer = (reply: FastifyReply, status: number, eventId: string, a: HandshakeAnswer) => {
      if (a.status === 204) return reply.code(204).header('hookline-event-id', eventId).send();
      reply
        .code(a.status ?? status)
        .header('hookline-event-id', eventId)
        .type(a.contentType);
      // Dropbox asks for this on its echoed challenge; harmless on any text answer.
      if (a.contentType.startsWith('text/plain')) reply.header('x-content-type-options', 'nosniff');
      return reply.send(a.body);
    };

    const receive = async (req: FastifyRequest, reply: FastifyReply) => {
      const source = sources.get(req)!;
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const headers = headerPairs(req.raw.rawHeaders);
      const json = lazyJson(body);
      const scheme = source.verification.scheme;
      const sf = scheme === 'salesforce' ? salesforceMessage(body) : null;
      const eventType = eventTypeOf(source, headers, json, sf);
      let verdict: Verdict | undefined;
      const verdictOf = () => {
        verdict ??= verifyRequest(source, body, req.headers, ctx.clock.now(), req.method, req.raw.url);
        return verdict;
      };
      const request = { eventType, headers, body };
      const handshake = async (a: HandshakeAnswer) => {
        const { event } = await store(req, source, {
          ...request,
          status: 'handshake',
          dedupeKey: null,
          verifyCode: null,
          verifyDetail: null,
        });
        return answer(reply, 200, event.id, a);
      };

      // A challenge rule's request, when it applies (and verifies, if the rule says so). HEAD is
      // GET without the body (Fastify answers it with the GET route): the same rules apply.
      const rule = source.handshake.challenge;
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const challenge = rule
        ? challengeAnswer(rule, method, new URLSearchParams(req.raw.url?.split('?')[1] ?? ''), json)
        : null;
      if (rule && challenge && (!rule.verify || verdictOf().ok)) return handshake(challenge);
      if (method === 'GET' && !challenge) {
        throw new HooklineError(
          'method_not_allowed',
          'this source answers GET (and HEAD) only for its challenge rule (handshake.challenge); providers POST their events',
        );
      }

      /** Keeps a refused request for inspection and tells the provider why, in its language. */
      const refuse = async (status: number, code: string, detail: string) => {
        const { event } = await store(req, source, {
          ...request,
          status: 'rejected',
          dedupeKey: null,
          verifyCode: code,
          verifyDetail: detail,
        });
        // Salesforce reads SOAP: a fault (and no Ack) makes it retry the message later.
        if (scheme === 'salesforce' && source.handshake.provider)
          return answer(reply, status, event.id, salesforceFault(code, detail));
        return reply.code(status).header('hookline-event-id', event.id).send({ code, detail });
      };

      const v = verdictOf();
      if (!v.ok) return refuse(401, v.code, v.detail);
      // Salesforce itself never sends more (and signs nothing): without this cap one request
      // could become any number of messages.
      if (sf && sf.notifications.length > SALESFORCE_MAX_NOTIFICATIONS) {
        return refuse(
          ERRORS.too_many_notifications.status,
          'too_many_notifications',
          `the Outbound Message carries ${sf.notifications.length} notifications; Salesforce sends at most ${SALESFORCE_MAX_NOTIFICATIONS}`,
        );
      }

      const provider = providerHandshake(source, json);
      if (provider) return handshake(provider);

      const accepted = {
        ...request,
        status: 'accepted' as const,
        dedupeKey: dedupeKey(source, headers, json, v),
        verifyCode: null,
        verifyDetail: null,
      };
      // Salesforce: one message per notification, acknowledged only once all are stored.
      if (sf && source.handshake.provider) {
        const { event } = await store(
          req,
          source,
          accepted,
          salesforceParts(sf, () => ctx.ids('message')),
        );
        return answer(reply, 200, event.id, {
          contentType: 'text/xml; charset=utf-8',
          body: salesforceAck(),
        });
      }

      // HubSpot: one message per event of the batch, whatever became of the others.
      const batch = scheme === 'hubspot' ? hubspotParts(json(), () => ctx.ids('message')) : null;
      if (batch) {
        const { event, result } = await store(req, source, accepted, batch);
        return reply.code(200).send({
          id: event.id,
          status: result.status,
          messageIds: result.status === 'accepted' ? (result.messages ?? []) : [],
        });
      }

      const { event, result } = await store(req, source, accepted);
      // Discord wants its interaction answer (or 204) whether or not this copy is new.
      const custom = providerReply(source, json);
      if (custom) return answer(reply, 200, event.id, custom);
      if (result.status === 'duplicate') {
        return reply
          .code(200)
          .header('hookline-duplicate-of', result.duplicateOf)
          .send({ id: event.id, status: 'duplicate', duplicateOf: result.duplicateOf });
      }
      return reply.code(200).send({ id: event.id, status: 'accepted' });
    };

    /** Receive to stored in one span, a child of the provider's span when it sent a traceparent. */
    const tracedReceive = (req: FastifyRequest, reply: FastifyReply) =>
      inSpan(
        ctx.tracing,
        'hookline.inbound',
        SpanKind.SERVER,
        req.headers,
        () => ({
          'http.request.method': req.method,
          'http.route': '/in/{source}',
          'hookline.source_id': sources.get(req)?.id ?? '',
          'hookline.app_id': sources.get(req)?.appId ?? '',
        }),
        async (traceparent, span) => {
          if (traceparent) traced.set(req, { traceparent, span });
          const out = await receive(req, reply);
          if (span?.isRecording()) span.setAttribute('http.response.status_code', reply.statusCode);
          return out;
        },
      );

    const routeSchema = {
      bodyLimit: MAX_SOURCE_BODY_BYTES,
      schema: {
        tags: ['Inbound'],
        summary: 'Receive a webhook from a provider (any content type; the raw bytes are kept)',
        security: [],
      },
    };
    const getSchema = {
      schema: {
        tags: ['Inbound'],
        summary: "Answer a provider's GET challenge (the source's handshake.challenge, e.g. Dropbox)",
        security: [],
      },
    };
    scope.post('/in/:source', routeSchema, tracedReceive);
    scope.get('/in/:source', getSchema, tracedReceive);
    // The same with the source's URL token (sources made through the Svix Ingest API have one).
    scope.post('/in/:source/:token', routeSchema, tracedReceive);
    scope.get('/in/:source/:token', getSchema, tracedReceive);
  };
}
