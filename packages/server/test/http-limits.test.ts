/**
 * What a client may send before any route runs (issue 13, items 4, 7 and 8): a request that
 * trickles in is cut with a coded 408 (a WebSocket stream is not), JSON nested too deeply is
 * refused with a coded 400 on every route, and a date-time that is no instant (a leap second)
 * is a 422 on every route that takes one, on both stores.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { jsonNestedDeeperThan, MAX_JSON_DEPTH } from '../src/api/http-limits.ts';
import { loadConfig } from '../src/config.ts';
import { startHookline, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

/** What a raw socket got back before the server closed it (or `timeoutMs` passed). */
interface RawExchange {
  text: string;
  closedByServer: boolean;
}

/**
 * Opens a socket, writes `head`, then one byte of `drip` every `everyMs` for as long as the
 * server keeps the socket open (at most `timeoutMs`).
 */
function trickle(url: string, head: string, drip: string, everyMs: number, timeoutMs: number) {
  const { hostname, port } = new URL(url);
  return new Promise<RawExchange>((resolve) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closedByServer: boolean) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ text, closedByServer });
    };
    const giveUp = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (c) => {
      text += c.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (socket.writable) socket.write(drip[i++ % drip.length]!);
      }, everyMs);
    });
  });
}

describe('request timeouts', () => {
  let server: TestServer;
  before(async () => {
    server = await startHookline({
      env: {
        HOOKLINE_REQUEST_TIMEOUT: '1',
        HOOKLINE_HEADERS_TIMEOUT: '1',
        HOOKLINE_KEEP_ALIVE_TIMEOUT: '1',
      },
    });
    const src = await server.call('POST', '/api/v1/source', {
      name: 'gh',
      verification: { scheme: 'github', secrets: ['gh-secret'] },
      destinations: [{ url: 'http://127.0.0.1:9/hook' }],
    });
    assert.equal(src.status, 201, JSON.stringify(src.body));
  });
  after(() => server.close());

  test('a body trickled to /in/{source} is cut with a coded 408 and the socket closed', async () => {
    const got = await trickle(
      server.url,
      'POST /in/gh HTTP/1.1\r\nHost: hookline\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{',
      ' ',
      100,
      15_000,
    );
    assert.equal(got.closedByServer, true, 'the server closed the socket');
    assert.match(got.text, /^HTTP\/1\.1 408 /);
    const body = JSON.parse(got.text.slice(got.text.indexOf('\r\n\r\n') + 4));
    assert.equal(body.code, 'request_timeout');
    assert.match(body.detail, /buffering proxy/);
  });

  test('headers trickled one byte at a time are cut with a coded 408', async () => {
    const got = await trickle(
      server.url,
      'GET /health HTTP/1.1\r\nHost: hookline\r\n',
      'X-Slow: a\r\n',
      100,
      15_000,
    );
    assert.equal(got.closedByServer, true);
    assert.match(got.text, /^HTTP\/1\.1 408 /);
    assert.match(got.text, /"code":"request_timeout"/);
  });

  test('an idle keep-alive connection is closed after HOOKLINE_KEEP_ALIVE_TIMEOUT', async () => {
    // One complete request, then silence: the server answers, then closes the idle socket.
    const got = await trickle(
      server.url,
      'GET /health HTTP/1.1\r\nHost: hookline\r\n\r\n',
      '',
      60_000,
      15_000,
    );
    assert.match(got.text, /^HTTP\/1\.1 200 /);
    assert.equal(got.closedByServer, true, 'the idle connection was closed');
  });

  test('a listen WebSocket outlives the request and idle timeouts', async () => {
    await server.call('POST', '/api/v1/app', { name: 'Dev', uid: 'dev' });
    const ep = await server.call('POST', '/api/v1/app/dev/endpoint', {
      url: 'http://localhost:3000/hook',
      kind: 'listen',
    });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    const ws = new WebSocket(
      `${server.url.replace('http', 'ws')}/api/v1/app/dev/endpoint/${ep.body.id}/listen`,
      {
        headers: { authorization: `Bearer ${server.token}` },
      },
    );
    const messages: any[] = [];
    const waitFor = (type: string) =>
      new Promise<any>((resolve, reject) => {
        const found = messages.find((m) => m.type === type);
        if (found) return resolve(found);
        const onMessage = (data: Buffer) => {
          const m = JSON.parse(data.toString());
          if (m.type === type) {
            ws.off('message', onMessage);
            resolve(m);
          }
        };
        ws.on('message', onMessage);
        ws.once('close', () => reject(new Error(`the stream closed before a ${type} message`)));
      });
    ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString())));
    try {
      await waitFor('hello');
      // Well past the 1 s request, headers and keep-alive timeouts (and Node's checks of them).
      await new Promise((r) => setTimeout(r, 3_000));
      assert.equal(ws.readyState, WebSocket.OPEN, 'the stream is still open');
      const msg = await server.call('POST', '/api/v1/app/dev/msg', { eventType: 'x', payload: { n: 1 } });
      assert.equal(msg.status, 202);
      const delivery = await waitFor('delivery');
      assert.equal(delivery.msgId, msg.body.id);
    } finally {
      ws.terminate();
    }
  });

  test('the timeouts are configuration, checked at start', () => {
    const defaults = loadConfig({});
    assert.deepEqual(defaults.http, {
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 72_000,
    });
    assert.throws(
      () => loadConfig({ HOOKLINE_REQUEST_TIMEOUT: '5', HOOKLINE_HEADERS_TIMEOUT: '10' }),
      /HOOKLINE_HEADERS_TIMEOUT \(10 s\) must not be longer than HOOKLINE_REQUEST_TIMEOUT \(5 s\)/,
    );
    assert.throws(
      () => loadConfig({ HOOKLINE_REQUEST_TIMEOUT: '0' }),
      /HOOKLINE_REQUEST_TIMEOUT="0" must be a number of seconds/,
    );
    assert.throws(() => loadConfig({ HOOKLINE_KEEP_ALIVE_TIMEOUT: 'soon' }), /HOOKLINE_KEEP_ALIVE_TIMEOUT/);
  });
});

