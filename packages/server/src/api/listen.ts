/**
 * `GET /api/v1/app/{app}/endpoint/{endpoint}/listen` (WebSocket): where `hookline listen`
 * connects to receive the deliveries of a `listen` endpoint. The protocol is in
 * `delivery/listen-hub.ts`. The connection is checked (token, app, endpoint kind) before the
 * upgrade, so a refused client gets a normal `{code, detail}` HTTP error.
 *
 * Opening the stream is a change, although it is a GET: it takes over the endpoint's session
 * (the connected client is closed) and records deliveries as answered. So it needs a token that
 * may change the endpoint: the admin token, or an application token of that application that
 * is not read-only.
 */
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { HooklineError } from '../core/errors.ts';
import type { Endpoint } from '../core/types.ts';
import type { ListenHub } from '../delivery/listen-hub.ts';
import { loadApp } from './application.ts';
import type { ApiContext, Routes } from './context.ts';
import { loadEndpoint } from './endpoint.ts';

/** Pings keep proxies from closing an idle stream and find clients that vanished (laptop lid shut). */
const PING_MS = 15_000;

export function listenRoutes(api: Routes, ctx: ApiContext, hub: ListenHub): void {
  const endpoints = new WeakMap<FastifyRequest, Endpoint>();
  api.route({
    method: 'GET',
    url: '/app/:app_id/endpoint/:endpoint_id/listen',
    schema: {
      tags: ['Endpoint'],
      summary: 'WebSocket stream of the deliveries of a listen endpoint (used by `hookline listen`)',
      params: Type.Object({ app_id: Type.String(), endpoint_id: Type.String() }),
    },
    preHandler: async (req) => {
      const p = req.principal;
      // The auth hook has already refused other applications' tokens; reads pass it, this may not.
      if (p?.kind === 'app' && p.token.readOnly) {
        throw new HooklineError(
          'insufficient_access',
          'this application token is read-only; streaming an endpoint needs a token that can change it',
        );
      }
      const { app_id, endpoint_id } = req.params as { app_id: string; endpoint_id: string };
      const app = await loadApp(ctx, app_id);
      const ep = await loadEndpoint(ctx, app, endpoint_id);
      if (ep.kind !== 'listen') {
        throw new HooklineError(
          'not_listen_endpoint',
          `endpoint ${ep.id} has kind "${ep.kind ?? 'http'}"; only kind "listen" endpoints stream to hookline listen`,
        );
      }
      endpoints.set(req, ep);
    },
    handler: async () => {
      throw new HooklineError(
        'websocket_required',
        'connect with a WebSocket (this is what `hookline listen` does)',
      );
    },
    wsHandler: (socket, req) => {
      const ep = endpoints.get(req)!;
      let alive = true;
      socket.on('pong', () => {
        alive = true;
      });
      const ping = setInterval(() => {
        if (!alive) {
          socket.terminate();
          return;
        }
        alive = false;
        socket.ping();
      }, PING_MS);
      socket.on('close', () => clearInterval(ping));
      void hub.serve(socket, { id: ep.id, appId: ep.appId, url: ep.url });
    },
  });
}
