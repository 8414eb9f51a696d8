/** `/api/v1/source`: definitions, their validation errors, paging, updates and deletion. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHookline, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

for (const kind of await testStores()) {
  describe(`sources API (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    before(async () => {
      db = await kind.open('sources');
      server = await startHookline({ env: db.env });
    });
    after(async () => {
      await server?.close();
      await db?.drop();
    });

    const valid = (name: string, extra: Record<string, unknown> = {}) => ({
      name,
      verification: { scheme: 'github', secrets: ['gh-secret'] },
      destinations: [{ url: 'http://127.0.0.1:9/hook' }],
      ...extra,
    });

    /** Asserts a 422 whose first issue is at `loc`. */
    async function rejects422(body: unknown, loc: (string | number)[], msg?: RegExp) {
      const res = await server.call('POST', '/api/v1/source', body);
      assert.equal(res.status, 422, JSON.stringify(res.body));
      const locs = (res.body.detail as { loc: unknown[]; msg: string }[]).map((d) => JSON.stringify(d.loc));
      assert.ok(
        locs.includes(JSON.stringify(loc)),
        `expected an issue at ${JSON.stringify(loc)}, got ${locs}`,
      );
      if (msg) assert.match(JSON.stringify(res.body.detail), msg);
    }

    test('bad definitions are refused with 422 and say where', async () => {
      await rejects422({ ...valid('x'), name: 'has/slash' }, ['body', 'name']);
      await rejects422({ ...valid('x'), name: '' }, ['body', 'name']);
      await rejects422(
        { ...valid('x'), name: 'src_2abcdefghijklmnopqrstuvwxyz' },
        ['body', 'name'],
        /source id/,
      );
      await rejects422({ name: 'x', verification: { scheme: 'github', secrets: ['s'] } }, [
        'body',
        'destinations',
      ]);
      await rejects422(valid('x', { destinations: [] }), ['body', 'destinations']);
      await rejects422(valid('x', { verification: { scheme: 'carrier-pigeon', secrets: ['s'] } }), [
        'body',
        'verification',
        'scheme',
      ]);
      await rejects422(valid('x', { verification: { scheme: 'github' } }), [
        'body',
        'verification',
        'secrets',
      ]);
      await rejects422(
        valid('x', { verification: { scheme: 'standard-webhooks', secrets: ['whsec_not base64!'] } }),
        ['body', 'verification', 'secrets', 0],
        /base64/,
      );
      await rejects422(valid('x', { verification: { scheme: 'twilio', secrets: ['tok'] } }), [
        'body',
        'verification',
        'url',
      ]);
      await rejects422(valid('x', { verification: { scheme: 'hmac', secrets: ['s'] } }), [
        'body',
        'verification',
        'hmac',
      ]);
      await rejects422(valid('x', { dedupe: { header: 'X-Id', jsonPath: 'id' } }), ['body', 'dedupe']);
      await rejects422(valid('x', { dedupe: { windowSeconds: 0 } }), ['body', 'dedupe', 'windowSeconds']);
      await rejects422(valid('x', { destinations: [{ url: 'ftp://example.com/x' }] }), [
        'body',
        'destinations',
        0,
        'url',
      ]);
      await rejects422(
        valid('x', { destinations: [{ url: 'http://127.0.0.1:9', headers: { Host: 'evil' } }] }),
        ['body', 'destinations', 0, 'headers', 'Host'],
      );
      await rejects422(valid('x', { destinations: [{ id: 'ep_unknown', url: 'http://127.0.0.1:9' }] }), [
        'body',
        'destinations',
        0,
        'id',
      ]);
      await rejects422(valid('x', { maxBodyBytes: 0 }), ['body', 'maxBodyBytes']);
      await rejects422(valid('x', { forwardSecret: 'short' }), ['body', 'forwardSecret']);
      const notJson = await server.call('POST', '/api/v1/source', '{"name":');
      assert.equal(notJson.status, 400);
      assert.equal(notJson.body.code, 'generic_error');
      const list = await server.call('GET', '/api/v1/source');
      assert.equal(list.body.data.length, 0, 'nothing was created by the refused requests');
    });

    test('names are unique (409), ids and names both find a source, lists page', async () => {
      const a = await server.call('POST', '/api/v1/source', valid('alpha'));
      assert.equal(a.status, 201);
      assert.match(a.body.id, /^src_[0-9A-Za-z]{27}$/);
      assert.match(a.body.destinations[0].id, /^ep_/);
      assert.deepEqual(
        a.body.dedupe,
        { header: null, jsonPath: null, windowSeconds: 86400 },
        'dedupe on by default',
      );
      assert.equal(a.body.forwardSecretType, 'hmac-sha256');
      const again = await server.call('POST', '/api/v1/source', valid('alpha'));
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 'conflict');
      for (const n of ['beta', 'gamma'])
        assert.equal((await server.call('POST', '/api/v1/source', valid(n))).status, 201);
      assert.equal((await server.call('GET', `/api/v1/source/${a.body.id}`)).body.name, 'alpha');
      assert.equal((await server.call('GET', '/api/v1/source/alpha')).body.id, a.body.id);
      const missing = await server.call('GET', '/api/v1/source/nope');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 'not_found');
      const page1 = await server.call('GET', '/api/v1/source?limit=2');
      assert.deepEqual(
        page1.body.data.map((s: any) => s.name),
        ['alpha', 'beta'],
      );
      assert.equal(page1.body.done, false);
      const page2 = await server.call('GET', `/api/v1/source?limit=2&iterator=${page1.body.iterator}`);
      assert.deepEqual(
        page2.body.data.map((s: any) => s.name),
        ['gamma'],
      );
      assert.equal(page2.body.done, true);
      const badLimit = await server.call('GET', '/api/v1/source?limit=0');
      assert.equal(badLimit.status, 422);
    });

    test('PUT keeps destinations given by id, PATCH merges, DELETE removes the source and its /in route', async () => {
      const created = await server.call(
        'POST',
        '/api/v1/source',
        valid('delta', {
          destinations: [{ url: 'http://127.0.0.1:9/a' }, { url: 'http://127.0.0.1:9/b' }],
        }),
      );
      const [d1] = created.body.destinations;
      const put = await server.call('PUT', `/api/v1/source/${created.body.id}`, {
        ...valid('delta'),
        destinations: [
          { id: d1.id, url: 'http://127.0.0.1:9/a2', eventTypes: ['push'] },
          { url: 'http://127.0.0.1:9/c' },
        ],
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(put.body.destinations.length, 2);
      const kept = put.body.destinations.find((d: any) => d.id === d1.id);
      assert.equal(kept.url, 'http://127.0.0.1:9/a2');
      assert.deepEqual(kept.eventTypes, ['push']);
      // The destinations are the endpoints of the source's application.
      const eps = await server.call('GET', `/api/v1/app/${created.body.appId}/endpoint`);
      assert.equal(eps.body.data.length, 2);

      const patched = await server.call('PATCH', '/api/v1/source/delta', {
        name: 'delta2',
        maxBodyBytes: 2048,
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.name, 'delta2');
      assert.equal(patched.body.maxBodyBytes, 2048);
      assert.equal(patched.body.verification.secretCount, 1, 'secrets kept when not given');
      assert.equal(patched.body.destinations.length, 2);
      const clash = await server.call('PATCH', '/api/v1/source/delta2', { name: 'alpha' });
      assert.equal(clash.status, 409);
      const badPatch = await server.call('PATCH', '/api/v1/source/delta2', {
        verification: { scheme: 'nope' },
      });
      assert.equal(badPatch.status, 422);

      const gone = await server.call('DELETE', '/api/v1/source/delta2');
      assert.equal(gone.status, 204);
      assert.equal((await server.call('GET', '/api/v1/source/delta2')).status, 404);
      assert.equal((await server.call('GET', `/api/v1/app/${created.body.appId}`)).status, 404);
      const posted = await fetch(`${server.url}/in/delta2`, { method: 'POST', body: '{}' });
      assert.equal(posted.status, 404);
    });

    test("a source's application and destinations change only through the source (409 managed_by_source)", async () => {
      const created = await server.call('POST', '/api/v1/source', valid('omega'));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const appPath = `/api/v1/app/${created.body.appId}`;
      const epPath = `${appPath}/endpoint/${created.body.destinations[0].id}`;
      const attempts: [string, string, unknown?][] = [
        ['PATCH', epPath, { url: 'http://127.0.0.1:9/elsewhere' }],
        ['PUT', epPath, { url: 'http://127.0.0.1:9/elsewhere' }],
        ['DELETE', epPath],
        ['POST', `${epPath}/secret/rotate`, {}],
        ['PATCH', `${epPath}/headers`, { headers: { 'x-a': 'b' } }],
        ['POST', `${appPath}/endpoint`, { url: 'http://127.0.0.1:9/extra' }],
        ['PATCH', appPath, { name: 'renamed' }],
        ['PUT', appPath, { name: 'renamed' }],
        ['DELETE', appPath],
      ];
      for (const [method, path, body] of attempts) {
        const res = await server.call(method, path, body);
        assert.equal(res.status, 409, `${method} ${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'managed_by_source');
        assert.match(res.body.detail, new RegExp(created.body.id));
      }
      // Reading still works, and the source is untouched.
      assert.equal((await server.call('GET', epPath)).status, 200);
      const source = await server.call('GET', `/api/v1/source/${created.body.id}`);
      assert.equal(source.body.destinations[0].url, 'http://127.0.0.1:9/hook');
      // Nobody can mark their own application as a source's.
      const spoof = await server.call('POST', '/api/v1/app', {
        name: 'mine',
        metadata: { 'hookline.source': created.body.id },
      });
      assert.equal(spoof.status, 422, JSON.stringify(spoof.body));
    });

    test('the OpenAPI document describes the sources API', async () => {
      const doc = await server.call('GET', '/openapi.json');
      for (const path of [
        '/api/v1/source',
        '/api/v1/source/{source_id}',
        '/api/v1/source/{source_id}/event',
        '/api/v1/source/{source_id}/event/{event_id}/replay',
        '/in/{source}',
      ]) {
        assert.ok(doc.body.paths[path], `${path} is documented`);
      }
    });

    test('the sources API needs the token', async () => {
      const res = await fetch(`${server.url}/api/v1/source`);
      assert.equal(res.status, 401);
    });
  });
}
