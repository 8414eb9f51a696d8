/**
 * `/api/v1/app/{app}/endpoint/{ep}/transformation`: an endpoint's JavaScript `handler(webhook)`,
 * run in a sandbox before each request (see delivery/transformation.ts). Svix's shapes: `GET`
 * answers `{code, enabled, updatedAt}`, `PATCH` changes either, and `POST .../simulate` runs code
 * on a sample payload and shows the request it would make.
 */
import Type from 'typebox';
import { HooklineError, invalid } from '../core/errors.ts';
import { checkTransformation, transform } from '../delivery/transformation.ts';
import type { ApiContext, Routes } from './context.ts';
import { loadExtras, saveExtras } from './endpoint-auth.ts';
import {
  EndpointTransformationOut,
  EndpointTransformationPatch,
  TransformationSimulateIn,
  TransformationSimulateOut,
} from './endpoint-extras-schemas.ts';
import { ErrorOut, NoContent, ValidationErrorOut } from './schemas.ts';

const tags = ['Endpoint'];
const EpParams = Type.Object({
  app_id: Type.String(),
  endpoint_id: Type.String({ description: 'Endpoint id or uid' }),
});
export function transformationRoutes(api: Routes, ctx: ApiContext): void {
  const errors = { 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut };
  const path = '/app/:app_id/endpoint/:endpoint_id/transformation';

  api.get(
    path,
    {
      schema: {
        tags,
        summary: "Get the endpoint's transformation code and whether it runs",
        params: EpParams,
        response: { 200: EndpointTransformationOut, ...errors },
      },
    },
    async (req) => {
      const { extras } = await loadExtras(ctx, req.params.app_id, req.params.endpoint_id, false);
      const t = extras.transformation;
      return {
        code: t?.code || null,
        enabled: t?.enabled ?? false,
        updatedAt: t ? new Date(t.updatedAt).toISOString() : null,
      };
    },
  );

  api.patch(
    path,
    {
      schema: {
        tags,
        summary: "Set or unset the endpoint's transformation code, or turn it on or off",
        params: EpParams,
        body: EndpointTransformationPatch,
        response: { 204: NoContent, ...errors },
      },
    },
    async (req, reply) => {
      const { extras } = await loadExtras(ctx, req.params.app_id, req.params.endpoint_id, true);
      const before = extras.transformation;
      const code = req.body.code === undefined ? (before?.code ?? '') : (req.body.code ?? '');
      // New code runs on, as in Svix; removing the code turns it off.
      const enabled =
        code === '' ? false : (req.body.enabled ?? (req.body.code ? true : (before?.enabled ?? false)));
      if (code !== '' && code !== before?.code) {
        const problem = await checkTransformation(code);
        if (problem) throw invalid(['body', 'code'], `the code ${problem}`);
      }
      await saveExtras(ctx, {
        ...extras,
        transformation: code === '' ? null : { code, enabled, updatedAt: ctx.clock.now() },
      });
      return reply.code(204).send(null);
    },
  );

  api.post(
    `${path}/simulate`,
    {
      schema: {
        tags,
        summary: 'Run transformation code (the given one, else the saved one) on a sample payload',
        params: EpParams,
        body: TransformationSimulateIn,
        response: { 200: TransformationSimulateOut, 400: ErrorOut, ...errors },
      },
    },
    async (req) => {
      const { ep, extras } = await loadExtras(ctx, req.params.app_id, req.params.endpoint_id, false);
      const code = req.body.code ?? extras.transformation?.code ?? '';
      if (code === '') throw invalid(['body', 'code'], 'no code given and the endpoint has none');
      const out = await transform(
        code,
        {
          method: 'POST',
          url: ep.url,
          eventType: req.body.eventType,
          payload: req.body.payload,
          headers: {},
          cancel: false,
        },
        ep.url,
      );
      if (!out.ok) throw new HooklineError('transformation_failed', out.message);
      return {
        method: out.method,
        url: out.url,
        payload: out.payload,
        headers: out.headers,
        cancel: out.cancel,
      };
    },
  );
}
