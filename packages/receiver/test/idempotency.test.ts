import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  createIdempotencyGuard,
  createMemoryIdempotencyStore,
  createSqliteIdempotencyStore,
  type IdempotencyStore,
} from '../src/idempotency.ts';

const dir = mkdtempSync(join(tmpdir(), 'hookline-receiver-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

let fileCounter = 0;
const stores: Record<string, (clock: ReturnType<typeof fakeClock>) => IdempotencyStore> = {
  memory: (clock) => createMemoryIdempotencyStore({ now: clock.now }),
  sqlite: (clock) =>
    createSqliteIdempotencyStore({ path: join(dir, `contract-${++fileCounter}.db`), now: clock.now }),
};

// The same contract for every store implementation.
for (const [kind, create] of Object.entries(stores)) {
  describe(`${kind} store contract`, () => {
    test('first claim wins, a repeat within the window is dropped', async () => {
      const store = create(fakeClock());
      assert.equal(await store.claim('evt_1', 60_000), true);
      assert.equal(await store.claim('evt_1', 60_000), false);
      assert.equal(await store.claim('evt_2', 60_000), true);
      await store.close?.();
    });

    test('an id can be claimed again after its window', async () => {
      const clock = fakeClock();
      const store = create(clock);
      assert.equal(await store.claim('evt_1', 1000), true);
      clock.advance(999);
      assert.equal(await store.claim('evt_1', 1000), false);
      clock.advance(1);
      assert.equal(await store.claim('evt_1', 1000), true);
      assert.equal(await store.claim('evt_1', 1000), false);
      await store.close?.();
    });

    test('release lets the retry through', async () => {
      const store = create(fakeClock());
      assert.equal(await store.claim('evt_1', 60_000), true);
      await store.release('evt_1');
      assert.equal(await store.claim('evt_1', 60_000), true);
      await store.close?.();
    });
  });
}

describe('memory store', () => {
  test('is bounded: expired ids go first, then the oldest', () => {
    const clock = fakeClock();
    const store = createMemoryIdempotencyStore({ maxEntries: 3, now: clock.now });
    store.claim('short', 10);
    store.claim('a', 60_000);
    store.claim('b', 60_000);
    clock.advance(10);
    store.claim('c', 60_000);
    assert.equal(store.size, 3);
    assert.equal(store.claim('a', 60_000), false, 'the expired id was evicted, not a live one');
    store.claim('d', 60_000);
    assert.equal(store.size, 3);
    assert.equal(store.claim('a', 60_000), true, 'the oldest live id was evicted when full');
  });
});

describe('sqlite store', () => {
  test('claims survive closing and re-opening the file', () => {
    const path = join(dir, 'reopen.db');
    const clock = fakeClock();
    const first = createSqliteIdempotencyStore({ path, now: clock.now });
    assert.equal(first.claim('evt_persist', 60_000), true);
    first.close();

    const second = createSqliteIdempotencyStore({ path, now: clock.now });
    assert.equal(second.claim('evt_persist', 60_000), false);
    assert.equal(second.claim('evt_new', 60_000), true);
    clock.advance(60_000);
    assert.equal(second.prune(), 2);
    assert.equal(second.claim('evt_persist', 60_000), true);
    second.close();
  });

  test('two connections to one file see each other (shared between processes)', () => {
    const path = join(dir, 'shared.db');
    const a = createSqliteIdempotencyStore({ path });
    const b = createSqliteIdempotencyStore({ path });
    assert.equal(a.claim('evt_shared', 60_000), true);
    assert.equal(b.claim('evt_shared', 60_000), false);
    b.release('evt_shared');
    assert.equal(a.claim('evt_shared', 60_000), true);
    a.close();
    b.close();
  });

  test('custom table names are validated', () => {
    assert.throws(
      () => createSqliteIdempotencyStore({ path: ':memory:', table: 'x; DROP TABLE y' }),
      /table name/,
    );
    const store = createSqliteIdempotencyStore({ path: ':memory:', table: 'webhook_events' });
    assert.equal(store.claim('e', 1000), true);
    store.close();
  });
});

describe('idempotency guard', () => {
  test('run() skips duplicates and keys VerifyResults by scheme and id', async () => {
    const guard = createIdempotencyGuard({ store: createMemoryIdempotencyStore(), windowMs: 60_000 });
    const event = { scheme: 'stripe', id: 'evt_1', matchedSecretIndex: 0 };
    let calls = 0;
    assert.deepEqual(await guard.run(event, () => ++calls), { duplicate: false, value: 1 });
    assert.deepEqual(await guard.run(event, () => ++calls), { duplicate: true });
    assert.equal(calls, 1);
    assert.equal(await guard.claim({ ...event, scheme: 'github' }), true, 'same id, other scheme');
    assert.equal(await guard.claim('stripe:evt_1'), false);
  });

  test('a failed handler releases the claim so the retry is processed', async () => {
    const store = createSqliteIdempotencyStore({ path: join(dir, 'guard.db') });
    const guard = createIdempotencyGuard({ store });
    await assert.rejects(
      guard.run('evt_fail', () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await guard.run('evt_fail', () => 'ok'), { duplicate: false, value: 'ok' });
    store.close();
  });

  test('a request without an id cannot be deduplicated', async () => {
    const guard = createIdempotencyGuard({ store: createMemoryIdempotencyStore() });
    await assert.rejects(guard.claim({ scheme: 'slack', matchedSecretIndex: 0 }), /no event id/);
  });
});
