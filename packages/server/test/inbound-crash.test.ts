/**
 * Inbound durability: a request answered 200 on `/in/{source}` is on disk. Hookline runs as the
 * API only (nothing is forwarded yet), is killed with SIGKILL in the middle of a burst, and a
 * restarted Hookline forwards every accepted request, byte for byte.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sign } from '@hookline/receiver';
import { type HooklineChild, spawnHookline } from './child.ts';
import { startReceiver, tempDir } from './helpers.ts';
import { testStores } from './pg.ts';

const SECRET = 'crash-test-github-secret';

function startChild(
  dataDir: string,
  role: 'api' | 'all',
  env: Record<string, string>,
): Promise<HooklineChild> {
  return spawnHookline({
    env: {
      HOOKLINE_DATABASE_URL: `sqlite:${join(dataDir, 'hookline.db')}`,
      HOOKLINE_LOG_LEVEL: 'warn',
      HOOKLINE_ROLE: role,
      ...env,
    },
  });
}

for (const kind of await testStores()) {
  test(`kill -9 during a burst of inbound requests loses none that were answered 200 (${kind.name})`, {
    ...kind.options,
    timeout: 60_000,
  }, async () => {
    const dataDir = tempDir();
    const db = await kind.open('inbound_crash');
    const receiver = await startReceiver();
    let child: HooklineChild | null = await startChild(dataDir, 'api', db.env);
    try {
      const created = await child.call('POST', '/api/v1/source', {
        name: 'gh',
        verification: { scheme: 'github', secrets: [SECRET] },
        dedupe: { header: 'X-GitHub-Delivery' },
        destinations: [{ url: `${receiver.url}/fwd` }],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));

      const accepted = new Map<string, string>(); // event id -> sha256 of the body
      let sent = 0;
      let killed = false;
      const url = `${child.url}/in/gh`;
      const worker = async () => {
        while (sent < 2_000 && !killed) {
          const i = sent++;
          const body = JSON.stringify({ action: 'opened', seq: i, pad: 'x'.repeat(i % 700) });
          try {
            const res = await fetch(url, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'x-github-event': 'issues',
                'x-github-delivery': `d-${i}`,
                ...sign({ scheme: 'github', body, secret: SECRET }).headers,
              },
              body,
            });
            if (res.status === 200) {
              const { id } = (await res.json()) as { id: string };
              accepted.set(id, createHash('sha256').update(body).digest('hex'));
            }
          } catch {
            // The connection died with the process: not acknowledged, so the provider would retry.
          }
        }
      };
      const workers = Array.from({ length: 16 }, worker);
      const deadline = Date.now() + 20_000;
      while (accepted.size < 150 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.ok(accepted.size >= 150, `only ${accepted.size} requests accepted before the deadline`);
      child.signal('SIGKILL');
      killed = true;
      await child.exited;
      await Promise.all(workers);
      child = null;

      child = await startChild(dataDir, 'all', db.env);
      // Requests stored but never answered (the kill came between commit and reply) are forwarded
      // too, so count the accepted ids themselves, not the requests received.
      const forwarded = new Map<string, string>();
      const until = Date.now() + 30_000;
      for (;;) {
        for (const r of receiver.requests) {
          forwarded.set(String(r.headers['webhook-id']), createHash('sha256').update(r.body).digest('hex'));
        }
        if ([...accepted.keys()].every((id) => forwarded.has(id)) || Date.now() > until) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const [id, hash] of accepted)
        assert.equal(forwarded.get(id), hash, `accepted event ${id} forwarded intact`);
    } finally {
      if (child) await child.stop();
      await receiver.close();
      rmSync(dataDir, { recursive: true, force: true });
      await db.drop();
    }
  });
}
