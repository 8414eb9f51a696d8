/**
 * `/api/v1/app/{app}/endpoint/{ep}/oauth|mtls|ca`: how Hookline proves itself to an endpoint
 * beyond the signature, and which CA it trusts for it.
 *
 * - `oauth`: OAuth 2.0 client credentials. Hookline fetches a token from `tokenUrl`, sends it as
 *   `Authorization: Bearer`, keeps it until it expires and fetches a new one on a 401.
 * - `mtls`: a client certificate and its private key, presented when connecting.
 * - `ca`: PEM certificates trusted for this endpoint (on top of the system's).
 *
 * The client secret and the private key are sealed at rest and never answered.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { invalid, notFound } from '../core/errors.ts';
import type { EndpointExtras } from '../core/types.ts';
import { checkDestination, checkUrlShape } from '../delivery/ssrf.ts';
import { loadApp, loadAppToChange } from './application.ts';
import type { ApiContext, Routes } from './context.ts';
import { loadEndpoint } from './endpoint.ts';
import {
  EndpointCaConfigIn,
  EndpointCaConfigOut,
  EndpointMtlsConfigIn,
  EndpointMtlsConfigOut,
  EndpointOauthConfigIn,
  EndpointOauthConfigOut,
} from './endpoint-extras-schemas.ts';
import { ErrorOut, NoContent, ValidationErrorOut } from './schemas.ts';

const tags = ['Endpoint'];
const EpParams = Type.Object({
  app_id: Type.String(),
  endpoint_id: Type.String({ description: 'Endpoint id or uid' }),
});
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM text, or a 422 naming the field. */
function parseCertificates(pem: string, field: string): X509Certificate[] {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw invalid(['body', field], 'must hold a PEM certificate (BEGIN CERTIFICATE)');
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch {
      throw invalid(['body', field], 'holds a certificate that cannot be read');
    }
  });
}

function certificateOut(pem: string) {
  const [first] = parseCertificates(pem, 'certificate');
  const c = first!;
  return {
    certificate: pem,
    subject: c.subject,
    issuer: c.issuer,
    validTo: new Date(c.validTo).toISOString(),
    fingerprint256: c.fingerprint256,
  };
}

export function oauthOut(o: NonNullable<EndpointExtras['oauth']>): Static<typeof EndpointOauthConfigOut> {
  return {
    tokenUrl: o.tokenUrl,
    clientId: o.clientId,
    scopes: o.scopes,
    authMethod: o.authMethod,
    grantType: 'clientCredentials',
    extraParams: o.extraParams,
  };
}

/** Loads an endpoint and its extras (empty ones when it has none). */
export async function loadExtras(ctx: ApiContext, appId: string, epId: string, change: boolean) {
  const app = change ? await loadAppToChange(ctx, appId) : await loadApp(ctx, appId);
  const ep = await loadEndpoint(ctx, app, epId);
  const extras: EndpointExtras = (await ctx.store.getEndpointExtras(ep.id)) ?? {
    endpointId: ep.id,
    appId: app.id,
    oauth: null,
    mtls: null,
    ca: null,
    transformation: null,
    updatedAt: 0,
  };
  return { app, ep, extras };
}

/** Writes an endpoint's extras and tells the delivery engine of this process. */
export async function saveExtras(ctx: ApiContext, extras: EndpointExtras): Promise<void> {
  // `updatedAt` versions the sender's cached token and TLS agent: it must change on every write.
  const now = ctx.clock.now();
  await ctx.store.putEndpointExtras({ ...extras, updatedAt: Math.max(now, extras.updatedAt + 1) });
  ctx.extras?.invalidate();
}

