/**
 * A SQLite server counts each endpoint's deliveries in flight from the leases it holds
 * (store/sqlite/leases.ts), not from the database: one process owns the file, so a lease left by
 * a process that stopped has no request behind it. Real SQLite files.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, test } from 'node:test';
import { createIdGenerator } from '../src/core/ids.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import type { App } from '../src/core/types.ts';
import { createSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { ClaimedDelivery, Store } from '../src/store/store.ts';
import { tempDir } from './helpers.ts';
import { byFilters, testEndpoint, testIngestItem } from './stores.ts';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const now = Date.UTC(2026, 11, 7, 12);
const ids = createIdGenerator(() => now);

async function open(path: string): Promise<Store> {
  const store = createSqliteStore({ path, secretBox: createSecretBox('test-key') });
  stores.push(store);
  await store.migrate();
  return store;
}

/** A file with one endpoint and `n` due deliveries to it. */
async function fileWithBacklog(n: number) {
  const dir = tempDir('hookline-leases-');
  dirs.push(dir);
  const path = join(dir, 'h.db');
  const store = await open(path);
  const app: App = {
    id: ids('app'),
    uid: null,
    name: 'A',
    throttleRate: null,
    metadata: {},
    createdAt: now,
    updatedAt: now,
  };
  await store.insertApp(app);
  await store.insertEndpoint(testEndpoint(ids('endpoint'), app.id, now));
  await store.ingest(
    Array.from({ length: n }, () =>
      testIngestItem(ids, app.id, now, { payload: '{"a":1}' }, { route: byFilters }),
    ),
  );
  return { path, store };
}

const claim = (store: Store, perEndpoint: number) =>
  store
    .claimDue({ now, limit: 100, leaseMs: 60_000, perEndpoint, skipEndpoints: [] })
    .then((c) => c.deliveries);

test('a lease left by a server that stopped does not hold its endpoint back', async () => {
  const { path, store: first } = await fileWithBacklog(6);
  const before = await claim(first, 2);
  assert.equal(before.length, 2);
  assert.equal((await claim(first, 2)).length, 0, 'the server holds the endpoint at its limit');
  // The process goes away with both requests unanswered (their leases run for another minute).
  await first.close();

  const second = await open(path);
  const after = await claim(second, 2);
  assert.equal(after.length, 2, 'no request of the stopped server is in flight');
  const leftBehind = new Set(before.map((d) => d.id));
  assert.ok(
    after.every((d) => !leftBehind.has(d.id)),
    'the deliveries left behind wait for their leases to end, as before',
  );
  assert.equal((await claim(second, 2)).length, 0, 'the new leases count');
});

test('a delivery given back or completed frees its slot; one whose lease was taken over does not', async () => {
  const { store } = await fileWithBacklog(6);
  const [a, b] = (await claim(store, 2)) as [ClaimedDelivery, ClaimedDelivery];
  await store.releaseDeliveries([a.id], now);
  const [c] = await claim(store, 2);
  assert.ok(c, 'the slot given back is claimed again');
  // An outcome for a lease the delivery no longer holds frees nothing.
  await store.completeDeliveries(
    [{ deliveryId: b.id, leaseUntil: b.leaseUntil - 1, attempt: null, next: { kind: 'success' } }],
    now,
  );
  assert.equal((await claim(store, 2)).length, 0, 'a stale outcome does not free the slot');
  await store.completeDeliveries(
    [{ deliveryId: b.id, leaseUntil: b.leaseUntil, attempt: null, next: { kind: 'success' } }],
    now,
  );
  assert.equal((await claim(store, 2)).length, 1, 'its own outcome does');
});

test('migration 26 drops the index of deliveries in flight', async () => {
  const { path, store } = await fileWithBacklog(1);
  await store.close();
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const names = (
      db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index'`).all() as { name: string }[]
    ).map((r) => r.name);
    assert.ok(names.includes('delivery_due'), 'the other delivery indexes stay');
    assert.ok(!names.includes('delivery_sending'));
  } finally {
    db.close();
  }
});
