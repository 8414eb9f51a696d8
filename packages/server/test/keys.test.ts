/**
 * The admin token and the secret key (issue 13, items 17 and 22): a reset admin token is
 * honoured by servers that are already running; a secret key that does not match the database
 * stops the start with a clear message instead of 500s; `hookline rotate-secret-key`
 * re-encrypts every sealed value under a new key; keys and tokens that are too short are refused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import { openStore } from '../src/hookline.ts';
import { rotateSecretKey } from '../src/secret-key.ts';
import type { Store } from '../src/store/store.ts';
import { type HooklineChild, MAIN, spawnHookline } from './child.ts';
import { startHookline, type TestServer, tempDir } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const KEY_1 = 'first-secret-key-0123456789abcdefghij';
const KEY_2 = 'second-secret-key-0123456789abcdefghij';

/** What the secrets of an install look like through the API (all of them are sealed at rest). */
async function secretsOf(server: TestServer) {
  const endpoint = await server.call('GET', '/api/v1/app/acme/endpoint/billing/secret');
  const source = await server.call('GET', '/api/v1/source/gh/secret');
  assert.equal(endpoint.status, 200, JSON.stringify(endpoint.body));
  assert.equal(source.status, 200, JSON.stringify(source.body));
  // The source's verification secret is sealed too: a correctly signed request is accepted.
  const body = JSON.stringify({ zen: 'Keep it logically awesome.' });
  const inbound = await fetch(`${server.url}/in/gh`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'ping',
      'x-github-delivery': crypto.randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', 'gh-secret').update(body).digest('hex')}`,
    },
    body,
  });
  assert.equal(inbound.status, 200, await inbound.text());
  // The endpoint's OAuth client secret (sealed in endpoint_extra), as the delivery engine reads it.
  const ep = await server.call('GET', '/api/v1/app/acme/endpoint/billing');
  const extras = await server.hookline.store.getEndpointExtras(ep.body.id);
  return {
    endpoint: endpoint.body.key as string,
    source: source.body.key as string,
    oauth: extras?.oauth?.clientSecret,
  };
}

/** An application with an endpoint, and a source: every kind of sealed value. */
async function populate(server: TestServer) {
  assert.equal((await server.call('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' })).status, 201);
  const ep = await server.call('POST', '/api/v1/app/acme/endpoint', {
    url: 'http://127.0.0.1:9/hook',
    uid: 'billing',
  });
  assert.equal(ep.status, 201, JSON.stringify(ep.body));
  const oauth = await server.call('PUT', '/api/v1/app/acme/endpoint/billing/oauth', {
    tokenUrl: 'http://127.0.0.1:9/token',
    clientId: 'acme',
    clientSecret: 'oauth-client-secret',
  });
  assert.equal(oauth.status, 204, JSON.stringify(oauth.body));
  const src = await server.call('POST', '/api/v1/source', {
    name: 'gh',
    verification: { scheme: 'github', secrets: ['gh-secret'] },
    destinations: [{ url: 'http://127.0.0.1:9/forward' }],
  });
  assert.equal(src.status, 201, JSON.stringify(src.body));
}

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