export function endpointAuthRoutes(api: Routes, ctx: ApiContext): void {
  const errors = { 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut };

  // ---- oauth -------------------------------------------------------------------------------
  api.get(
    '/app/:app_id/endpoint/:endpoint_id/oauth',
    {
      schema: {
        tags,
        summary: 'Get the OAuth client credentials configuration (without the client secret)',
        params: EpParams,
        response: { 200: EndpointOauthConfigOut, ...errors },
      },
    },
    async (req) => {
      const { extras } = await loadExtras(ctx, req.params.app_id, req.params.endpoint_id, false);
      if (!extras.oauth) throw notFound('OAuth configuration');
      return oauthOut(extras.oauth);
    },
  );
  api.put(
    '/app/:app_id/endpoint/:endpoint_id/oauth',
    {
      schema: {
        tags,
        summary: 'Set OAuth 2.0 client credentials: requests carry a bearer token from the token URL',
        params: EpParams,
        body: EndpointOauthConfigIn,
        response: { 204: NoContent, ...errors },
      },
    },
    async (req, reply) => {
      const { extras } = await loadExtras(ctx, req.params.app_id, req.params.endpoint_id, true);
      const b = req.body;
      const url = checkUrlShape(b.tokenUrl);
      if ('reason' in url) throw invalid(['body', 'tokenUrl'], `tokenUrl ${url.reason}`);
      const problem = await checkDestination(url, ctx.config.allowPrivateNetworks);
      if (problem) throw invalid(['body', 'tokenUrl'], `tokenUrl ${problem.reason}`);
      await saveExtras(ctx, {
        ...extras,
        oauth: {
          tokenUrl: url.href,
          clientId: b.clientId,
          clientSecret: b.clientSecret,
          scopes: b.scopes ?? [],
          authMethod: b.authMethod ?? 'clientSecretBasic',
          extraParams: b.extraParams ?? {},
        },
      });
      return reply.code(204).send(null);
    },
  );

  // ---- mtls --------------------------------------------------------------------------------
  api.get(
    '/app/:app_id/endpoint/:endpoint_id/mtls',
    {
      schema: {
        tags,
        summary: 'Get the client certificate used for mutual TLS (without its private key)',
        params: EpParams,
        response: { 200: EndpointMtlsConfigOut, ...errors },
      },
    },
    async (req) => {
      const { extras } = await loadExtras(ctx, req.params.app_id, req.params.endpoint_id, false);
      if (!extras.mtls) throw notFound('mTLS configuration');
      return certificateOut(extras.mtls.certificate);
    },
  );
  api.put(
    '/app/:app_id/endpoint/:endpoint_id/mtls',
    {
      schema: {
        tags,
        summary: 'Set a client certificate and key: Hookline presents them when connecting (mutual TLS)',
        params: EpParams,
        body: EndpointMtlsConfigIn,
        response: { 204: NoContent, ...errors },
      },
    },
    async (req, reply) => {
      const { extras } = await loadExtras(ctx, req.params.app_id, req.params.endpoint_id, true);
      const [cert] = parseCertificates(req.body.certificate, 'certificate');
      let key: ReturnType<typeof createPrivateKey>;
      try {
        key = createPrivateKey(req.body.key);
      } catch {
        throw invalid(['body', 'key'], 'must be an unencrypted PEM private key');
      }
      if (!cert!.checkPrivateKey(key))
        throw invalid(['body', 'key'], 'is not the private key of the certificate');
      await saveExtras(ctx, {
        ...extras,
        mtls: { certificate: req.body.certificate, key: req.body.key },
      });
      return reply.code(204).send(null);
    },
  );

  // ---- ca ----------------------------------------------------------------------------------
  api.get(
    '/app/:app_id/endpoint/:endpoint_id/ca',
    {
      schema: {
        tags,
        summary: 'Get the CA certificates trusted for this endpoint',
        params: EpParams,
        response: { 200: EndpointCaConfigOut, ...errors },
      },
    },
    async (req) => {
      const { extras } = await loadExtras(ctx, req.params.app_id, req.params.endpoint_id, false);
      if (!extras.ca) throw notFound('CA configuration');
      return certificateOut(extras.ca);
    },
  );
  api.put(
    '/app/:app_id/endpoint/:endpoint_id/ca',
    {
      schema: {
        tags,
        summary: "Trust these CA certificates for this endpoint's TLS (on top of the system's)",
        params: EpParams,
        body: EndpointCaConfigIn,
        response: { 204: NoContent, ...errors },
      },
    },
    async (req, reply) => {
      const { extras } = await loadExtras(ctx, req.params.app_id, req.params.endpoint_id, true);
      const certs = parseCertificates(req.body.certificate, 'certificate');
      if (!certs.every((c) => c.ca))
        throw invalid(['body', 'certificate'], 'holds a certificate that is not a CA');
      await saveExtras(ctx, { ...extras, ca: req.body.certificate });
      return reply.code(204).send(null);
    },
  );

  for (const part of ['oauth', 'mtls', 'ca'] as const) {
    api.delete(
      `/app/:app_id/endpoint/:endpoint_id/${part}`,
      {
        schema: {
          tags,
          summary: `Remove the ${part === 'ca' ? 'CA' : part === 'mtls' ? 'client certificate' : 'OAuth'} configuration`,
          params: EpParams,
          response: { 204: NoContent, ...errors },
        },
      },
      async (req, reply) => {
        const { extras } = await loadExtras(ctx, req.params.app_id, req.params.endpoint_id, true);
        if (extras[part] !== null) await saveExtras(ctx, { ...extras, [part]: null });
        return reply.code(204).send(null);
      },
    );
  }
}
