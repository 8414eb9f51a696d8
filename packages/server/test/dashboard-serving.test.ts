/**
 * The dashboard's server side: its files and client routes at `/` without shadowing the API, a
 * coded error when it was never built, and the endpoint health series it draws its charts from.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { DEFAULT_DASHBOARD_DIR, registerDashboard } from '../src/api/dashboard.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer, tempDir } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const html = { accept: 'text/html,application/xhtml+xml' };

describe('dashboard serving', () => {
  let server: TestServer;
  before(async () => {
    assert.ok(
      existsSync(join(DEFAULT_DASHBOARD_DIR, 'index.html')),
      'the dashboard is not built: run "npm install" (its prepare script builds packages/dashboard)',
    );
    server = await startHookline();
  });
  after(() => server.close());

  test('/ and client routes answer the single-page app; its assets are served with long caching', async () => {
    for (const path of ['/', '/apps/app_123/endpoints/ep_1', '/event-types?app=x']) {
      const r = await fetch(server.url + path, { headers: html });
      assert.equal(r.status, 200, path);
      const body = await r.text();
      assert.match(body, /<div id="app">/, path);
      assert.equal(r.headers.get('cache-control'), 'no-cache');
      assert.match(
        r.headers.get('content-security-policy') ?? '',
        /script-src 'self';.*frame-ancestors 'none'/,
      );
    }
    const index = await (await fetch(server.url)).text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index)?.[1];
    assert.ok(asset, 'index.html references a built script');
    const js = await fetch(server.url + asset);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    // The favicon the page links to is served as an SVG image.
    assert.match(index, /<link rel="icon" href="\/favicon\.svg" type="image\/svg\+xml"/);
    const icon = await fetch(`${server.url}/favicon.svg`);
    assert.equal(icon.status, 200);
    assert.match(icon.headers.get('content-type') ?? '', /^image\/svg\+xml/);
    assert.match(await icon.text(), /^<svg /);
  });

  test('the API, /health and /openapi.json are never shadowed; unknown files are 404', async () => {
    const api = await fetch(`${server.url}/api/v1/nope`, { headers: html });
    assert.equal(api.status, 404);
    assert.equal(((await api.json()) as any).code, 'not_found');
    const unauth = await fetch(`${server.url}/api/v1/app`, { headers: html });
    assert.equal(unauth.status, 401);
    const health = await fetch(`${server.url}/health`, { headers: html });
    assert.equal(health.status, 200);
    assert.match(health.headers.get('content-type') ?? '', /json/);
    const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as any;
    assert.ok(
      spec.paths['/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats/series'],
      'series route documented',
    );
    assert.equal(spec.paths['/*'], undefined, 'the SPA route stays out of the API description');
    for (const path of ['/in/some-source', '/metrics/x', '/assets/missing-123.js', '/favicon.ico']) {
      const r = await fetch(server.url + path, { headers: html });
      assert.equal(r.status, 404, path);
      assert.equal(((await r.json()) as any).code, 'not_found', path);
    }
  });

  test('unknown paths under /api and /ingest answer a JSON 404, whatever the method or Accept', async () => {
    const paths = [
      '/api',
      '/api/',
      '/api/v2/app',
      '/api/v1/app/x/nothing/here?limit=1',
      '/ingest',
      '/ingest/api/v1/source',
      '/ingest/api/v1/source/src_1/endpoint?iterator=x',
    ];
    for (const path of paths) {
      for (const init of [
        { headers: html },
        { headers: { accept: '*/*' } },
        { method: 'POST', headers: { ...html, 'content-type': 'application/json' }, body: '{}' },
        { method: 'DELETE' },
      ] as RequestInit[]) {
        const r = await fetch(server.url + path, init);
        const what = `${init.method ?? 'GET'} ${path}`;
        // Routes under /api/v1 and /ingest/api/v1 (Svix Ingest's) meet authentication first;
        // never the dashboard's HTML.
        assert.ok(r.status === 404 || r.status === 401, `${what}: ${r.status}`);
        assert.match(r.headers.get('content-type') ?? '', /application\/json/, what);
        const body = (await r.json()) as { code: string; detail: string };
        assert.equal(typeof body.detail, 'string', what);
        if (!path.startsWith('/api/v1/') && !path.startsWith('/ingest/api/v1/'))
          assert.equal(body.code, 'not_found', what);
      }
    }
    // The SPA still answers its own client routes next to them.
    const spa = await fetch(`${server.url}/ingestion-help`, { headers: html });
    assert.equal(spa.status, 200);
    assert.match(await spa.text(), /<div id="app">/);
  });

  test('a server whose dashboard was never built says so with a coded error', async () => {
    const warnings: string[] = [];
    const app = Fastify();
    await registerDashboard(app, {
      dir: join(tempDir(), 'missing/'),
      log: { warn: (m) => warnings.push(m) },
    });
    app.setErrorHandler((err: any, _req, reply) => reply.code(err.status).send(err.toBody()));
    const r = await app.inject({ method: 'GET', url: '/apps' });
    assert.equal(r.statusCode, 503);
    assert.equal(r.json().code, 'dashboard_not_built');
    assert.match(r.json().detail, /npm install/);
    assert.match(warnings[0] ?? '', /not built/);
    await app.close();
  });
});

