/**
 * What a SQLite claim reads to find due work (store/sqlite/queue.ts): which endpoints the oldest
 * due deliveries and the live ones belong to, and when they fell due, come from the due index
 * alone (migration 27), not from each delivery's row. (Which work a claim picks is the store
 * contract's: store-contract.test.ts, "live first, then turns".) Real SQLite files.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, test } from 'node:test';
import { createSecretBox } from '../src/core/secret-box.ts';
import { LIVE_MS } from '../src/store/claim-plan.ts';
import { DUE_WINDOW, LIVE_ENDPOINTS } from '../src/store/sqlite/queue.ts';
import { createSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../src/store/store.ts';
import { tempDir } from './helpers.ts';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A migrated file. */
async function migratedFile() {
  const dir = tempDir('hookline-claim-reads-');
  dirs.push(dir);
  const path = join(dir, 'h.db');
  const store = createSqliteStore({ path, secretBox: createSecretBox('test-key') });
  stores.push(store);
  await store.migrate();
  return { path, store };
}

test('the claim finds the endpoints of due and live work in the due index alone', async () => {
  const { path, store } = await migratedFile();
  await store.close();
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    for (const [name, text, params] of [
      ['DUE_WINDOW', DUE_WINDOW, [Date.now(), 400]],
      ['LIVE_ENDPOINTS', LIVE_ENDPOINTS, [Date.now() - LIVE_MS, Date.now(), 400]],
    ] as const) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...params) as { detail: string }[])
        .map((r) => r.detail)
        .join('; ');
      assert.match(plan, /COVERING INDEX delivery_due/, `${name}: ${plan}`);
    }
  } finally {
    db.close();
  }
});
