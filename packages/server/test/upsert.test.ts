/**
 * Create-or-get and upsert on every store: a PUT that leaves out the uid keeps it (so the same PUT
 * again updates instead of creating a second object), and identical creates sent at once make one
 * object that every request gets back: the unique key decides, never a 409 for the loser.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHookline, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const AT_ONCE = 12;

for (const kind of await testStores()) {
  describe(`create-or-get and upserts (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    before(async () => {
      db = await kind.open('upsert');
      server = await startHookline({ env: db.env });
    });
    after(async () => {
      await server?.close();
      await db?.drop();
    });

    /** The same request AT_ONCE times concurrently. */
    const atOnce = (method: string, path: string, body: unknown) =>
      Promise.all(Array.from({ length: AT_ONCE }, () => server.call(method, path, body)));

    /** One 201, the rest 200, all with the same object. */
    function oneWinner(results: { status: number; body: any }[]): string {
      for (const r of results)
        assert.ok([200, 201].includes(r.status), `${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(results.filter((r) => r.status === 201).length, 1, 'exactly one request created it');
      const ids = new Set(results.map((r) => r.body.id ?? r.body.name));
      assert.equal(ids.size, 1, `one object, got ${[...ids]}`);
      return [...ids][0];
    }

    test('PUT /app/{uid} without uid in the body keeps the uid: the same PUT again updates', async () => {
      const first = await server.call('PUT', '/api/v1/app/put-app', { name: 'First' });
      assert.equal(first.status, 201);
      assert.equal(first.body.uid, 'put-app');
      const second = await server.call('PUT', '/api/v1/app/put-app', { name: 'Second' });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.equal(second.body.id, first.body.id);
      assert.equal(second.body.uid, 'put-app', 'the uid is kept');
      const third = await server.call('PUT', '/api/v1/app/put-app', { name: 'Third' });
      assert.equal(third.status, 200, 'no second application');
      assert.equal(third.body.id, first.body.id);
      // By id, too; PATCH with null removes the uid.
      const byId = await server.call('PUT', `/api/v1/app/${first.body.id}`, { name: 'By id' });
      assert.equal(byId.body.uid, 'put-app');
      const cleared = await server.call('PATCH', `/api/v1/app/${first.body.id}`, { uid: null });
      assert.equal(cleared.body.uid, null);
    });

    test('PUT /app/{app}/endpoint/{uid} without uid in the body keeps the uid', async () => {
      await server.call('POST', '/api/v1/app', { name: 'Endpoints', uid: 'ep-app' });
      const path = '/api/v1/app/ep-app/endpoint/put-ep';
      const first = await server.call('PUT', path, { url: 'https://example.com/a' });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(first.body.uid, 'put-ep');
      const second = await server.call('PUT', path, { url: 'https://example.com/b' });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.equal(second.body.id, first.body.id);
      assert.equal(second.body.uid, 'put-ep');
      assert.equal(second.body.url, 'https://example.com/b');
      assert.equal((await server.call('PUT', path, { url: 'https://example.com/c' })).status, 200);
      const list = await server.call('GET', '/api/v1/app/ep-app/endpoint');
      assert.equal(list.body.data.length, 1, 'no second endpoint');
    });

    test('identical getOrCreate calls at once: one application, every caller gets it', async () => {
      const results = await atOnce('POST', '/api/v1/app?get_if_exists=true', { name: 'Raced', uid: 'raced' });
      oneWinner(results);
      // Without get_if_exists the losers are told it exists, with a 409 (never a 500).
      const plain = await atOnce('POST', '/api/v1/app', { name: 'Plain', uid: 'raced-plain' });
      assert.equal(plain.filter((r) => r.status === 201).length, 1);
      for (const r of plain.filter((r) => r.status !== 201)) {
        assert.equal(r.status, 409, JSON.stringify(r.body));
        assert.equal(r.body.code, 'conflict');
      }
    });

    test('identical upserts at once: one object, updated by the others', async () => {
      oneWinner(await atOnce('PUT', '/api/v1/app/raced-put', { name: 'Raced put' }));
      await server.call('POST', '/api/v1/app', { name: 'Raced endpoints', uid: 'raced-eps' });
      oneWinner(
        await atOnce('PUT', '/api/v1/app/raced-eps/endpoint/raced-ep', { url: 'https://example.com/hook' }),
      );
      assert.equal((await server.call('GET', '/api/v1/app/raced-eps/endpoint')).body.data.length, 1);
      oneWinner(await atOnce('PUT', '/api/v1/event-type/raced.type', { description: 'Raced' }));
    });

    test('messages that create their application inline, at once: one application', async () => {
      const results = await atOnce('POST', '/api/v1/app/inline-app/msg', {
        eventType: 'x.y',
        payload: { n: 1 },
        application: { name: 'Inline' },
      });
      for (const r of results) assert.equal(r.status, 202, JSON.stringify(r.body));
      const apps = await server.call('GET', '/api/v1/app?limit=250');
      assert.equal(apps.body.data.filter((a: any) => a.uid === 'inline-app').length, 1);
      const msgs = await server.call('GET', '/api/v1/app/inline-app/msg');
      assert.equal(msgs.body.data.length, AT_ONCE, 'every message is kept');
    });
  });
}
