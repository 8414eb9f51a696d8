/** Pure pieces: ids, configuration, secret rotation, the secret box, routing. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { rotateSecret } from '../src/api/endpoint.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createIdGenerator, encodeBase62, idFloor, isId } from '../src/core/ids.ts';
import { endpointMatches } from '../src/core/routing.ts';
import { createSecretBox } from '../src/core/secret-box.ts';
import type { Endpoint } from '../src/core/types.ts';
import { openSqlite } from '../src/store/sqlite/connection.ts';
import { tempDir } from './helpers.ts';

describe('ids', () => {
  test('prefix plus 27-character base62 KSUID, with Svix lengths', () => {
    const ids = createIdGenerator();
    assert.equal(ids('app').length, 31);
    assert.equal(ids('endpoint').length, 30);
    assert.equal(ids('message').length, 31);
    assert.equal(ids('attempt').length, 33);
    assert.equal(ids('task').length, 33);
    assert.ok(isId('message', ids('message')));
    assert.equal(isId('app', ids('message')), false);
    assert.equal(isId('app', 'app_short'), false);
  });

  test('base62 encoding: the 20 bytes as a 27-digit number, the same as arbitrary-precision division', () => {
    const reference = (bytes: Uint8Array) => {
      let n = 0n;
      for (const b of bytes) n = (n << 8n) | BigInt(b);
      let out = '';
      for (; n > 0n; n /= 62n)
        out = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[Number(n % 62n)] + out;
      return out.padStart(27, '0');
    };
    const cases = [
      new Uint8Array(20),
      new Uint8Array(20).fill(0xff),
      Uint8Array.from({ length: 20 }, (_, i) => i),
    ];
    for (let i = 0; i < 2000; i++) cases.push(new Uint8Array(randomBytes(20)));
    for (const bytes of cases) assert.equal(encodeBase62(bytes), reference(bytes));
    assert.equal(encodeBase62(new Uint8Array(20).fill(0xff)), 'aWgEPTl1tmebfsQzFP4bxwgy80V');
  });

  test('strictly increasing within a process, and ordered by time across seconds', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const ids = createIdGenerator(() => now);
    const list = Array.from({ length: 1000 }, () => ids('message'));
    assert.deepEqual([...list].sort(), list);
    assert.equal(new Set(list).size, list.length);
    const earlier = ids('message');
    now += 1000;
    assert.ok(ids('message') > earlier);
  });

  test('the id floor of a time sorts at or below every id made then, and clamps at both ends', () => {
    const at = Date.parse('2026-01-01T00:00:00.500Z');
    const made = createIdGenerator(() => at)('attempt');
    assert.ok(idFloor('attempt', at) <= made && made < idFloor('attempt', at + 1000));
    // Before the KSUID epoch (2014) and past its last second (early 2150): no wrap-around.
    assert.equal(idFloor('attempt', 0), idFloor('attempt', Date.parse('2014-05-13T16:53:20Z')));
    assert.ok(idFloor('attempt', Date.parse('2155-06-01T00:00:00Z')) > made);
    assert.equal(
      idFloor('attempt', Date.parse('2155-06-01T00:00:00Z')),
      idFloor('attempt', Date.parse('9999-12-31T00:00:00Z')),
    );
  });
});

describe('configuration', () => {
  test('defaults, then a file, then the environment', () => {
    const dir = tempDir();
    const file = join(dir, 'hookline.json');
    writeFileSync(
      file,
      JSON.stringify({ HOOKLINE_PORT: 9000, HOOKLINE_RETRY_SCHEDULE: [1, 2], HOOKLINE_HOST: '0.0.0.0' }),
    );
    const c = loadConfig({ HOOKLINE_CONFIG: file, HOOKLINE_PORT: '9100' });
    assert.equal(c.port, 9100, 'environment beats the file');
    assert.equal(c.host, '0.0.0.0', 'the file beats the default');
    assert.deepEqual(c.delivery.retryScheduleMs, [1000, 2000]);
    assert.equal(c.databaseUrl, 'sqlite:./data/hookline.db');
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.delivery));
  });

  test("HOOKLINE_SQLITE_CACHE_MB sizes SQLite's page cache", async () => {
    assert.equal(loadConfig({}).sqliteCacheMb, 64);
    const c = loadConfig({ HOOKLINE_SQLITE_CACHE_MB: '16' });
    assert.equal(c.sqliteCacheMb, 16);
    assert.throws(() => loadConfig({ HOOKLINE_SQLITE_CACHE_MB: '0' }), ConfigError);
    const path = join(tempDir(), 'h.db');
    const conn = openSqlite({ path, cacheMb: c.sqliteCacheMb });
    try {
      // Negative: KiB.
      assert.equal(Number(conn.get('PRAGMA cache_size')?.cache_size), -16 * 1024);
    } finally {
      conn.close();
    }
  });

  test('every problem is listed in one error', () => {
    try {
      loadConfig({
        HOOKLINE_PORT: 'eighty',
        HOOKLINE_ALLOW_PRIVATE_NETWORKS: 'maybe',
        HOOKLINE_DATABASE_URL: 'mysql://x',
      });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 3);
      assert.match(err.message, /HOOKLINE_PORT="eighty" must be a whole number/);
      assert.match(err.message, /HOOKLINE_DATABASE_URL/);
    }
  });
});

describe('secrets', () => {
  const endpoint: Endpoint = {
    id: 'ep_1',
    appId: 'app_1',
    uid: null,
    url: 'https://example.com',
    description: '',
    disabled: false,
    eventTypes: null,
    channels: null,
    throttleRate: null,
    metadata: {},
    headers: {},
    secrets: [{ key: 'whsec_old', expiresAt: null }],
    svixHeaders: false,
    failingSince: null,
    timeoutMs: null,
    fifo: false,
    createdAt: 0,
    updatedAt: 0,
  };

  test('rotation keeps the old secret for the grace period only', () => {
    const now = 1_000_000;
    const rotated = rotateSecret(endpoint, null, 3600, now);
    assert.match(rotated.secrets[0]!.key, /^whsec_[A-Za-z0-9+/=]{32}$/);
    assert.equal(rotated.secrets[0]!.expiresAt, null);
    assert.deepEqual(rotated.secrets[1], { key: 'whsec_old', expiresAt: now + 3_600_000 });
    const again = rotateSecret(rotated, 'c2Vjb25kLXNlY3JldC10aGF0LWlzLWxvbmc=', 3600, now + 4_000_000);
    assert.equal(again.secrets.length, 2, 'the expired secret is dropped');
    assert.equal(again.secrets[0]!.key, 'whsec_c2Vjb25kLXNlY3JldC10aGF0LWlzLWxvbmc=');
    assert.equal(
      rotateSecret(endpoint, null, 0, now).secrets.length,
      1,
      'no grace: the old one stops at once',
    );
  });

  test('the secret box round-trips and detects tampering', () => {
    const box = createSecretBox('k');
    const sealed = box.seal('whsec_abc');
    assert.notEqual(sealed, box.seal('whsec_abc'), 'random IV');
    assert.equal(createSecretBox('k').open(sealed), 'whsec_abc');
    assert.throws(() => createSecretBox('other key').open(sealed));
  });
});

describe('routing', () => {
  const ep = { disabled: false, eventTypes: null as string[] | null, channels: null as string[] | null };
  test('event type filter, channel overlap, disabled', () => {
    assert.ok(endpointMatches(ep, 'a', null));
    assert.ok(endpointMatches(ep, 'a', ['x']), 'no channel filter: receives channelled messages too');
    assert.ok(endpointMatches({ ...ep, eventTypes: ['a'] }, 'a', null));
    assert.equal(endpointMatches({ ...ep, eventTypes: ['b'] }, 'a', null), false);
    assert.ok(endpointMatches({ ...ep, channels: ['x', 'y'] }, 'a', ['y']));
    assert.equal(endpointMatches({ ...ep, channels: ['x'] }, 'a', null), false);
    assert.equal(endpointMatches({ ...ep, disabled: true }, 'a', null), false);
  });
});
