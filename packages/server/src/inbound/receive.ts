/**
 * `POST /in/{source}`: where providers send webhooks. The request is verified on its raw bytes,
 * checked for duplicates, and stored byte for byte with its headers in one transaction together
 * with its deliveries; only then is it answered (200, or 401 for a request that fails
 * verification, which is kept for inspection and never forwarded). Forwarding happens later, in
 * the dispatcher, like any other delivery.
 */
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from '../api/server.ts';
import { HooklineError, notFound } from '../core/errors.ts';
import { endpointMatches } from '../core/routing.ts';
import type { InboundEvent, Source } from '../core/types.ts';
import { dedupeKey, eventTypeOf, lazyJson, verifyRequest } from './rules.ts';

/**
 * Rejected and duplicate requests kept per source for inspection (the newest). Anyone can post
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

export function sourceBodyLimit(source: Source, ctx: ApiContext): number {
  return source.maxBodyBytes ?? ctx.config.maxPayloadBytes;
}

const tooLarge = (limit: number) =>
  new HooklineError('payload_too_large', `the body is larger than this source's ${limit}-byte limit`);

/** The challenge of a verified Slack `url_verification` request, which Slack wants echoed. */
function handshakeChallenge(source: Source, json: () => unknown): string | null {
  if (source.verification.scheme !== 'slack') return null;
  const body = json() as { type?: unknown; challenge?: unknown } | undefined;
  return body?.type === 'url_verification' && typeof body.challenge === 'string' ? body.challenge : null;
}

export function inboundRoutes(ctx: ApiContext) {
  return async (scope: FastifyInstance) => {
    const sources = new WeakMap<FastifyRequest, Source>();

    // Any content type, kept as the exact bytes received; only in this scope.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: MAX_SOURCE_BODY_BYTES },
      (_req, body, done) => done(null, body),
    );

    scope.addHook('onRequest', async (req: FastifyRequest<{ Params: { source: string } }>) => {
      const source = await ctx.store.getSource(req.params.source);
      if (!source || source.name !== req.params.source) throw notFound('source');
      const limit = sourceBodyLimit(source, ctx);
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
      sources.set(req, source);
    });

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

    scope.post(
      '/in/:source',
      {
        bodyLimit: MAX_SOURCE_BODY_BYTES,
        schema: {
          tags: ['Inbound'],
          summary: 'Receive a webhook from a provider (any content type; the raw bytes are kept)',
          security: [],
        },
      },
      async (req, reply) => {
        const source = sources.get(req)!;
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const now = ctx.clock.now();
        const headers = headerPairs(req.raw.rawHeaders);
        const verdict = verifyRequest(source, body, req.headers, now);
        const json = lazyJson(body);
        const eventType = eventTypeOf(source, headers, json);
        const event: InboundEvent = {
          id: ctx.ids('message'),
          sourceId: source.id,
          status: verdict.ok ? 'accepted' : 'rejected',
          eventType,
          dedupeKey: dedupeKey(source, headers, json, verdict.ok ? verdict.id : undefined),
          duplicateOf: null,
          verifyCode: verdict.ok ? null : verdict.code,
          verifyDetail: verdict.ok ? null : verdict.detail,
          contentType: req.headers['content-type'] ?? null,
          headers,
          body,
          receivedAt: now,
          bodyExpungedAt: null,
        };
        const result = await ctx.inbound.add({
          event,
          appId: source.appId,
          dedupeSince: source.dedupe ? now - source.dedupe.windowMs : null,
          route: (endpoints) => endpoints.filter((e) => endpointMatches(e, eventType, null)).map((e) => e.id),
          newDeliveryId: () => ctx.ids('delivery'),
          keepUnaccepted: KEEP_UNACCEPTED,
        });
        switch (result.status) {
          case 'accepted': {
            const challenge = handshakeChallenge(source, json);
            // Slack confirms a new Request URL by expecting its challenge back (the event is still stored).
            if (challenge !== null)
              return reply.code(200).header('hookline-event-id', event.id).send({ challenge });
            return reply.code(200).send({ id: event.id, status: 'accepted' });
          }
          case 'duplicate':
            return reply
              .code(200)
              .header('hookline-duplicate-of', result.duplicateOf)
              .send({ id: event.id, status: 'duplicate', duplicateOf: result.duplicateOf });
          case 'rejected':
            if (verdict.ok) throw new Error('an accepted request was stored as rejected');
            return reply
              .code(401)
              .header('hookline-event-id', event.id)
              .send({ code: verdict.code, detail: verdict.detail });
          case 'source_not_found':
            throw notFound('source');
        }
      },
    );
  };
}
