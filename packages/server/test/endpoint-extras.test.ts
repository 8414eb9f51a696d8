/**
 * The delivery engine's copy of endpoints' extras: loaded once, served from memory (a plain
 * endpoint costs a map lookup, no query), reloaded when older than its age limit or after a
 * change through this process, and never marked fresh by a load that a change overtook.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EndpointExtras } from '../src/core/types.ts';
import { createExtrasCache } from '../src/delivery/endpoint-extras.ts';

const row = (endpointId: string, ca: string): EndpointExtras => ({
  endpointId,
  appId: 'app_1',
  oauth: null,
  mtls: null,
  ca,
  transformation: null,
  updatedAt: 1,
});

test('loads once, serves from memory, reloads when stale or invalidated', async () => {
  let rows = [row('ep_a', 'A1')];
  let loads = 0;
  let now = 1_000;
  let release: (() => void) | null = null;
  const store = {
    async listEndpointExtras() {
      loads++;
      const snapshot = rows;
      if (release === null) return snapshot;
      await new Promise<void>((ok) => {
        release = ok;
      });
      return snapshot;
    },
  };
  const cache = createExtrasCache(store, { maxAgeMs: 5_000, now: () => now });
  assert.equal((await cache.get('ep_a'))?.ca, 'A1');
  assert.equal(await cache.get('ep_plain'), undefined);
  assert.equal(loads, 1, 'one load for every lookup while fresh');

  rows = [row('ep_a', 'A2')];
  assert.equal((await cache.get('ep_a'))?.ca, 'A1', 'still fresh: no reload');
  cache.invalidate();
  assert.equal((await cache.get('ep_a'))?.ca, 'A2', 'a change through this process shows at once');
  assert.equal(loads, 2);

  // Stale by age: the old copy answers while the reload runs in the background.
  rows = [row('ep_a', 'A3')];
  now += 6_000;
  assert.equal((await cache.get('ep_a'))?.ca, 'A2');
  await new Promise((ok) => setImmediate(ok));
  assert.equal((await cache.get('ep_a'))?.ca, 'A3');
  assert.equal(loads, 3);

  // A change while a load is running: that load does not count as fresh, and a lookup waiting
  // on it gets a load started after the change.
  release = () => {};
  now += 6_000;
  void cache.get('ep_a');
  await new Promise((ok) => setImmediate(ok));
  cache.invalidate();
  rows = [row('ep_a', 'A4')];
  const waiting = cache.get('ep_a');
  const finish = release as () => void;
  release = null;
  finish();
  assert.equal((await waiting)?.ca, 'A4', 'the lookup saw the change');
  assert.equal(loads, 5);
});
