/**
 * Graceful shutdown and logs: SIGTERM while deliveries are in flight lets them finish, gives
 * back what was claimed but not started, and exits 0 — leaving no delivery leased and losing
 * none. The server's log is JSON lines (pino) with request ids, and debug lines for each attempt
 * carry deliveryId, msgId and endpointId.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createSecretBox } from '../src/core/secret-box.ts';
import { createSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { type HooklineChild, spawnHookline } from './child.ts';
import { startReceiver, tempDir } from './helpers.ts';

const MESSAGES = 60;

test('SIGTERM during deliveries: in-flight ones finish, nothing stays leased, nothing is lost', {
  timeout: 90_000,
}, async (t) => {
  const dataDir = tempDir('hookline-shutdown-');
  const receiver = await startReceiver();
  receiver.fallback = { status: 200, body: 'ok', delayMs: 400 };
  const children: HooklineChild[] = [];
  t.after(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.signal('SIGKILL');
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const env = {
    HOOKLINE_DATABASE_URL: `sqlite:${join(dataDir, 'hookline.db')}`,
    HOOKLINE_LOG_LEVEL: 'debug',
    HOOKLINE_CONCURRENCY: '8',
    HOOKLINE_ENDPOINT_CONCURRENCY: '4',
  };
  const first = await spawnHookline({ env });
  children.push(first);
  const app = await first.call('POST', '/api/v1/app', { name: 'shutdown', uid: 'shutdown' });
  const ep = await first.call('POST', `/api/v1/app/${app.body.id}/endpoint`, { url: receiver.url });
  assert.equal(ep.status, 201);
  const accepted: string[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const m = await first.call('POST', `/api/v1/app/${app.body.id}/msg`, { eventType: 'e', payload: { i } });
    assert.equal(m.status, 202);
    accepted.push(m.body.id);
  }
  await receiver.waitFor(4);
  first.signal('SIGTERM');
  assert.equal(await first.exited, 0, first.output());
  const log = first.output();
  assert.match(log, /SIGTERM received, finishing in-flight deliveries/);
  const inFlightAtStop = receiver.requests.length;
  assert.ok(inFlightAtStop < MESSAGES, 'the test stopped the server mid-way');

  // Straight from the database: every accepted message is there, and no lease is left behind.
  const store = createSqliteStore({
    path: join(dataDir, 'hookline.db'),
    secretBox: createSecretBox(readFileSync(join(dataDir, 'secret.key'), 'utf8').trim()),
  });
  const stats = await store.endpointStats(ep.body.id, 0, Date.now() + 1);
  assert.equal(stats.sending, 0, 'nothing leased');
  assert.equal(stats.success + stats.pending, MESSAGES, 'nothing lost');
  assert.equal(stats.success, inFlightAtStop, 'every request the receiver got was finished and recorded');
  await store.close();

  // JSON log lines: attempts at debug level with their ids.
  const lines = log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const attemptLine = lines.find((l) => l.msg === 'delivery attempt');
  assert.ok(attemptLine, 'a debug line per attempt');
  assert.match(String(attemptLine.deliveryId), /^dlv_/);
  assert.ok(accepted.includes(String(attemptLine.msgId)));
  assert.equal(attemptLine.endpointId, ep.body.id);
  assert.ok(
    lines.some((l) => typeof l.reqId === 'string' && String(l.reqId).startsWith('req_')),
    'request ids',
  );

  // Second life: the rest is delivered.
  const second = await spawnHookline({ env: { ...env, HOOKLINE_LOG_LEVEL: 'warn' } });
  children.push(second);
  receiver.fallback = { status: 200, body: 'ok' };
  await receiver.waitFor(MESSAGES, 30_000);
  const delivered = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
  assert.deepEqual([...delivered].sort(), [...accepted].sort());
  assert.equal(receiver.requests.length, MESSAGES, 'no duplicates: nothing was left half-done');
  await second.stop();
});
