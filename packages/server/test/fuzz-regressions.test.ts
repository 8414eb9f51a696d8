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

    test('a supplied signing secret that is not base64 (whsec_====…, 4n+1 characters): 422, never stored', async () => {
      await server.call('POST', '/api/v1/app', { name: 'sec', uid: 'sec' });
      const bad = [`whsec_${'='.repeat(32)}`, 'A'.repeat(33), `whsec_${'A'.repeat(40)}=A`];
      for (const secret of bad) {
        const r = await server.call('POST', '/api/v1/app/sec/endpoint', {
          url: 'https://example.com/h',
          secret,
        });
        assert.equal(r.status, 422, `${secret}: ${JSON.stringify(r.body)}`);
        assert.deepEqual(r.body.detail[0].loc, ['body', 'secret']);
      }
      const ep = (await server.call('POST', '/api/v1/app/sec/endpoint', { url: 'https://example.com/h' }))
        .body;
      const put = await server.call('PATCH', `/api/v1/app/sec/endpoint/${ep.id}`, { secret: bad[0] });
      assert.equal(put.status, 422, JSON.stringify(put.body));
      const rotate = await server.call('POST', `/api/v1/app/sec/endpoint/${ep.id}/secret/rotate`, {
        key: bad[1],
      });
      assert.equal(rotate.status, 422, JSON.stringify(rotate.body));
      assert.deepEqual(rotate.body.detail[0].loc, ['body', 'key']);
      const source = await server.call('POST', '/api/v1/source', {
        name: 'sec-src',
        verification: { scheme: 'none' },
        destinations: [{ url: 'https://example.com/h' }],
        forwardSecret: bad[0],
      });
      assert.equal(source.status, 422, JSON.stringify(source.body));
      assert.deepEqual(source.body.detail[0].loc, ['body', 'forwardSecret']);
      // A good secret of the same shape is still taken.
      const good = await server.call('POST', '/api/v1/app/sec/endpoint', {
        url: 'https://example.com/h',
        secret: `whsec_${Buffer.alloc(24, 7).toString('base64')}`,
      });
      assert.equal(good.status, 201, JSON.stringify(good.body));
    });

    test('a stored secret that cannot sign fails its attempt with the reason; nothing is left unhandled', async () => {
      const rejections: unknown[] = [];
      const onRejection = (err: unknown) => rejections.push(err);
      process.on('unhandledRejection', onRejection);
      try {
        await server.call('POST', '/api/v1/app', { name: 'unsignable', uid: 'unsignable' });
        await server.call('POST', '/api/v1/event-type', { name: 'sec.test', description: 'x' });
        const created = (
          await server.call('POST', '/api/v1/app/unsignable/endpoint', { url: 'http://127.0.0.1:9/h' })
        ).body;
        // As an older version (or a hand-edited row) could have stored it: the API no longer takes it.
        const store = server.hookline.store;
        const app = (await store.getApp('unsignable'))!;
        const ep = (await store.getEndpoint(app.id, created.id))!;
        await store.updateEndpoint({ ...ep, secrets: [{ key: `whsec_${'='.repeat(32)}`, expiresAt: null }] });
        const msg = (
          await server.call('POST', '/api/v1/app/unsignable/msg', { eventType: 'sec.test', payload: {} })
        ).body;
        let attempts: any[] = [];
        for (let i = 0; i < 100 && attempts.length === 0; i++) {
          await new Promise((r) => setTimeout(r, 50));
          attempts = (await server.call('GET', `/api/v1/app/unsignable/attempt/msg/${msg.id}`)).body.data;
        }
        assert.equal(attempts.length >= 1, true, 'the attempt is recorded');
        assert.match(JSON.stringify(attempts[0]), /could not be prepared/);
        assert.deepEqual(rejections, []);
      } finally {
        process.off('unhandledRejection', onRejection);
      }
    });
  });
}
