/**
 * Message tokens (`POST /api/v1/auth/app/{app}/create-message-token`, Svix's createMessageToken):
 * a token that may publish messages to one application and do nothing else. The svix npm client
 * has no method for the call itself (its shape is Svix's CreateTokenIn / ApiTokenOut), so it is
 * made over HTTP; the token is then used through the official client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiException, Svix } from 'svix';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';

function apiError(status: number, code?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
    assert.equal(err.code, status);
    if (code !== undefined) assert.equal((err.body as { code: string }).code, code);
    return true;
  };
}

describe('message tokens', () => {
  let server: TestServer;
  let receiver: TestReceiver;
  let admin: Svix;
  let token: string;
  let client: Svix;

  before(async () => {
    server = await startHookline();
    receiver = await startReceiver();
    admin = new Svix(server.token, { serverUrl: server.url });
    await admin.application.create({ name: 'Shop', uid: 'shop' });
    await admin.application.create({ name: 'Other', uid: 'other' });
    await admin.eventType.create({ name: 'order.paid', description: 'An order was paid' });
    await admin.endpoint.create('shop', { url: receiver.url, uid: 'ep' });
    const r = await server.call('POST', '/api/v1/auth/app/shop/create-message-token', {
      name: 'billing service',
      expiry: 3600,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    token = r.body.token;
    client = new Svix(token, { serverUrl: server.url });
  });
  after(async () => {
    await server?.close();
    await receiver?.close();
  });

  test("answers Svix's ApiTokenOut", async () => {
    const r = await server.call('POST', '/api/v1/auth/app/shop/create-message-token', { name: 'ci' });
    assert.equal(r.status, 201);
    assert.deepEqual(Object.keys(r.body).sort(), ['createdAt', 'expiresAt', 'id', 'name', 'scopes', 'token']);
    assert.equal(r.body.name, 'ci');
    assert.deepEqual(r.body.scopes, ['message.create']);
    assert.match(r.body.token, /^hl_app_/);
    // Without an expiry, a year.
    const life = Date.parse(r.body.expiresAt) - Date.parse(r.body.createdAt);
    assert.equal(life, 365 * 86_400_000);
  });

  test('publishes to its application through the svix client, and the message is delivered', async () => {
    const m = await client.message.create('shop', { eventType: 'order.paid', payload: { id: 42 } });
    assert.match(m.id, /^msg_/);
    await receiver.waitFor(1);
    assert.equal(JSON.parse(receiver.requests[0]!.body.toString()).id, 42);
    // The admin sees it; the token made it.
    const back = await server.call('GET', `/api/v1/app/shop/msg/${m.id}`);
    assert.deepEqual(back.body.payload, { id: 42 });
  });

  test('cannot publish to another application, read anything or make admin calls', async () => {
    await assert.rejects(
      client.message.create('other', { eventType: 'order.paid', payload: {} }),
      apiError(403, 'insufficient_access'),
    );
    await assert.rejects(client.message.list('shop'), apiError(403, 'insufficient_access'));
    await assert.rejects(client.endpoint.list('shop'), apiError(403, 'insufficient_access'));
    await assert.rejects(client.application.get('shop'), apiError(403, 'insufficient_access'));
    await assert.rejects(client.application.get('other'), apiError(403, 'insufficient_access'));
    await assert.rejects(client.application.list(), apiError(403, 'insufficient_access'));
    await assert.rejects(client.eventType.list(), apiError(403, 'insufficient_access'));
    await assert.rejects(
      client.endpoint.create('shop', { url: 'https://example.com/hook' }),
      apiError(403, 'insufficient_access'),
    );
    await assert.rejects(
      client.authentication.appPortalAccess('shop', {}),
      apiError(403, 'insufficient_access'),
    );
    const more = await server.call(
      'POST',
      '/api/v1/auth/app/shop/create-message-token',
      { name: 'x' },
      { authorization: `Bearer ${token}` },
    );
    assert.equal(more.status, 403);
    assert.equal(more.body.code, 'insufficient_access');
  });

  test('a portal token cannot make message tokens', async () => {
    const portal = await admin.authentication.appPortalAccess('shop', {});
    const r = await server.call(
      'POST',
      '/api/v1/auth/app/shop/create-message-token',
      { name: 'x' },
      { authorization: `Bearer ${portal.token}` },
    );
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'insufficient_access');
  });

  test('bad requests get coded errors; an unknown application is 404', async () => {
    for (const body of [{}, { name: '' }, { name: 'x', expiry: 0 }, { name: 'x', expiry: 366 * 86_400 }]) {
      const r = await server.call('POST', '/api/v1/auth/app/shop/create-message-token', body);
      assert.equal(r.status, 422, JSON.stringify(body));
      assert.ok(Array.isArray(r.body.detail) && r.body.detail.length > 0);
    }
    const r = await server.call('POST', '/api/v1/auth/app/nope/create-message-token', { name: 'x' });
    assert.equal(r.status, 404);
    assert.equal(r.body.code, 'not_found');
  });

  test('/openapi.json documents the call', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const op = doc.paths['/api/v1/auth/app/{app_id}/create-message-token']?.post;
    assert.ok(op, 'create-message-token is documented');
    assert.ok(op.responses['201']);
  });

  test('whoami names its application; logout revokes it; expire-all ends it', async () => {
    const who = await server.call('GET', '/api/v1/auth/whoami', undefined, {
      authorization: `Bearer ${token}`,
    });
    assert.equal(who.status, 200);
    assert.equal(who.body.appId, (await admin.application.get('shop')).id);
    const r = await server.call('POST', '/api/v1/auth/app/shop/create-message-token', { name: 'short' });
    const short = new Svix(r.body.token, { serverUrl: server.url });
    await short.authentication.logout();
    await assert.rejects(
      short.message.create('shop', { eventType: 'order.paid', payload: {} }),
      apiError(401, 'authentication_failed'),
    );
    await admin.authentication.expireAll('shop', {});
    await assert.rejects(
      client.message.create('shop', { eventType: 'order.paid', payload: {} }),
      apiError(401, 'authentication_failed'),
    );
  });
});
