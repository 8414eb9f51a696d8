/**
 * Serves the web dashboard (`packages/dashboard`, built by `npm install`) at `/`. The dashboard is
 * a single-page app: any GET outside the API's own prefixes that asks for HTML gets its
 * `index.html`, so client routes such as `/apps/app_123` survive a reload. The API, the
 * inbound gateway, `/health`, `/metrics` and `/openapi.json` are never shadowed, and no path under
 * `/api` or `/ingest` (Svix Ingest's prefix) ever gets the app: an unknown API path is a JSON 404.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import { HooklineError } from '../core/errors.ts';

/** Where `npm install` (the root `prepare` script) puts the built dashboard. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/dist/', import.meta.url));

/**
 * The page only loads its own files and talks to its own origin: an injected script could not
 * load code or send the admin token anywhere else.
 */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** Paths the dashboard never answers, even for a browser asking for HTML. */
const RESERVED = /^\/(api|ingest|in|health|metrics|openapi\.json)(\/|$|\?)/;

export async function registerDashboard<L extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, L>,
  options: { dir?: string; log: { warn(msg: string): void } },
): Promise<void> {
  const dir = options.dir ?? DEFAULT_DASHBOARD_DIR;
  const built = existsSync(join(dir, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, {
      root: dir,
      prefix: '/',
      // One route per built file, so unknown paths fall through to the SPA route below.
      wildcard: false,
      index: false,
      setHeaders(reply, path) {
        // Vite puts a content hash in every asset name; index.html must always be re-read.
        if (/[\\/]assets[\\/]/.test(path))
          reply.header('cache-control', 'public, max-age=31536000, immutable');
        else reply.header('cache-control', 'no-cache');
        if (path.endsWith('.html')) reply.header('content-security-policy', CSP);
      },
    });
  } else {
    options.log.warn(
      `the dashboard is not built (no ${join(dir, 'index.html')}); run "npm install" in the repository, or "npm run build -w @hookline/dashboard"`,
    );
  }

  app.get('/*', { schema: { hide: true } }, (request, reply) => {
    // A missing file (`/favicon.ico`, an old asset) is a 404, not the app.
    if (RESERVED.test(request.url) || /\.[a-z0-9]+$/i.test(request.url.split('?')[0]!))
      return reply.callNotFound();
    if (!built) {
      throw new HooklineError(
        'dashboard_not_built',
        'the dashboard has not been built; run "npm install" in the Hookline repository (or "npm run build -w @hookline/dashboard") and restart the server',
      );
    }
    return reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .sendFile('index.html');
  });
}
