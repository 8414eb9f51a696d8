/**
 * The HTTP server: Fastify with Svix's wire conventions. This file wires the pieces every
 * route shares (auth, errors, validation, idempotency, OpenAPI); each resource has its own file.
 */
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { HooklineConfig } from '../config.ts';
import { coerceError, HooklineError, type ValidationIssue } from '../core/errors.ts';
import { inboundRoutes } from '../inbound/receive.ts';
import { StoreConflictError, StoreUnavailableError } from '../store/store-errors.ts';
import { appsChanged, changesApps } from './app-lookup.ts';
import { applicationRoutes } from './application.ts';
import { attemptRoutes } from './attempt.ts';
import { authRoutes, createAuth } from './auth.ts';
import { backgroundTaskRoutes, createBackgroundTasks } from './background-task.ts';
import { broadcastEnvironmentRoutes } from './broadcast-environment.ts';
import { concurrencyRoutes } from './concurrency.ts';
import type { ApiContext } from './context.ts';
import { registerDashboard } from './dashboard.ts';
import { endpointRoutes } from './endpoint.ts';
import { endpointAuthRoutes } from './endpoint-auth.ts';
import { eventTypeRoutes } from './event-type.ts';
import { eventTypeExtraRoutes } from './event-type-extra.ts';
import { healthRoutes } from './health.ts';
import {
  clientErrorHandler,
  depthLimitedJsonParser,
  httpServerOptions,
  instantFormat,
  refuseNul,
} from './http-limits.ts';
import { idempotency } from './idempotency.ts';
import { listenRoutes } from './listen.ts';
import { liveRoutes } from './live.ts';
import { messageRoutes } from './message.ts';
import { metricsRoutes } from './metrics.ts';
import { operationalWebhookRoutes } from './operational-webhooks.ts';
import { overviewRoutes } from './overview.ts';
import { pollerRoutes } from './poller.ts';
import { restHookRoutes } from './rest-hooks.ts';
import { SHARED_SCHEMAS } from './schemas.ts';
import { sendingRoutes } from './sending.ts';
import { sendingExtraRoutes } from './sending-extra.ts';
import { sourceRoutes } from './source.ts';
import { statsRoutes } from './stats.ts';
import { svixIngestRoutes } from './svix-ingest.ts';
import { transformationRoutes } from './transformation.ts';
import { usageStatsRoutes } from './usage-stats.ts';

/** Fastify's request parts under the names FastAPI (and so Svix) puts first in `loc`. */
const LOC_PART: Record<string, string> = { querystring: 'query', params: 'path', headers: 'header' };

/** Fastify's Ajv errors, as Svix's 422 `detail` list. */
function validationIssues(err: FastifyError): ValidationIssue[] {
  const context = err.validationContext ?? 'body';
  const part = LOC_PART[context] ?? context;
  return (err.validation ?? []).map((v) => {
    const path = v.instancePath.split('/').filter(Boolean);
    const params = v.params as Record<string, unknown>;
    if (v.keyword === 'required') path.push(String(params.missingProperty));
    if (v.keyword === 'additionalProperties') path.push(String(params.additionalProperty));
    // An enumeration names its allowed values (they come from core/enums.ts).
    const allowed = v.keyword === 'enum' ? (params.allowedValues as unknown[]) : null;
    return {
      loc: [part, ...path.map((p) => (/^\d+$/.test(p) ? Number(p) : p))],
      msg:
        v.keyword === 'required'
          ? 'field required'
          : allowed
            ? `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`
            : (v.message ?? 'invalid value'),
      type: v.keyword === 'required' ? 'value_error.missing' : `value_error.${v.keyword}`,
    };
  });
}

/** Every error leaves as `{code, detail}` (or a 422 list); unexpected ones are logged and answered 500. */
function errorHandler(ctx: ApiContext) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let e: HooklineError;
    if (error instanceof HooklineError) e = error;
    else if (error.validation)
      e = new HooklineError('validation', 'invalid request', validationIssues(error));
    else if (error instanceof StoreUnavailableError) {
      request.log.warn({ err: error }, 'database unavailable');
      e = new HooklineError(
        'service_unavailable',
        'the database cannot take requests right now; retry later',
      );
    } else if (error instanceof StoreConflictError)
      e = new HooklineError('conflict', 'a resource with this uid exists');
    else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      e = new HooklineError(
        'payload_too_large',
        `request body is larger than the ${ctx.config.maxPayloadBytes}-byte limit`,
      );
    } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      e = new HooklineError('unsupported_media_type', 'send the body as application/json');
    } else if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      e = new HooklineError('generic_error', 'the body is empty; send a JSON object');
    } else if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) {
      e = new HooklineError('generic_error', `the body is not valid JSON: ${error.message}`);
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ code: 'generic_error', detail: error.message });
    } else {
      request.log.error({ err: coerceError(error) }, 'unexpected error');
      e = new HooklineError('internal_error', 'internal error; see the server log');
    }
    return reply.code(e.status).send(e.toBody());
  };
}

/** HOOKLINE_TRUST_PROXY as Fastify takes it (a hop count: trust that many proxies in front). */
function trustProxyOption(
  t: HooklineConfig['trustProxy'],
): boolean | string[] | ((a: string, hop: number) => boolean) {
  if (typeof t === 'number') return (_address, hop) => hop < t;
  return Array.isArray(t) ? [...t] : t;
}

