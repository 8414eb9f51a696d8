/**
 * Bugs the fuzz tests (fuzz-api, fuzz-inbound) found, each pinned by the request that showed it,
 * on both stores.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertCodedError, documentedCodes } from './fuzz-kit.ts';
import { startHookline, type TestServer } from './helpers.ts';
import { testStores } from './pg.ts';

const codes = documentedCodes();

for (const store of await testStores()) {
  describe(`fuzz findings on ${store.name}`, store.options, () => {
    let server: TestServer;
    let drop: () => Promise<void> = async () => {};
    before(async () => {
      const db = await store.open('fuzzreg');
      drop = db.drop;
      server = await startHookline({ env: db.env });
      await server.call('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' });
    });
    after(async () => {
      await server?.close();
      await drop();
    });

    const raw = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
      const res = await fetch(server.url + path, {
        method,
        headers: {
          authorization: `Bearer ${server.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body } : {}),
      });
      return { status: res.status, text: await res.text() };
    };

    test("a path that cannot be percent-decoded: 400 generic_error, not Fastify's own body", async () => {
      for (const path of ['/api/v1/app/%', '/api/v1/app/%zz/endpoint', '/in/%']) {
        const r = await raw('GET', path);
        assert.equal(r.status, 400, r.text);
        assertCodedError(r.status, r.text, codes, path);
        assert.equal(JSON.parse(r.text).code, 'generic_error');
      }
    });
  });
}