for (const kind of await testStores()) {
  describe(`endpoint stats series API (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    let receiver: TestReceiver;
    let epId: string;
    before(async () => {
      db = await kind.open('series');
      server = await startHookline({ env: db.env });
      receiver = await startReceiver();
      await server.call('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' });
      const ep = await server.call('POST', '/api/v1/app/acme/endpoint', { url: `${receiver.url}/hook` });
      epId = ep.body.id;
    });
    after(async () => {
      await server.close();
      await receiver.close();
      await db?.drop();
    });

    const series = (query: string) =>
      server.call('GET', `/api/v1/app/acme/endpoint/${epId}/stats/series${query}`);

    test('counts real attempts per bucket, with successes, latency and the endpoint state', async () => {
      receiver.queue({ status: 500 }, { status: 200 }, { status: 200 });
      for (let i = 0; i < 3; i++) {
        const r = await server.call('POST', '/api/v1/app/acme/msg', { eventType: 'x.y', payload: { i } });
        assert.equal(r.status, 202);
      }
      // 3 first attempts; the failed one is retried after 5 s, outside this test's wait.
      await receiver.waitFor(3);
      const since = new Date(Date.now() - 3_600_000).toISOString();
      let body: any;
      for (let i = 0; i < 50; i++) {
        body = (await series(`?since=${since}&bucket=60`)).body;
        if (body.data.reduce((n: number, b: any) => n + b.attempts, 0) === 3) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(body.bucketSeconds, 60);
      assert.equal(body.disabled, false);
      // An hour from `since` (aligned down to its minute) to the server's now, which the polls above
      // may have moved up to five seconds on: 60 buckets, 61 when `since` fell inside a minute, 62
      // when the polls also crossed the next minute.
      assert.ok(body.data.length >= 60 && body.data.length <= 62, `${body.data.length} buckets`);
      assert.equal(Date.parse(body.since) % 60_000, 0, 'buckets aligned to their width');
      const busy = body.data.filter((b: any) => b.attempts > 0);
      assert.equal(
        busy.reduce((n: number, b: any) => n + b.attempts, 0),
        3,
      );
      assert.equal(
        busy.reduce((n: number, b: any) => n + b.successes, 0),
        2,
      );
      for (const b of busy) assert.ok(b.p50Ms !== null && b.p95Ms >= b.p50Ms);
      const empty = body.data.find((b: any) => b.attempts === 0);
      assert.deepEqual([empty.successes, empty.p50Ms, empty.p95Ms], [0, null, null]);
    });

    test('a failing endpoint reports since when it has been failing', async () => {
      const failing = await startReceiver();
      failing.fallback = { status: 503, body: 'down' };
      try {
        const ep = await server.call('POST', '/api/v1/app/acme/endpoint', {
          url: `${failing.url}/hook`,
          filterTypes: null,
        });
        const before = Date.now();
        await server.call('POST', '/api/v1/app/acme/msg', { eventType: 'x.y', payload: {} });
        await failing.waitFor(1);
        let body: any;
        for (let i = 0; i < 50; i++) {
          body = (
            await server.call('GET', `/api/v1/app/acme/endpoint/${ep.body.id}/stats/series?bucket=1800`)
          ).body;
          if (body.failingSince !== null) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(Date.parse(body.failingSince) >= before - 1000, `failingSince ${body.failingSince}`);
        assert.equal(body.disabled, false);
        const last = body.data.filter((b: any) => b.attempts > 0);
        assert.deepEqual(
          last.map((b: any) => [b.attempts, b.successes]),
          [[1, 0]],
        );
      } finally {
        await failing.close();
      }
    });

    test('bounded: too many buckets, too long a window and an empty window are 422; unknown endpoint 404', async () => {
      const now = Date.now();
      const tooMany = await series(`?since=${new Date(now - 86_400_000).toISOString()}&bucket=60`);
      assert.equal(tooMany.status, 422);
      assert.deepEqual(tooMany.body.detail[0].loc, ['query', 'bucket']);
      const tooLong = await series(`?since=${new Date(now - 40 * 86_400_000).toISOString()}&bucket=86400`);
      assert.equal(tooLong.status, 422);
      assert.deepEqual(tooLong.body.detail[0].loc, ['query', 'since']);
      const backwards = await series(
        `?since=${new Date(now).toISOString()}&until=${new Date(now - 1000).toISOString()}`,
      );
      assert.equal(backwards.status, 422);
      const badBucket = await series('?bucket=0');
      assert.equal(badBucket.status, 422);
      const byDefault = await series('');
      assert.equal(byDefault.status, 200);
      assert.ok(byDefault.body.data.length <= 49);
      const missing = await server.call('GET', '/api/v1/app/acme/endpoint/ep_nope/stats/series');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 'not_found');
    });
  });
}