for (const kind of await testStores()) {
  describe(`secret key (${kind.name})`, kind.options, () => {
    /** HOOKLINE_* settings of a fresh database of this kind, with a data dir for SQLite. */
    async function install(t: { after(fn: () => Promise<void>): void }) {
      const dataDir = tempDir();
      const db = await freshDatabase(kind, 'secret_key');
      t.after(() => db.drop());
      const env =
        kind.name === 'sqlite' ? { HOOKLINE_DATABASE_URL: `sqlite:${join(dataDir, 'hookline.db')}` } : db.env;
      const start = (key: string) => startHookline({ dataDir, env: { ...env, HOOKLINE_SECRET_KEY: key } });
      return { env, dataDir, start };
    }

    test('a changed HOOKLINE_SECRET_KEY stops the start with a clear message instead of 500s', async (t) => {
      const { start, env } = await install(t);
      const first = await start(KEY_1);
      await populate(first);
      await first.hookline.close();
      await assert.rejects(
        start(KEY_2),
        /the secret key in HOOKLINE_SECRET_KEY \(fingerprint [0-9a-f]{16}\) is not the key this database's secrets are encrypted with \(fingerprint [0-9a-f]{16}\).*hookline rotate-secret-key/,
      );
      const serve = cli(['serve'], { ...env, HOOKLINE_SECRET_KEY: KEY_2, HOOKLINE_PORT: '0' });
      assert.equal(serve.status, 2, serve.stderr);
      assert.match(serve.stderr, /is not the key this database's secrets are encrypted with/);
      assert.doesNotMatch(serve.stderr, /\n\s+at /, 'no stack trace');
      const again = await start(KEY_1);
      try {
        await secretsOf(again);
      } finally {
        await again.hookline.close();
      }
    });

    test('`hookline rotate-secret-key` re-encrypts every secret; the old key is refused afterwards', async (t) => {
      const { start, env } = await install(t);
      const first = await start(KEY_1);
      await populate(first);
      const before = await secretsOf(first);
      await first.hookline.close();

      const rotated = cli(['rotate-secret-key'], {
        ...env,
        HOOKLINE_SECRET_KEY: KEY_1,
        HOOKLINE_NEW_SECRET_KEY: KEY_2,
      });
      assert.equal(rotated.status, 0, rotated.stderr);
      // One endpoint of the application and the source's one destination; one source.
      assert.match(
        rotated.stdout,
        /re-encrypted the secrets of 2 endpoint\(s\) and 1 source\(s\) with the new key/,
      );
      assert.match(
        rotated.stdout,
        /start every Hookline process with HOOKLINE_SECRET_KEY set to the new key/,
      );

      await assert.rejects(start(KEY_1), /is not the key this database's secrets are encrypted with/);
      const second = await start(KEY_2);
      try {
        assert.deepEqual(await secretsOf(second), before, 'the same secrets, now sealed with the new key');
      } finally {
        await second.hookline.close();
      }
      const repeat = cli(['rotate-secret-key'], {
        ...env,
        HOOKLINE_SECRET_KEY: KEY_1,
        HOOKLINE_NEW_SECRET_KEY: KEY_2,
      });
      assert.equal(repeat.status, 0, repeat.stderr);
      assert.match(repeat.stdout, /already encrypted with the new key/);
      const missing = cli(['rotate-secret-key'], { ...env, HOOKLINE_SECRET_KEY: KEY_2 });
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /set the new key in HOOKLINE_NEW_SECRET_KEY/);
    });

    test('an interrupted rotation blocks the start until it is run again', async (t) => {
      const { start, env } = await install(t);
      const first = await start(KEY_1);
      await populate(first);
      for (let i = 0; i < 3; i++) {
        await first.call('POST', '/api/v1/app/acme/endpoint', { url: `http://127.0.0.1:9/more-${i}` });
      }
      const before = await secretsOf(first);
      await first.hookline.close();

      // The rotation stops after the first endpoint (as if the process were killed).
      const config = loadConfig({ ...env, HOOKLINE_SECRET_KEY: KEY_1, HOOKLINE_LOG_LEVEL: 'silent' });
      const box = createSecretBox(KEY_2, [KEY_1]);
      const store = openStore(config, box);
      let updates = 0;
      const failing = new Proxy(store, {
        get(target, prop, receiver) {
          if (prop === 'updateEndpoint') {
            return async (...args: Parameters<Store['updateEndpoint']>) => {
              if (++updates > 1) throw new Error('killed');
              return target.updateEndpoint(...args);
            };
          }
          return Reflect.get(target, prop, receiver);
        },
      });
      try {
        await assert.rejects(rotateSecretKey(failing, box, createSecretBox(KEY_1).fingerprint), /killed/);
      } finally {
        await store.close();
      }
      for (const key of [KEY_1, KEY_2]) {
        await assert.rejects(
          start(key),
          /a secret key rotation .* did not finish: run `hookline rotate-secret-key` again/,
        );
      }
      const other = cli(['rotate-secret-key'], {
        ...env,
        HOOKLINE_SECRET_KEY: KEY_1,
        HOOKLINE_NEW_SECRET_KEY: 'a-third-secret-key-0123456789abcdefghij',
      });
      assert.equal(other.status, 2);
      assert.match(other.stderr, /an unfinished rotation to key [0-9a-f]{16} is recorded/);
      const finished = cli(['rotate-secret-key'], {
        ...env,
        HOOKLINE_SECRET_KEY: KEY_1,
        HOOKLINE_NEW_SECRET_KEY: KEY_2,
      });
      assert.equal(finished.status, 0, finished.stderr);
      assert.match(finished.stdout, /re-encrypted the secrets of 5 endpoint\(s\) and 1 source\(s\)/);
      const second = await start(KEY_2);
      try {
        assert.deepEqual(await secretsOf(second), before);
      } finally {
        await second.hookline.close();
      }
    });
  });
}

describe('secret key (SQLite, generated into the data dir)', () => {
  test('rotate-secret-key generates the new key into secret.key and keeps the old one', async () => {
    const dataDir = tempDir();
    const env = { HOOKLINE_DATABASE_URL: `sqlite:${join(dataDir, 'hookline.db')}` };
    const first = await startHookline({ dataDir, env });
    await populate(first);
    const before = await secretsOf(first);
    await first.hookline.close();
    const oldKey = readFileSync(join(dataDir, 'secret.key'), 'utf8');

    const rotated = cli(['rotate-secret-key'], env);
    assert.equal(rotated.status, 0, rotated.stderr);
    assert.match(rotated.stdout, new RegExp(`the new key is in ${join(dataDir, 'secret.key')}`));
    const newKey = readFileSync(join(dataDir, 'secret.key'), 'utf8');
    assert.notEqual(newKey, oldKey);
    assert.equal(readFileSync(join(dataDir, 'secret.key.old'), 'utf8'), oldKey);
    assert.equal(existsSync(join(dataDir, 'secret.key.new')), false);

    const second = await startHookline({ dataDir, env });
    try {
      assert.deepEqual(await secretsOf(second), before);
    } finally {
      await second.close();
    }
  });

  test('a database from before fingerprints were kept is checked by reading its secrets', async () => {
    const dataDir = tempDir();
    const env = {
      HOOKLINE_DATABASE_URL: `sqlite:${join(dataDir, 'hookline.db')}`,
      HOOKLINE_SECRET_KEY: KEY_1,
    };
    const first = await startHookline({ dataDir, env });
    await populate(first);
    await first.hookline.close();
    const db = new DatabaseSync(join(dataDir, 'hookline.db'));
    db.prepare("DELETE FROM setting WHERE key = 'secret_key_fingerprint'").run();
    db.close();
    await assert.rejects(
      startHookline({ dataDir, env: { ...env, HOOKLINE_SECRET_KEY: KEY_2 } }),
      /is not the key this database's secrets are encrypted with \(fingerprint unknown\)/,
    );
    const again = await startHookline({ dataDir, env });
    await secretsOf(again);
    await again.close();
  });
});
