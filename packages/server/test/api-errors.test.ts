/**
 * Bad input gets a clear, coded error — never a 500 or a stack trace — and nothing accepted
 * before it is lost.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ERRORS } from '../src/core/errors.ts';
import { startHookline, type TestServer } from './helpers.ts';

describe('errors', () => {
  let server: TestServer;
  before(async () => {
    server = await startHookline({ env: { HOOKLINE_MAX_PAYLOAD_BYTES: '4096' } });
    await server.call('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' });
    await server.call('POST', '/api/v1/event-type', { name: 'invoice.paid', description: 'Paid' });
  });
  after(() => server.close());

  const raw = (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json', ...headers },
      body,
    }).then(async (r) => ({ status: r.status, text: await r.text() }));

  test('missing or wrong token: 401 authentication_failed', async () => {
    const none = await fetch(`${server.url}/api/v1/app`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as any).code, 'authentication_failed');
    const wrong = await server.call('GET', '/api/v1/app', undefined, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(Object.keys(wrong.body).sort(), ['code', 'detail']);
  });

  test('malformed JSON: 400 generic_error', async () => {
    const r = await raw('POST', '/api/v1/app/acme/msg', '{"eventType": "invoice.paid", "payload": {');
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.text).code, 'generic_error');
    assert.doesNotMatch(r.text, /at .*\.ts:\d+/, 'no stack trace');
  });

  test('wrong types and missing fields: 422 with one entry per problem', async () => {
    const r = await server.call('POST', '/api/v1/app/acme/msg', { eventType: 42, payload: 'text' });
    assert.equal(r.status, 422);
    const locs = r.body.detail.map((d: any) => d.loc.join('.'));
    assert.ok(locs.includes('body.eventType'), locs.join());
    assert.ok(locs.includes('body.payload'), locs.join());
    const missing = await server.call('POST', '/api/v1/app', {});
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.body.detail[0].loc, ['body', 'name']);
    assert.equal(missing.body.detail[0].type, 'value_error.missing');
  });

  test('oversized body: 413 naming the limit', async () => {
    const r = await server.call('POST', '/api/v1/app/acme/msg', {
      eventType: 'invoice.paid',
      payload: { blob: 'x'.repeat(10_000) },
    });
    assert.equal(r.status, 413);
    assert.equal(r.body.code, 'payload_too_large');
    assert.match(r.body.detail, /4096/);
  });

  test('unknown event type on an endpoint, invalid and private URLs: 422', async () => {
    const unknownType = await server.call('POST', '/api/v1/app/acme/endpoint', {
      url: 'https://example.com/hook',
      eventTypes: ['invoice.paid', 'no.such.type'],
    });
    assert.equal(unknownType.status, 422);
    assert.deepEqual(unknownType.body.detail[0].loc, ['body', 'eventTypes', 1]);
    const badUrl = await server.call('POST', '/api/v1/app/acme/endpoint', { url: 'not a url' });
    assert.equal(badUrl.status, 422);
    const ftp = await server.call('POST', '/api/v1/app/acme/endpoint', { url: 'ftp://example.com/x' });
    assert.equal(ftp.status, 422);
    assert.match(ftp.body.detail[0].msg, /http or https/);
  });

  test('duplicate uid and eventId: 409 conflict; duplicate event type: 409 event_type_exists', async () => {
    const dupApp = await server.call('POST', '/api/v1/app', { name: 'Again', uid: 'acme' });
    assert.equal(dupApp.status, 409);
    assert.equal(dupApp.body.code, 'conflict');
    const first = await server.call('POST', '/api/v1/app/acme/msg', {
      eventType: 'invoice.paid',
      payload: {},
      eventId: 'evt-1',
    });
    assert.equal(first.status, 202);
    const second = await server.call('POST', '/api/v1/app/acme/msg', {
      eventType: 'invoice.paid',
      payload: {},
      eventId: 'evt-1',
    });
    assert.equal(second.status, 409);
    assert.equal(second.body.code, 'conflict');
    const dupType = await server.call('POST', '/api/v1/event-type', {
      name: 'invoice.paid',
      description: 'x',
    });
    assert.equal(dupType.status, 409);
    assert.equal(dupType.body.code, 'event_type_exists');
  });

  test('unknown things: 404 not_found', async () => {
    for (const path of ['/api/v1/app/nope', '/api/v1/app/acme/msg/msg_nope', '/api/v1/nothing/here']) {
      const r = await server.call('GET', path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.code, 'not_found', path);
    }
  });

  test('hostile bodies on every POST route never produce a 500', async () => {
    const bodies = [
      'null',
      '[]',
      '"x"',
      '0',
      '{"name": null}',
      '{"__proto__": {"polluted": true}, "name": "x"}',
      `{"name": "${'a'.repeat(300)}"}`,
      '{"url": "http://[::1', // truncated
      '{"eventType": "a b", "payload": {}}',
      '{"eventType": "x", "payload": {}, "channels": []}',
      '{"since": "yesterday"}',
      '\u0000\u0001',
    ];
    const paths = [
      '/api/v1/app',
      '/api/v1/app/acme/endpoint',
      '/api/v1/app/acme/msg',
      '/api/v1/event-type',
      '/api/v1/app/acme/endpoint/ep_nope/recover',
    ];
    for (const path of paths) {
      for (const body of bodies) {
        const r = await raw('POST', path, body);
        assert.ok(r.status >= 400 && r.status < 500, `${path} ${body} -> ${r.status} ${r.text}`);
        const parsed = JSON.parse(r.text);
        assert.ok(
          typeof parsed.code === 'string' || Array.isArray(parsed.detail),
          `coded error for ${path} ${body}: ${r.text}`,
        );
      }
    }
    assert.equal(({} as any).polluted, undefined);
    const list = await server.call('GET', '/api/v1/app/acme/msg');
    assert.equal(list.body.data.length, 1, 'the one accepted message is still there');
  });

  test('every error code is documented in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    for (const [code, { status }] of Object.entries(ERRORS)) {
      assert.match(
        doc,
        new RegExp(`\\| \`${code}\` \\| ${status} \\|`),
        `docs/errors.md lists ${code} (${status})`,
      );
    }
  });
});