test('the nesting check counts arrays and objects, not brackets inside strings', () => {
  assert.equal(jsonNestedDeeperThan('{"a":[1,{"b":2}]}', 3), false);
  assert.equal(jsonNestedDeeperThan('{"a":[1,{"b":2}]}', 2), true);
  assert.equal(jsonNestedDeeperThan(`{"s":"${'['.repeat(500)}\\"{{{"}`, 1), false);
  assert.equal(
    jsonNestedDeeperThan('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH), MAX_JSON_DEPTH),
    false,
  );
});

for (const kind of await testStores()) {
  describe(`bad input before the routes (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    let endpointId: string;
    let sourceId: string;
    before(async () => {
      db = await kind.open('limits');
      server = await startHookline({ env: db.env });
      await server.call('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' });
      endpointId = (
        await server.call('POST', '/api/v1/app/acme/endpoint', { url: 'http://127.0.0.1:9/hook' })
      ).body.id;
      const src = await server.call('POST', '/api/v1/source', {
        name: 'gh',
        verification: { scheme: 'github', secrets: ['gh-secret'] },
        destinations: [{ url: 'http://127.0.0.1:9/hook' }],
      });
      sourceId = src.body.id;
    });
    after(async () => {
      await server.close();
      await db?.drop();
    });

    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

    test('JSON nested too deeply: 400 json_too_deep on every route, nothing stored', async () => {
      const tooDeep = deep(5_000);
      const cases: [string, string, string][] = [
        ['POST', '/api/v1/app/acme/msg', `{"eventType":"x","payload":{"a":${tooDeep}}}`],
        ['POST', '/api/v1/event-type', `{"name":"deep","description":"d","schemas":{"1":{"a":${tooDeep}}}}`],
        [
          'POST',
          '/api/v1/app/acme/endpoint',
          `{"url":"https://chat.example.com/x","kind":"slack","template":{"text":${tooDeep}}}`,
        ],
        ['PATCH', `/api/v1/source/${sourceId}`, `{"handshake":{"discordResponse":{"data":${tooDeep}}}}`],
        ['POST', '/api/v1/app', `{"name":"N","metadata":{"a":${tooDeep}}}`],
      ];
      for (const [method, path, body] of cases) {
        const r = await server.call(method, path, body);
        assert.equal(r.status, 400, `${method} ${path}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.code, 'json_too_deep');
        assert.match(r.body.detail, /128 levels/);
      }
      const msgs = await server.call('GET', '/api/v1/app/acme/msg');
      assert.equal(msgs.body.data.length, 0, 'no message was stored');
      // Nesting up to the limit is fine (the body and the payload are two of the levels).
      const ok = await server.call(
        'POST',
        '/api/v1/app/acme/msg',
        `{"eventType":"x","payload":{"a":${deep(MAX_JSON_DEPTH - 2)}}}`,
      );
      assert.equal(ok.status, 202, JSON.stringify(ok.body));
    });

    test('a leap second is a 422, not a 500, wherever a date-time is taken', async () => {
      const leap = '2026-12-31T23:59:60Z';
      const q = encodeURIComponent(leap);
      const cases: [string, string, unknown?][] = [
        ['POST', '/api/v1/app/acme/msg', { eventType: 'x', payload: {}, deliverAt: leap }],
        ['GET', `/api/v1/app/acme/msg?before=${q}`],
        ['GET', `/api/v1/app/acme/msg?after=${q}`],
        ['GET', `/api/v1/app/acme/attempt/endpoint/${endpointId}?before=${q}`],
        ['GET', `/api/v1/app/acme/endpoint/${endpointId}/stats?since=${q}`],
        ['GET', `/api/v1/app/acme/endpoint/${endpointId}/stats/series?until=${q}`],
        ['POST', `/api/v1/app/acme/endpoint/${endpointId}/recover`, { since: leap }],
        ['GET', `/api/v1/source/${sourceId}/event?after=${q}`],
      ];
      for (const [method, path, body] of cases) {
        const r = await server.call(method, path, body);
        assert.equal(r.status, 422, `${method} ${path}: ${JSON.stringify(r.body)}`);
        assert.match(JSON.stringify(r.body.detail), /date-time/);
      }
      // An ordinary date-time still works.
      const ok = await server.call(
        'GET',
        `/api/v1/app/acme/msg?before=${encodeURIComponent('2026-12-31T23:59:59Z')}`,
      );
      assert.equal(ok.status, 200);
    });
  });
}
