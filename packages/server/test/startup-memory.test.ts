/**
 * `hookline serve` gives back what start-up used before it serves: module loading, the API's
 * compiled schemas and the migrations leave garbage and grow V8's young generation to its
 * largest (64 MB on a machine with this much memory), and a process that then serves little
 * kept them in its RSS. Read from its own `/metrics` (Node's heap spaces): the API and worker
 * process together (SQLite) and each role on its own (PostgreSQL).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { getHeapSpaceStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { releaseStartupMemory } from '../src/cli/startup-memory.ts';
import { type HooklineChild, spawnHookline } from './child.ts';
import { tempDir } from './helpers.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions } from './pg.ts';
import { metricValue } from './prometheus.ts';

const MB = 1024 * 1024;

async function heapSpaces(child: HooklineChild) {
  const text = await (await fetch(child.metricsUrl)).text();
  const young = metricValue(text, 'hookline_nodejs_heap_space_size_total_bytes', { space: 'new' });
  const rss = metricValue(text, 'hookline_process_resident_memory_bytes');
  assert.ok(young !== null && rss !== null, 'heap and RSS gauges are exported');
  return { young, rss };
}

test('the collection runs and shrinks the young generation', () => {
  // Short-lived garbage with survivors, so the young generation grows past its smallest.
  let keep: unknown[] = [];
  for (let i = 0; i < 200_000; i++) {
    keep.push({ i, s: `item ${i}`.repeat(4) });
    if (keep.length > 50_000) keep = [];
  }
  const youngSize = () => getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space')!.space_size;
  const before = youngSize();
  const ms = releaseStartupMemory();
  assert.ok(youngSize() < before, `young generation ${before} → ${youngSize()} bytes`);
  assert.equal(typeof ms, 'number', 'the collector was reachable');
  assert.ok(Number.isFinite(ms) && (ms as number) >= 0);
  assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'no gc in the global scope');
  assert.equal(runInNewContext('typeof gc'), 'undefined', 'no gc in contexts made later');
});

const children: HooklineChild[] = [];
after(async () => {
  for (const c of children) await c.stop();
});

test('a SQLite server starts with a small young generation', async () => {
  const child = await spawnHookline({
    env: { HOOKLINE_DATABASE_URL: `sqlite:${tempDir()}/hookline.db` },
  });
  children.push(child);
  const { young, rss } = await heapSpaces(child);
  // 1 MB measured; 64 MB before the collection.
  assert.ok(young <= 8 * MB, `young generation ${Math.round(young / MB)} MB, RSS ${Math.round(rss / MB)} MB`);
});

test(
  'PostgreSQL API and worker processes start with a small young generation',
  await pgTestOptions(),
  async () => {
    const db = await createTestDatabase('startup_memory');
    const started: HooklineChild[] = [];
    try {
      const env = { HOOKLINE_DATABASE_URL: db.url, HOOKLINE_SECRET_KEY: PG_SECRET_KEY };
      const api = await spawnHookline({ env: { ...env, HOOKLINE_ROLE: 'api' } });
      started.push(api);
      const worker = await spawnHookline({ env: { ...env, HOOKLINE_ROLE: 'worker' }, ownMetricsPort: true });
      started.push(worker);
      for (const [name, child] of [
        ['api', api],
        ['worker', worker],
      ] as const) {
        const { young, rss } = await heapSpaces(child);
        assert.ok(
          young <= 8 * MB,
          `${name}: young generation ${Math.round(young / MB)} MB, RSS ${Math.round(rss / MB)} MB`,
        );
      }
    } finally {
      for (const c of started.reverse()) await c.stop();
      await db.drop();
    }
  },
);
