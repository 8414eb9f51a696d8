/**
 * Publishing reads the application as this process read it lately (api/app-lookup.ts), never to
 * the wrong application and never lost:
 * - once read, publishing to it again does not read it again (within the few seconds it is kept);
 * - a change through this process (a uid moved to another application) is seen by the next publish;
 * - on PostgreSQL, with the change made through another process: an application deleted there is
 *   refused with 404, a uid another application took there gets the message, not an error, and
 *   an application token never publishes to another application remembered under its uid.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startHookline, type TestServer } from './helpers.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions, type TestDatabase } from './pg.ts';

const publish = (s: TestServer, app: string, i: number) =>
  s.call('POST', `/api/v1/app/${app}/msg`, { eventType: 'order.paid', payload: { i } });

/** Counts the application reads of this server's store. */
function countAppReads(s: TestServer): { n: number } {
  const counter = { n: 0 };
  const store = s.hookline.store;
  const getApp = store.getApp.bind(store);
  store.getApp = (idOrUid) => {
    counter.n++;
    return getApp(idOrUid);
  };
  return counter;
}

describe('the application a publish names (SQLite)', () => {
  let s: TestServer;
  after(() => s?.close());

  test('read once for many messages; a uid moved through this process is seen at once', async () => {
    s = await startHookline({ env: { HOOKLINE_ROLE: 'api' } });
    const first = await s.call('POST', '/api/v1/app', { name: 'Shop', uid: 'shop' });
    assert.equal(first.status, 201);
    const reads = countAppReads(s);
    for (let i = 0; i < 5; i++) assert.equal((await publish(s, 'shop', i)).status, 202);
    assert.equal(reads.n, 1, 'five messages to one application read it once');

    // The uid moves to another application, through this process: the next message goes there.
    const moved = await s.call('PUT', `/api/v1/app/${first.body.id}`, { name: 'Shop', uid: 'old-shop' });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    const second = await s.call('POST', '/api/v1/app', { name: 'Shop 2', uid: 'shop' });
    assert.equal(second.status, 201);
    const sent = await publish(s, 'shop', 5);
    assert.equal(sent.status, 202);
    const inSecond = await s.call('GET', `/api/v1/app/${second.body.id}/msg`);
    assert.deepEqual(
      inSecond.body.data.map((m: { id: string }) => m.id),
      [sent.body.id],
    );
    const inFirst = await s.call('GET', `/api/v1/app/${first.body.id}/msg`);
    assert.equal(inFirst.body.data.length, 5);

    // Deleted through this process: refused at once.
    assert.equal((await s.call('DELETE', `/api/v1/app/${second.body.id}`)).status, 204);
    const refused = await publish(s, 'shop', 6);
    assert.equal(refused.status, 404);
    assert.equal(refused.body.code, 'not_found');
  });
});

describe(
  'the application a publish names, changed by another process (PostgreSQL)',
  await pgTestOptions(),
  () => {
    let db: TestDatabase;
    const servers: TestServer[] = [];
    after(async () => {
      for (const s of servers) await s.close();
      await db?.drop();
    });

    test('deleted there: 404; its uid taken there by another application: the message goes to that one, and a token’s to its own', async () => {
      db = await createTestDatabase('app-lookup');
      const env = { HOOKLINE_DATABASE_URL: db.url, HOOKLINE_SECRET_KEY: PG_SECRET_KEY, HOOKLINE_ROLE: 'api' };
      const a = await startHookline({ env });
      servers.push(a);
      const b = await startHookline({ env });
      servers.push(b);

      const first = await a.call('POST', '/api/v1/app', { name: 'Shop', uid: 'shop' });
      assert.equal(first.status, 201);
      assert.equal((await publish(a, 'shop', 0)).status, 202);
      const reads = countAppReads(a);

      // Through b: the application goes, another takes its uid. a still holds the first one.
      assert.equal((await b.call('DELETE', `/api/v1/app/${first.body.id}`)).status, 204);
      const second = await b.call('POST', '/api/v1/app', { name: 'Shop 2', uid: 'shop' });
      assert.equal(second.status, 201);
      const sent = await publish(a, 'shop', 1);
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      assert.equal(reads.n, 1, 'the ingest found the remembered application gone, and it was read again');
      const listed = await b.call('GET', `/api/v1/app/${second.body.id}/msg`);
      assert.deepEqual(
        listed.body.data.map((m: { id: string }) => m.id),
        [sent.body.id],
      );

      // Through b: the uid moves from the live second application to a third, whose token then
      // publishes through a. a remembers the second under it; the message goes to the third.
      assert.equal((await publish(a, 'shop', 2)).status, 202);
      const renamed = await b.call('PUT', `/api/v1/app/${second.body.id}`, {
        name: 'Shop 2',
        uid: 'old-shop',
      });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      const third = await b.call('POST', '/api/v1/app', { name: 'Shop 3', uid: 'shop' });
      assert.equal(third.status, 201);
      const access = await b.call('POST', '/api/v1/auth/app/shop/create-message-token', { name: 'shop 3' });
      assert.equal(access.status, 201, JSON.stringify(access.body));
      const byToken = await a.call(
        'POST',
        '/api/v1/app/shop/msg',
        { eventType: 'order.paid', payload: { i: 3 } },
        { authorization: `Bearer ${access.body.token}` },
      );
      assert.equal(byToken.status, 202, JSON.stringify(byToken.body));
      const inThird = await b.call('GET', `/api/v1/app/${third.body.id}/msg`);
      assert.deepEqual(
        inThird.body.data.map((m: { id: string }) => m.id),
        [byToken.body.id],
      );

      // Through b again: deleted. a refuses the next message to it.
      assert.equal((await b.call('DELETE', `/api/v1/app/${third.body.id}`)).status, 204);
      const refused = await publish(a, 'shop', 4);
      assert.equal(refused.status, 404, JSON.stringify(refused.body));
      assert.equal(refused.body.code, 'not_found');
    });
  },
);
