/**
 * The admin token and the secret key (issue 13, items 17 and 22): a reset admin token is
 * honoured by servers that are already running; a secret key that does not match the database
 * stops the start with a clear message instead of 500s; `hookline rotate-secret-key`
 * re-encrypts every sealed value under a new key; keys and tokens that are too short are refused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { type HooklineChild, MAIN, spawnHookline } from './child.ts';
import { tempDir } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

/** Runs the CLI to completion with these HOOKLINE_* settings. */
function cli(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    env: { ...process.env, HOOKLINE_LOG_LEVEL: 'warn', ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Asks `url` with `token` until the answer is `status` (true) or 15 s have passed (false). */
async function answersWithin(url: string, token: string, status: number): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (res.status === status) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** A fresh database of this kind, as HOOKLINE_* settings. */
async function freshDatabase(kind: TestStoreKind, label: string) {
  const db = await kind.open(label);
  const env =
    kind.name === 'sqlite' ? { HOOKLINE_DATABASE_URL: `sqlite:${join(tempDir(), 'hookline.db')}` } : db.env;
  return { env, drop: db.drop };
}

for (const kind of await testStores()) {
  describe(`admin token reset on running servers (${kind.name})`, kind.options, () => {
    const children: HooklineChild[] = [];
    after(async () => {
      await Promise.all(children.map((c) => c.stop()));
    });

    test('`hookline admin-token --reset` revokes the old token on a running server, no restart', async (t) => {
      const db = await freshDatabase(kind, 'token_reset');
      t.after(() => db.drop());
      const env = { ...db.env, HOOKLINE_ADMIN_TOKEN: '', HOOKLINE_LOG_LEVEL: 'warn' };
      const server = await spawnHookline({ env });
      children.push(server);
      const old = /Admin token \(shown once; keep it\): (hl_admin_\S+)/.exec(server.output())?.[1];
      assert.ok(old, server.output());
      const apps = `${server.url}/api/v1/app`;
      assert.equal((await fetch(apps, { headers: { authorization: `Bearer ${old}` } })).status, 200);

      const reset = cli(['admin-token', '--reset'], env);
      assert.equal(reset.status, 0, reset.stderr);
      const fresh = reset.stdout.trim();
      assert.match(fresh, /^hl_admin_/);
      assert.match(reset.stderr, /stops working on running servers within 1 s/);

      assert.equal(await answersWithin(apps, old, 401), true, 'the running server refuses the old token');
      assert.equal((await fetch(apps, { headers: { authorization: `Bearer ${fresh}` } })).status, 200);
      assert.equal(server.proc.exitCode, null, 'the server kept running');
    });
  });
}

describe('admin token settings', () => {
  test('a reset cannot replace HOOKLINE_ADMIN_TOKEN: it says so and exits 2', () => {
    const r = cli(['admin-token', '--reset'], {
      HOOKLINE_DATABASE_URL: `sqlite:${join(tempDir(), 'h.db')}`,
      HOOKLINE_ADMIN_TOKEN: 'a-configured-admin-token',
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /comes from HOOKLINE_ADMIN_TOKEN, which a reset cannot change/);
  });

  test('admin tokens and secret keys that are too short are refused at start', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.problems;
      }
    };
    const short = problems({ HOOKLINE_ADMIN_TOKEN: 'secret', HOOKLINE_SECRET_KEY: 'hunter2' });
    assert.equal(short.length, 2, short.join('\n'));
    assert.match(short[0]!, /HOOKLINE_ADMIN_TOKEN="secret" is too short: use at least 16 random characters/);
    assert.match(short[1]!, /HOOKLINE_SECRET_KEY="hunter2" is too short: use at least 32 random characters/);
    assert.deepEqual(
      problems({ HOOKLINE_ADMIN_TOKEN: 'x'.repeat(16), HOOKLINE_SECRET_KEY: 'k'.repeat(32) }),
      [],
    );
    const r = cli(['serve'], { HOOKLINE_ADMIN_TOKEN: 'admin', HOOKLINE_PORT: '0' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /HOOKLINE_ADMIN_TOKEN="admin" is too short/);
  });
});
