/**
 * Bugs the fuzz tests (fuzz-api, fuzz-inbound) found, each pinned by the request that showed it,
 * on both stores.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertCodedError, documentedCodes } from './fuzz-kit.ts';
import { startHookline, type TestServer } from './helpers.ts';
import { testStores } from './pg.ts';

const codes = documentedCodes();

for (const store of await testStores()) {
  describe(`fuzz findings on ${store.name}`, store.options, () => {
    let server: TestServer;
    let drop: () => Promise<void> = async () => {};
    before(async () => {
      const db = await store.open('fuzzreg');
      drop = db.drop;
      server = await startHookline({ env: db.env });
      await server.call('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' });
    });
    after(async () => {
      await server?.close();
      await drop();
    });

    const raw = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
      const res = await fetch(server.url + path, {
        method,
        headers: {
          authorization: `Bearer ${server.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body } : {}),
      });
      return { status: res.status, text: await res.text() };
    };

    test("a path that cannot be percent-decoded: 400 generic_error, not Fastify's own body", async () => {
      for (const path of ['/api/v1/app/%', '/api/v1/app/%zz/endpoint', '/in/%']) {
        const r = await raw('GET', path);
        assert.equal(r.status, 400, r.text);
        assertCodedError(r.status, r.text, codes, path);
        assert.equal(JSON.parse(r.text).code, 'generic_error');
      }
    });

    test('NUL (U+0000) in a path, query or body field: 422 naming the field, on both stores alike', async () => {
      const app = (await server.call('POST', '/api/v1/app', { name: 'nul', uid: 'nul' })).body;
      const token = (await server.call('POST', `/api/v1/auth/app-portal-access/${app.id}`, {})).body.token;
      const cases: [string, string, unknown, (string | number)[]][] = [
        ['GET', '/api/v1/app/a%00b', undefined, ['path', 'app_id']],
        ['GET', '/api/v1/event-type/a%00b', undefined, ['path', 'event_type_name']],
        ['GET', '/api/v1/app/nul/msg?channel=a%00b', undefined, ['query', 'channel']],
        ['GET', '/api/v1/app/nul/msg?iterator=a%00b', undefined, ['query', 'iterator']],
        ['POST', '/api/v1/app', { name: 'a\u0000b' }, ['body', 'name']],
        [
          'POST',
          '/api/v1/app/nul/endpoint',
          { url: 'https://example.com/', description: 'a\u0000b' },
          ['body', 'description'],
        ],
        ['POST', '/api/v1/event-type', { name: 'c.d', description: 'a\u0000b' }, ['body', 'description']],
      ];
      for (const [method, path, body, loc] of cases) {
        const r = await server.call(method, path, body);
        assert.equal(r.status, 422, `${method} ${path}: ${JSON.stringify(r.body)}`);
        assert.deepEqual(r.body.detail[0].loc, loc);
      }
      // An application token asking for another application by a NUL id is refused the same way.
      const scoped = await server.call('GET', '/api/v1/app/a%00b/endpoint', undefined, {
        authorization: `Bearer ${token}`,
      });
      assert.equal(scoped.status, 422, JSON.stringify(scoped.body));
      // A message payload is the sender's JSON, stored as text: NUL in it is kept.
      await server.call('POST', '/api/v1/event-type', { name: 'nul.test', description: 'x' });
      const msg = await server.call('POST', '/api/v1/app/nul/msg', {
        eventType: 'nul.test',
        payload: { k: 'a\u0000b' },
      });
      assert.equal(msg.status, 202, JSON.stringify(msg.body));
      const back = await server.call('GET', `/api/v1/app/nul/msg/${msg.body.id}`);
      assert.equal(back.body.payload.k, 'a\u0000b');
    });
  });
}
