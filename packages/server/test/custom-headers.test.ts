/**
 * Endpoint custom headers, on every store: values no HTTP request can carry are refused when
 * saved; values are encrypted at rest (rows written in the clear before still read); application
 * tokens and the attempt log see their names, never their values. And SQLite's files are the
 * owner's only.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openSqlite, WAL_CHECKPOINT_PAGES } from '../src/store/sqlite/connection.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const CREDENTIAL = 'Bearer header-credential-6f1d2c';

for (const kind of await testStores()) {
  describe(`endpoint custom headers (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    let receiver: TestReceiver;
    let epId: string;

    /** Runs SQL on the server's database directly, as another program (or an older version) would. */
    async function rawSql(text: string): Promise<Record<string, unknown>[]> {
      if (kind.name === 'sqlite') {
        const raw = new DatabaseSync(join(server.dataDir, 'hookline.db'));
        try {
          return raw.prepare(text).all() as Record<string, unknown>[];
        } finally {
          raw.close();
        }
      }
      const c = new pg.Client({ connectionString: db!.env.HOOKLINE_DATABASE_URL });
      await c.connect();
      try {
        return (await c.query(text)).rows;
      } finally {
        await c.end();
      }
    }

    before(async () => {
      db = await kind.open('headers');
      receiver = await startReceiver();
      server = await startHookline({ env: db.env });
      await server.call('POST', '/api/v1/app', { name: 'Shop', uid: 'shop' });
      const ep = await server.call('POST', '/api/v1/app/shop/endpoint', {
        url: receiver.url,
        headers: { Authorization: CREDENTIAL, 'X-Plain': 'visible-to-admin' },
      });
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
      epId = ep.body.id;
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
      await db?.drop();
    });

    test('values with line breaks, control characters or beyond U+00FF are refused when saved', async () => {
      const bad = ['v\r\nx-injected: 1', 'line\nbreak', 'nul\u0000', 'del\u007f', 'euro €'];
      for (const value of bad) {
        const created = await server.call('POST', '/api/v1/app/shop/endpoint', {
          url: receiver.url,
          headers: { 'x-token': value },
        });
        assert.equal(created.status, 422, JSON.stringify(value));
        assert.deepEqual(created.body.detail[0].loc, ['body', 'headers', 'x-token']);
        const put = await server.call('PUT', `/api/v1/app/shop/endpoint/${epId}/headers`, {
          headers: { 'x-token': value },
        });
        assert.equal(put.status, 422, JSON.stringify(value));
        const patch = await server.call('PATCH', `/api/v1/app/shop/endpoint/${epId}/headers`, {
          headers: { 'x-token': value },
        });
        assert.equal(patch.status, 422, JSON.stringify(value));
        const source = await server.call('POST', '/api/v1/source', {
          name: 'bad-headers',
          verification: { scheme: 'github', secrets: ['s'] },
          destinations: [{ url: receiver.url, headers: { 'x-token': value } }],
        });
        assert.equal(source.status, 422, JSON.stringify(value));
        assert.deepEqual(source.body.detail[0].loc, ['body', 'destinations', 0, 'headers', 'x-token']);
      }
      // PATCH names are free-form in the schema: a name HTTP does not allow is refused too.
      const badName = await server.call('PATCH', `/api/v1/app/shop/endpoint/${epId}/headers`, {
        headers: { 'bad name': 'v' },
      });
      assert.equal(badName.status, 422);
      // Tabs and Latin-1 are fine.
      const fine = await server.call('PATCH', `/api/v1/app/shop/endpoint/${epId}/headers`, {
        headers: { 'x-fine': 'tab\there é' },
      });
      assert.equal(fine.status, 204, JSON.stringify(fine.body));
      const headers = (await server.call('GET', `/api/v1/app/shop/endpoint/${epId}/headers`)).body.headers;
      assert.deepEqual(headers, {
        authorization: CREDENTIAL,
        'x-plain': 'visible-to-admin',
        'x-fine': 'tab\there é',
      });
    });

    test('values are encrypted at rest; rows stored in the clear by earlier versions still read', async () => {
      const rows = await rawSql(`SELECT headers FROM endpoint WHERE id = '${epId}'`);
      assert.equal(rows.length, 1);
      assert.equal(String(rows[0]!.headers).includes('header-credential'), false, String(rows[0]!.headers));
      assert.match(String(rows[0]!.headers), /^v1:/);

      // An endpoint as an earlier version stored it: plain JSON.
      const legacy = await server.call('POST', '/api/v1/app/shop/endpoint', {
        url: `${receiver.url}/legacy`,
      });
      await rawSql(
        `UPDATE endpoint SET headers = '{"x-legacy":"plain-value"}' WHERE id = '${legacy.body.id}'`,
      );
      const read = await server.call('GET', `/api/v1/app/shop/endpoint/${legacy.body.id}/headers`);
      assert.deepEqual(read.body.headers, { 'x-legacy': 'plain-value' });
      const msg = await server.call('POST', '/api/v1/app/shop/msg', { eventType: 'x.y', payload: { n: 1 } });
      assert.equal(msg.status, 202);
      await server.hookline.dispatcher!.drain();
      const got = receiver.requests.find((r) => r.url === '/legacy');
      assert.equal(got?.headers['x-legacy'], 'plain-value', 'the legacy row is sent as before');
      // Written again, it is sealed.
      await server.call('PATCH', `/api/v1/app/shop/endpoint/${legacy.body.id}/headers`, {
        headers: { 'x-more': '1' },
      });
      const resealed = await rawSql(`SELECT headers FROM endpoint WHERE id = '${legacy.body.id}'`);
      assert.match(String(resealed[0]!.headers), /^v1:/);
      assert.deepEqual(
        (await server.call('GET', `/api/v1/app/shop/endpoint/${legacy.body.id}/headers`)).body.headers,
        { 'x-legacy': 'plain-value', 'x-more': '1' },
      );
    });

    test('the receiver gets the values; the attempt log keeps only the names', async () => {
      const before = receiver.requests.length;
      const msg = await server.call('POST', '/api/v1/app/shop/msg', { eventType: 'x.y', payload: { n: 2 } });
      await server.hookline.dispatcher!.drain();
      const sent = receiver.requests.slice(before).find((r) => r.url === '/');
      assert.equal(sent?.headers.authorization, CREDENTIAL);
      assert.equal(sent?.headers['x-plain'], 'visible-to-admin');
      const attempts = await server.call(
        'GET',
        `/api/v1/app/shop/attempt/msg/${msg.body.id}?endpoint_id=${epId}`,
      );
      const detail = await server.call(
        'GET',
        `/api/v1/app/shop/msg/${msg.body.id}/attempt/${attempts.body.data[0].id}`,
      );
      assert.equal(detail.status, 200);
      assert.equal(detail.body.requestHeaders.authorization, '********');
      assert.equal(detail.body.requestHeaders['x-plain'], '********');
      assert.equal(detail.body.requestHeaders['webhook-id'], msg.body.id, "Hookline's own headers stay");
      assert.equal(JSON.stringify(detail.body).includes('header-credential'), false);
    });

    test('an application token sees the names in `sensitive`, never the values', async () => {
      const access = await server.call('POST', '/api/v1/auth/app-portal-access/shop', {});
      const token = { authorization: `Bearer ${access.body.token}` };
      const path = `/api/v1/app/shop/endpoint/${epId}/headers`;
      const seen = await server.call('GET', path, undefined, token);
      assert.equal(seen.status, 200);
      assert.deepEqual(seen.body, { headers: {}, sensitive: ['authorization', 'x-fine', 'x-plain'] });
      // It can still replace them (write-only).
      assert.equal((await server.call('PATCH', path, { headers: { 'x-plain': null } }, token)).status, 204);
      const admin = await server.call('GET', path);
      assert.deepEqual(admin.body.sensitive, []);
      assert.equal(admin.body.headers.authorization, CREDENTIAL);
      assert.equal('x-plain' in admin.body.headers, false);
    });
  });
}

describe('SQLite database files', () => {
  let server: TestServer;
  before(async () => {
    // The most permissive umask: without an explicit mode the files would be world-writable.
    const umask = process.umask(0);
    try {
      server = await startHookline();
    } finally {
      process.umask(umask);
    }
  });
  after(() => server?.close());

  test('are readable and writable by their owner only (0600), whatever the umask', async () => {
    await server.call('POST', '/api/v1/app', { name: 'Write something' });
    const base = join(server.dataDir, 'hookline.db');
    for (const f of [base, `${base}-wal`, `${base}-shm`]) {
      assert.equal((statSync(f).mode & 0o777).toString(8), '600', f);
    }
  });

  test("checkpoint their WAL every WAL_CHECKPOINT_PAGES pages, not at SQLite's 1,000", () => {
    const conn = openSqlite({ path: join(server.dataDir, 'pragmas.db') });
    try {
      assert.equal(WAL_CHECKPOINT_PAGES, 4000);
      assert.equal(Number(conn.get('PRAGMA wal_autocheckpoint')?.wal_autocheckpoint), WAL_CHECKPOINT_PAGES);
      assert.equal(String(conn.get('PRAGMA journal_mode')?.journal_mode), 'wal');
    } finally {
      conn.close();
    }
  });
});
