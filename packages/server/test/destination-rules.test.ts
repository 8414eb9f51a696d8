/**
 * Endpoints and source destinations are both places Hookline sends to, and one module
 * (api/destination-rules.ts) holds the rules they share: the same bad destination is refused with
 * the same message by `POST /app/{app}/endpoint` and by `POST /source`, each under its own `loc`.
 * Validation happens before anything is stored, so one store is enough here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHookline, type TestServer } from './helpers.ts';

interface Issue {
  loc: (string | number)[];
  msg: string;
}

describe('destination rules shared by endpoints and sources', () => {
  let server: TestServer; // private networks allowed (the test default)
  let strict: TestServer; // private networks refused
  before(async () => {
    server = await startHookline();
    strict = await startHookline({ env: { HOOKLINE_ALLOW_PRIVATE_NETWORKS: 'false' } });
    for (const s of [server, strict]) {
      assert.equal((await s.call('POST', '/api/v1/app', { name: 'A', uid: 'rules' })).status, 201);
    }
  });
  after(async () => {
    await server?.close();
    await strict?.close();
  });

  /** The issues of an endpoint and of a one-destination source with `destination`'s fields. */
  async function bothRefuse(s: TestServer, destination: Record<string, unknown>) {
    const ep = await s.call('POST', '/api/v1/app/rules/endpoint', destination);
    const src = await s.call('POST', '/api/v1/source', {
      name: `rules-${Math.random().toString(36).slice(2, 8)}`,
      verification: { scheme: 'none' },
      destinations: [destination],
    });
    assert.equal(ep.status, 422, JSON.stringify(ep.body));
    assert.equal(src.status, 422, JSON.stringify(src.body));
    const epIssues = (ep.body.detail as Issue[]).map((d) => ({ loc: d.loc.slice(1), msg: d.msg }));
    const srcIssues = (src.body.detail as Issue[]).map((d) => {
      assert.deepEqual(d.loc.slice(0, 3), ['body', 'destinations', 0]);
      return { loc: d.loc.slice(3), msg: d.msg };
    });
    assert.deepEqual(srcIssues, epIssues);
    return epIssues;
  }

  test('a chat destination needs https', async () => {
    const issues = await bothRefuse(strict, { url: 'http://hooks.example.com/x', kind: 'slack' });
    assert.deepEqual(issues[0]!.loc, ['url']);
    assert.match(issues[0]!.msg, /slack destination must use https/);
  });

  test('a private address is refused unless private networks are allowed', async () => {
    const issues = await bothRefuse(strict, { url: 'http://127.0.0.1:9/hook' });
    assert.deepEqual(issues[0]!.loc, ['url']);
    assert.match(issues[0]!.msg, /HOOKLINE_ALLOW_PRIVATE_NETWORKS/);
  });

  test('headers Hookline sets cannot be overridden', async () => {
    const issues = await bothRefuse(server, {
      url: 'http://127.0.0.1:9/hook',
      headers: { 'Webhook-Signature': 'v1,forged', 'x-team': 'ok' },
    });
    assert.deepEqual(issues, [
      {
        loc: ['headers', 'Webhook-Signature'],
        msg: 'header "Webhook-Signature" is set by Hookline and cannot be overridden',
      },
    ]);
  });

  test('templates belong to chat destinations and must parse', async () => {
    const onHttp = await bothRefuse(server, { url: 'http://127.0.0.1:9/hook', template: { text: 'hi' } });
    assert.deepEqual(onHttp[0]!.loc, ['template']);
    const broken = await bothRefuse(server, {
      url: 'https://hooks.example.com/x',
      kind: 'discord',
      template: { content: '{{ unclosed' },
    });
    assert.equal(broken[0]!.loc[0], 'template');
    assert.match(broken[0]!.msg, /^template /);
  });
});
