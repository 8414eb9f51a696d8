/**
 * `Idempotency-Key` under concurrency: many requests with the same key at once, spread over
 * several API processes sharing one database, create one message, and every request is answered
 * with the same body. A request that fails frees its key at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, type HooklineChild, spawnHookline } from './child.ts';
import { tempDir } from './helpers.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions, type TestDatabase } from './pg.ts';

const post = (base: string, path: string, body: unknown, key: string) =>
  fetch(base + path, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  }).then(async (r) => ({ status: r.status, body: await r.text() }));

/** 20 same-key publishes at once, alternating between the servers; then what was stored. */
async function sameKeyBurst(servers: HooklineChild[], appUid: string, key: string) {
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      post(
        servers[i % servers.length]!.url,
        `/api/v1/app/${appUid}/msg`,
        { eventType: 'order.paid', payload: { i: 1 } },
        key,
      ),
    ),
  );
  const list = await servers[0]!.call('GET', `/api/v1/app/${appUid}/msg?limit=50`);
  return { answers, messages: list.body.data as { id: string }[] };
}

function checkOneMessage({ answers, messages }: Awaited<ReturnType<typeof sameKeyBurst>>) {
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(20).fill(202),
    'every request is answered 202',
  );
  assert.equal(new Set(answers.map((a) => a.body)).size, 1, 'all with the same body');
  assert.equal(messages.length, 1, 'one message for one key');
  assert.equal(JSON.parse(answers[0]!.body).id, messages[0]!.id);
}

describe('idempotency keys across two API processes (PostgreSQL)', await pgTestOptions(), () => {
  let db: TestDatabase;
  const servers: HooklineChild[] = [];
  before(async () => {
    db = await createTestDatabase('idem');
    const env = { HOOKLINE_DATABASE_URL: db.url, HOOKLINE_SECRET_KEY: PG_SECRET_KEY, HOOKLINE_ROLE: 'api' };
    servers.push(...(await Promise.all([spawnHookline({ env }), spawnHookline({ env })])));
    assert.equal((await servers[0]!.call('POST', '/api/v1/app', { name: 'Shop', uid: 'shop' })).status, 201);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await db.drop();
  });

  test('20 concurrent same-key requests: one message, 20 answers with the same body', async () => {
    for (const key of ['k-1', 'k-2', 'k-3'])
      checkOneMessage(
        await sameKeyBurst(servers, 'shop', key).then(async (r) => {
          // Each burst adds one message: look only at the newest for this key's burst.
          return { ...r, messages: r.messages.filter((m) => r.answers.some((a) => a.body.includes(m.id))) };
        }),
      );
    const all = await servers[1]!.call('GET', '/api/v1/app/shop/msg?limit=50');
    assert.equal(all.body.data.length, 3, 'three keys, three messages');
  });

  test('a request that fails frees its key: the retry runs', async () => {
    const bad = await post(servers[0]!.url, '/api/v1/app/nope/msg', { eventType: 'x', payload: {} }, 'k-bad');
    assert.equal(bad.status, 404);
    assert.equal((await servers[0]!.call('POST', '/api/v1/app', { name: 'Late', uid: 'nope' })).status, 201);
    const retry = await post(
      servers[1]!.url,
      '/api/v1/app/nope/msg',
      { eventType: 'x', payload: {} },
      'k-bad',
    );
    assert.equal(retry.status, 202, 'not a replay of the 404, and not stuck behind a reservation');
  });
});

describe('idempotency keys, one process (SQLite)', () => {
  let server: HooklineChild;
  before(async () => {
    server = await spawnHookline({ env: { HOOKLINE_DATABASE_URL: `sqlite:${tempDir()}/h.db` } });
    await server.call('POST', '/api/v1/app', { name: 'Shop', uid: 'shop' });
  });
  after(() => server.stop());

  test('20 concurrent same-key requests: one message, 20 answers with the same body', async () => {
    checkOneMessage(await sameKeyBurst([server], 'shop', 'k-1'));
  });
});
