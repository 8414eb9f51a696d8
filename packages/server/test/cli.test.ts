/**
 * Hookline started exactly as the README and other people's scripts start it: `npm start` with
 * HOOKLINE_* variables, in a child process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type HooklineChild, MAIN, spawnHookline } from './child.ts';
import { tempDir } from './helpers.ts';

const GRACEFUL = /SIGTERM received, finishing in-flight deliveries/;

/** Starts Hookline with `npm start`, as the README does, without a configured admin token. */
function npmStart(env: Record<string, string>, cwd: string): Promise<HooklineChild> {
  return spawnHookline({
    viaNpm: true,
    cwd,
    env: { HOOKLINE_ADMIN_TOKEN: '', HOOKLINE_LOG_LEVEL: 'warn', ...env },
  });
}

/** SIGTERM, as a process manager would send it; resolves with what the server printed. */
async function stop(s: HooklineChild): Promise<string> {
  await s.stop();
  return s.output();
}

describe('npm start', () => {
  const started: HooklineChild[] = [];
  after(() => {
    for (const s of started) if (s.proc.exitCode === null) s.signal('SIGKILL');
  });

  test('first start prints the admin token once; it works; SIGTERM stops cleanly', async () => {
    const dir = tempDir();
    const env = { HOOKLINE_DATABASE_URL: `sqlite:${join(dir, 'data/hookline.db')}` };
    const first = await npmStart(env, dir);
    started.push(first);
    const token = /Admin token \(shown once; keep it\): (hl_admin_\S+)/.exec(first.output())?.[1];
    assert.ok(token, first.output());
    const health = (await (await fetch(`${first.url}/health`)).json()) as any;
    assert.equal(health.status, 'ok');
    const apps = await fetch(`${first.url}/api/v1/app`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(apps.status, 200);
    const openapi = (await (await fetch(`${first.url}/openapi.json`)).json()) as any;
    assert.equal(openapi.openapi, '3.1.0');
    assert.ok(openapi.paths['/api/v1/app/{app_id}/msg'].post, 'message creation is described');
    assert.match(await stop(first), GRACEFUL);

    const second = await npmStart(env, dir);
    started.push(second);
    assert.doesNotMatch(second.output(), /hl_admin_/, 'the token is not printed again');
    const still = await fetch(`${second.url}/api/v1/app`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(still.status, 200, 'the stored (hashed) token survives a restart');
    assert.match(await stop(second), GRACEFUL);

    const reset = spawnSync(process.execPath, [MAIN, 'admin-token', '--reset'], {
      env: { ...process.env, ...env },
    });
    const newToken = reset.stdout.toString().trim();
    assert.match(newToken, /^hl_admin_/);
    const third = await npmStart(env, dir);
    started.push(third);
    const old = await fetch(`${third.url}/api/v1/app`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(old.status, 401, 'the old token stopped working');
    const fresh = await fetch(`${third.url}/api/v1/app`, {
      headers: { authorization: `Bearer ${newToken}` },
    });
    assert.equal(fresh.status, 200);
    assert.match(await stop(third), GRACEFUL);
  });

  test('invalid configuration exits 2 listing every problem', () => {
    const r = spawnSync(process.execPath, [MAIN, 'serve'], {
      env: { ...process.env, HOOKLINE_PORT: 'x', HOOKLINE_ROLE: 'boss' },
    });
    assert.equal(r.status, 2);
    const err = r.stderr.toString();
    assert.match(err, /HOOKLINE_PORT/);
    assert.match(err, /HOOKLINE_ROLE/);
  });

  test('migrate creates the schema and exits', () => {
    const dir = tempDir();
    const r = spawnSync(process.execPath, [MAIN, 'migrate'], {
      env: {
        ...process.env,
        HOOKLINE_DATABASE_URL: `sqlite:${join(dir, 'h.db')}`,
        HOOKLINE_LOG_LEVEL: 'silent',
      },
    });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.match(r.stdout.toString(), /applied [1-9]\d* migration\(s\); the database schema is up to date/);
    const again = spawnSync(process.execPath, [MAIN, 'migrate'], {
      env: {
        ...process.env,
        HOOKLINE_DATABASE_URL: `sqlite:${join(dir, 'h.db')}`,
        HOOKLINE_LOG_LEVEL: 'silent',
      },
    });
    assert.equal(again.status, 0, again.stderr.toString());
    assert.match(again.stdout.toString(), /nothing to apply; the database schema is up to date/);
  });

  test('a busy port says which one and which setting to change, without a stack trace', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const r = spawnSync(process.execPath, [MAIN, 'serve'], {
        env: {
          ...process.env,
          HOOKLINE_DATABASE_URL: `sqlite:${join(tempDir(), 'h.db')}`,
          HOOKLINE_HOST: '127.0.0.1',
          HOOKLINE_PORT: String(port),
          HOOKLINE_LOG_LEVEL: 'silent',
        },
        timeout: 30_000,
      });
      const err = r.stderr.toString();
      assert.equal(r.status, 2, err);
      assert.match(
        err,
        new RegExp(`port ${port} is in use on 127\\.0\\.0\\.1 .*set HOOKLINE_PORT to a free port`),
      );
      assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  test('with HOOKLINE_MIGRATE_ON_START=false, serve refuses a database that needs migrating, then starts after migrate', async () => {
    const dir = tempDir();
    const env = {
      HOOKLINE_DATABASE_URL: `sqlite:${join(dir, 'h.db')}`,
      HOOKLINE_MIGRATE_ON_START: 'false',
      HOOKLINE_LOG_LEVEL: 'silent',
    };
    const refused = spawnSync(process.execPath, [MAIN, 'serve'], {
      env: { ...process.env, ...env, HOOKLINE_PORT: '0' },
      timeout: 20_000,
    });
    assert.equal(refused.status, 2, refused.stderr.toString());
    assert.match(refused.stderr.toString(), /migration\(s\) behind .* run `hookline migrate` first/);
    const migrated = spawnSync(process.execPath, [MAIN, 'migrate'], { env: { ...process.env, ...env } });
    assert.equal(migrated.status, 0, migrated.stderr.toString());
    const child = await spawnHookline({ env });
    try {
      assert.equal((await fetch(`${child.url}/health`)).status, 200);
    } finally {
      await child.stop();
    }
  });
});