export async function buildApi(ctx: ApiContext) {
  const app = Fastify({
    loggerInstance: ctx.logger,
    bodyLimit: ctx.config.maxPayloadBytes,
    // Per-request lines would cost more than the request itself at full ingest rate; errors
    // and warnings are still logged with the request id.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'svix-req-id',
    genReqId: () => ctx.ids('message').replace('msg_', 'req_'),
    routerOptions: { ignoreTrailingSlash: true },
    forceCloseConnections: true,
    // Whose X-Forwarded-For gives request.ip (source allowlists check it); false: the socket's.
    trustProxy: trustProxyOption(ctx.config.trustProxy),
    // A client that trickles its request (anyone can reach /in/{source}) gets a 408 and loses
    // the socket, instead of holding it forever.
    http: httpServerOptions(ctx.config.http),
    requestTimeout: ctx.config.http.requestTimeoutMs,
    keepAliveTimeout: ctx.config.http.keepAliveTimeoutMs,
    clientErrorHandler: clientErrorHandler(ctx.config.http),
    // A path Fastify cannot decode (`/api/v1/app/%`) fails before routing, outside the error
    // handler: answer it coded like every other malformed request.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const e = new HooklineError('generic_error', `malformed request: ${error.message}`);
      return reply.code(e.status).send(e.toBody());
    },
  });
  // Too deep to stringify, validate or render: refused once here for every route.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    depthLimitedJsonParser(app.getDefaultJsonParser('error', 'error')),
  );

  // Bodies are checked strictly (a string is not a number); query strings are coerced, since
  // every value in a URL is text.
  const bodyAjv = new Ajv({
    allErrors: true,
    removeAdditional: true,
    useDefaults: true,
    coerceTypes: false,
    strict: false,
  });
  const queryAjv = new Ajv({
    allErrors: true,
    removeAdditional: true,
    useDefaults: true,
    coerceTypes: 'array',
    strict: false,
  });
  for (const ajv of [bodyAjv, queryAjv]) {
    addFormats.default(ajv);
    ajv.addFormat('date-time', instantFormat(ajv.formats['date-time']));
  }
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema as object),
  );

  for (const s of SHARED_SCHEMAS) app.addSchema(s);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Hookline API',
        version: ctx.version,
        description: 'Send webhooks reliably. Compatible with the Svix API: point any Svix SDK at Hookline.',
      },
      components: { securitySchemes: { HTTPBearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ HTTPBearer: [] }],
    },
  });

  // One line per request (with its reqId) only at debug level: at full ingest rate it would cost
  // more than the request itself.
  if (ctx.logger.isLevelEnabled('debug')) {
    app.addHook('onResponse', async (request, reply) => {
      request.log.debug(
        { method: request.method, url: request.url, statusCode: reply.statusCode, ms: reply.elapsedTime },
        'request done',
      );
    });
  }
  await app.register(websocket);
  app.setErrorHandler(errorHandler(ctx));
  // Publishing reads applications as this process read them lately (app-lookup.ts). Any other
  // change through the management APIs may have created, changed or deleted one (directly,
  // through a source, an environment import...): the next publish reads them again.
  app.addHook('onSend', async (req, _reply, payload) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && changesApps(req.routeOptions.url))
      appsChanged(ctx.store);
    return payload;
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ code: 'not_found', detail: `no route for ${request.method} ${request.url.split('?')[0]}` }),
  );

  const auth = createAuth(ctx);
  const tasks = createBackgroundTasks(ctx);
  // Running tasks stop between batches when the server closes (they read as failed).
  app.addHook('onClose', () => tasks.close());
  await app.register(healthRoutes(ctx));
  if (ctx.metrics) await app.register(metricsRoutes(ctx, ctx.metrics));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(
    async (api) => {
      // NUL in the path or query is refused before auth looks an application up by it; in the
      // body once it is parsed.
      api.addHook('onRequest', refuseNul);
      api.addHook('onRequest', auth);
      api.addHook('preValidation', refuseNul);
      idempotency(api, ctx);
      const typed = api.withTypeProvider<TypeBoxTypeProvider>();
      applicationRoutes(typed, ctx);
      endpointRoutes(typed, ctx, tasks);
      endpointAuthRoutes(typed, ctx);
      transformationRoutes(typed, ctx);
      backgroundTaskRoutes(typed, ctx, tasks);
      eventTypeRoutes(typed, ctx);
      messageRoutes(typed, ctx);
      // The rest of Svix's API (see README "Svix compatibility").
      sendingRoutes(typed, ctx, tasks);
      sendingExtraRoutes(typed, ctx);
      pollerRoutes(typed, ctx);
      usageStatsRoutes(typed, ctx, tasks);
      eventTypeExtraRoutes(typed, ctx, tasks);
      broadcastEnvironmentRoutes(typed, ctx, tasks);
      operationalWebhookRoutes(typed, ctx);
      attemptRoutes(typed, ctx);
      statsRoutes(typed, ctx);
      concurrencyRoutes(typed, ctx);
      sourceRoutes(typed, ctx);
      authRoutes(typed, ctx);
      restHookRoutes(typed, ctx);
      if (ctx.listen) listenRoutes(typed, ctx, ctx.listen);
      overviewRoutes(typed, ctx);
      liveRoutes(typed, ctx);
    },
    { prefix: '/api/v1' },
  );
  // Svix Ingest's API (the SDKs' `ingest` namespace) on inbound sources; same auth as /api/v1.
  await app.register(
    async (api) => {
      api.addHook('onRequest', refuseNul);
      api.addHook('onRequest', auth);
      api.addHook('preValidation', refuseNul);
      idempotency(api, ctx);
      svixIngestRoutes(api.withTypeProvider<TypeBoxTypeProvider>(), ctx);
    },
    { prefix: '/ingest/api/v1' },
  );
  // Providers call /in/{source} without Hookline's token: the source's signature check is the auth.
  await app.register(inboundRoutes(ctx));
  // The web dashboard at `/` (static files and its client routes; never under /api or /in).
  await registerDashboard(app, { log: ctx.logger });
  return app;
}
