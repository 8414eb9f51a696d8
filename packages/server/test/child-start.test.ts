/**
 * The tests' own launcher (`child.ts`): a server counts as started only once it has said so, not
 * when something on its port answers `/health` — under parallel tests another test's receiver can
 * hold the port chosen for it.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'node:test';
import { spawnHookline } from './child.ts';
import { tempDir } from './helpers.ts';

test('a port another listener holds is a failed start, not a server that answers /health', {
  timeout: 60_000,
}, async () => {
  // Answers 200 to everything, /health included, as the tests' receivers do.
  const other = createServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1');
  await new Promise((r) => other.once('listening', r));
  const { port } = other.address() as AddressInfo;
  const env = { HOOKLINE_DATABASE_URL: `sqlite:${tempDir()}/h.db` };
  try {
    await assert.rejects(
      spawnHookline({ env: { ...env, HOOKLINE_PORT: String(port) } }),
      new RegExp(`port ${port} is in use`),
    );
    // A port chosen by the launcher: it starts, and the process that answers is this one.
    const h = await spawnHookline({ env });
    try {
      assert.notEqual(new URL(h.url).port, String(port));
      assert.equal((await h.call('GET', '/health')).status, 200);
      assert.match(h.output(), /\(all\) using sqlite:/);
    } finally {
      await h.stop();
    }
  } finally {
    other.closeAllConnections();
    other.close();
  }
});
