/**
 * OpenTelemetry traces, on SQLite and on PostgreSQL, with spans caught by an in-memory exporter:
 * a publish is a child of the caller's span, each delivery attempt a child of the publish with its
 * status, the receiver gets a `traceparent` of the caller's trace, and an inbound request's
 * forward joins its receive span. Off (no OTEL_* variables), a message published without a
 * `traceparent` goes out without one, and one published with it passes it on unchanged. With
 * OTEL_EXPORTER_OTLP_ENDPOINT set, spans are POSTed to that collector.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import * as sdk from '@opentelemetry/sdk-trace';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import WebSocket from 'ws';
import { createManualClock } from '../src/core/clock.ts';
import { redactedUrl, samplerFromEnv, tracingRequested, validTraceparent } from '../src/tracing.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer, tempDir } from './helpers.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions, type TestDatabase } from './pg.ts';

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;

interface Setup {
  env: Record<string, string>;
  cleanup?: () => Promise<void>;
}

/** Parts of a traceparent header: [trace id, parent span id]. */
function parse(tp: unknown): [string, string] {
  assert.equal(typeof tp, 'string', `traceparent: ${String(tp)}`);
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(tp as string);
  assert.ok(m, `not a traceparent: ${String(tp)}`);
  return [m[1]!, m[2]!];
}

function suite(name: string, setup: () => Promise<Setup>, options: { skip?: string } = {}) {
  describe(`tracing (${name})`, options, () => {
    let s: Setup;
    let server: TestServer;
    let receiver: TestReceiver;
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const clock = createManualClock();
    let appId = '';
    const drain = () => server.hookline.dispatcher!.drain();
    const spans = (spanName: string) => exporter.getFinishedSpans().filter((x) => x.name === spanName);
    const attr = (span: ReadableSpan, key: string) => span.attributes[key];

    before(async () => {
      s = await setup();
      server = await startHookline({
        env: { ...s.env, HOOKLINE_RETRY_SCHEDULE: '1,1', HOOKLINE_RETRY_JITTER: '0' },
        clock,
        tracerProvider: provider,
      });
      receiver = await startReceiver();
      const app = await server.call('POST', '/api/v1/app', { name: 'Traced', uid: 'traced' });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      appId = app.body.id;
      const ep = await server.call('POST', '/api/v1/app/traced/endpoint', {
        url: `${receiver.url}/hook?token=secret-value`,
      });
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
    });

    after(async () => {
      await receiver?.close();
      await server?.close();
      await provider.shutdown();
      await s?.cleanup?.();
    });

    test('publish is a child of the caller; attempts are children of the publish with their status; the receiver joins the trace', async () => {
      exporter.reset();
      const seen = receiver.requests.length;
      receiver.queue({ status: 500, body: 'try again' });
      const res = await server.call(
        'POST',
        '/api/v1/app/traced/msg',
        { eventType: 'user.created', payload: { n: 1 } },
        { traceparent: CLIENT_TRACEPARENT, tracestate: 'vendor=abc' },
      );
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const msgId = res.body.id as string;

      const [publish, ...others] = spans('hookline.publish');
      assert.ok(publish, 'a publish span ended with the request');
      assert.equal(others.length, 0);
      assert.equal(publish.kind, SpanKind.SERVER);
      assert.equal(publish.spanContext().traceId, CLIENT_TRACE);
      assert.equal(publish.parentSpanContext?.spanId, CLIENT_SPAN);
      assert.equal(publish.parentSpanContext?.traceState?.get('vendor'), 'abc');
      assert.equal(attr(publish, 'hookline.msg_id'), msgId);
      assert.equal(attr(publish, 'hookline.app_id'), appId);
      assert.equal(attr(publish, 'http.response.status_code'), 202);

      // First attempt: 500. Then the retry, due a second later: 200.
      await drain();
      clock.advance(10_000);
      await drain();
      await receiver.waitFor(seen + 2);
      const attempts = spans('hookline.attempt').filter((x) => attr(x, 'hookline.msg_id') === msgId);
      assert.equal(attempts.length, 2, 'one span per attempt');
      attempts.sort((a, b) => Number(attr(a, 'hookline.attempt')) - Number(attr(b, 'hookline.attempt')));
      const [first, second] = attempts as [ReadableSpan, ReadableSpan];
      for (const a of attempts) {
        assert.equal(a.kind, SpanKind.CLIENT);
        assert.equal(a.spanContext().traceId, CLIENT_TRACE, 'the attempt is in the caller trace');
        assert.equal(a.parentSpanContext?.spanId, publish.spanContext().spanId, 'a child of the publish');
        assert.equal(attr(a, 'http.request.method'), 'POST');
        assert.equal(attr(a, 'url.full'), `${receiver.url}/hook?token=REDACTED`);
        assert.equal(typeof attr(a, 'hookline.endpoint_id'), 'string');
        assert.equal(typeof attr(a, 'hookline.attempt.duration_ms'), 'number');
      }
      assert.equal(attr(first, 'hookline.attempt'), 1);
      assert.equal(attr(first, 'http.response.status_code'), 500);
      assert.equal(attr(first, 'hookline.attempt.next'), 'retry');
      assert.equal(first.status.code, SpanStatusCode.ERROR);
      assert.equal(attr(second, 'hookline.attempt'), 2);
      assert.equal(attr(second, 'http.response.status_code'), 200);
      assert.equal(attr(second, 'hookline.attempt.next'), 'success');
      assert.notEqual(second.status.code, SpanStatusCode.ERROR);

      // Each request carried its own attempt's span as the parent, in the caller's trace.
      const got = receiver.requests.slice(seen);
      assert.equal(got.length, 2);
      got.forEach((r, i) => {
        const [traceId, parent] = parse(r.headers.traceparent);
        assert.equal(traceId, CLIENT_TRACE);
        assert.equal(parent, attempts[i]!.spanContext().spanId);
      });
    });

    test('a publish without a traceparent starts a trace of its own, which the receiver joins', async () => {
      exporter.reset();
      const seen = receiver.requests.length;
      const res = await server.call('POST', '/api/v1/app/traced/msg', {
        eventType: 'user.created',
        payload: { n: 2 },
      });
      assert.equal(res.status, 202);
      await drain();
      await receiver.waitFor(seen + 1);
      const [publish] = spans('hookline.publish');
      assert.ok(publish);
      assert.equal(publish.parentSpanContext, undefined, 'a root span');
      const [traceId] = parse(receiver.requests[seen]!.headers.traceparent);
      assert.equal(traceId, publish.spanContext().traceId);
    });

    test('a failed publish ends its span as an error', async () => {
      exporter.reset();
      const res = await server.call(
        'POST',
        '/api/v1/app/no-such-app/msg',
        { eventType: 'user.created', payload: {} },
        { traceparent: CLIENT_TRACEPARENT },
      );
      assert.equal(res.status, 404);
      const [publish] = spans('hookline.publish');
      assert.ok(publish);
      assert.equal(publish.status.code, SpanStatusCode.ERROR);
      assert.equal(attr(publish, 'error.type'), 'not_found');
      assert.equal(attr(publish, 'http.response.status_code'), 404);
    });

    test('a hookline listen client gets the traceparent of its attempt span, which ends with its answer', async () => {
      exporter.reset();
      const ep = await server.call('POST', '/api/v1/app/traced/endpoint', {
        url: 'http://127.0.0.1:9/local',
        kind: 'listen',
      });
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
      const ws = new WebSocket(
        `${server.url.replace('http', 'ws')}/api/v1/app/traced/endpoint/${ep.body.id}/listen`,
        { headers: { authorization: `Bearer ${server.token}` } },
      );
      try {
        const delivery = new Promise<Record<string, any>>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no delivery on the listen stream')), 15_000);
          ws.on('message', (data) => {
            const m = JSON.parse(String(data)) as Record<string, any>;
            if (m.type === 'hello') {
              // Only once the session is open: the message is published now.
              void server.call(
                'POST',
                '/api/v1/app/traced/msg',
                { eventType: 'local.test', payload: { n: 3 } },
                { traceparent: CLIENT_TRACEPARENT },
              );
            }
            if (m.type === 'delivery') {
              clearTimeout(timer);
              resolve(m);
            }
          });
          ws.on('error', reject);
        });
        const d = await delivery;
        const [traceId, parent] = parse(d.headers.traceparent);
        assert.equal(traceId, CLIENT_TRACE);
        ws.send(
          JSON.stringify({ type: 'result', deliveryId: d.deliveryId, status: 204, durationMs: 2, body: '' }),
        );
        let attempt: ReadableSpan | undefined;
        for (let i = 0; i < 500 && !attempt; i++) {
          // The application's other endpoints get the message too: this endpoint's attempt.
          attempt = spans('hookline.attempt').find(
            (x) => attr(x, 'hookline.msg_id') === d.msgId && attr(x, 'hookline.endpoint_id') === ep.body.id,
          );
          if (!attempt) await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(attempt, 'the listen attempt span ended');
        assert.equal(attempt.spanContext().spanId, parent);
        assert.equal(attr(attempt, 'http.response.status_code'), 204);
        const [publish] = spans('hookline.publish');
        assert.equal(attempt.parentSpanContext?.spanId, publish?.spanContext().spanId);
      } finally {
        ws.close();
      }
    });

    test('inbound: receive to stored is a span; the forward attempt is its child and the application joins the trace', async () => {
      exporter.reset();
      const dest = await startReceiver();
      try {
        const created = await server.call('POST', '/api/v1/source', {
          name: 'traced-in',
          verification: { scheme: 'none' },
          destinations: [{ url: `${dest.url}/fwd` }],
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const res = await fetch(`${server.url}/in/traced-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', traceparent: CLIENT_TRACEPARENT },
          body: JSON.stringify({ hello: 'world' }),
        });
        assert.equal(res.status, 200);
        const { id } = (await res.json()) as { id: string };
        const [inbound] = spans('hookline.inbound');
        assert.ok(inbound, 'an inbound span ended with the request');
        assert.equal(inbound.spanContext().traceId, CLIENT_TRACE);
        assert.equal(inbound.parentSpanContext?.spanId, CLIENT_SPAN);
        assert.equal(attr(inbound, 'hookline.msg_id'), id);
        assert.equal(attr(inbound, 'hookline.inbound.status'), 'accepted');
        assert.equal(attr(inbound, 'http.response.status_code'), 200);

        await drain();
        await dest.waitFor(1);
        const [forward] = spans('hookline.attempt').filter((x) => attr(x, 'hookline.msg_id') === id);
        assert.ok(forward, 'a span for the forward');
        assert.equal(forward.parentSpanContext?.spanId, inbound.spanContext().spanId);
        assert.equal(attr(forward, 'http.response.status_code'), 200);
        // The provider's traceparent is replaced by the forward's own.
        const [traceId, parent] = parse(dest.requests[0]!.headers.traceparent);
        assert.equal(traceId, CLIENT_TRACE);
        assert.equal(parent, forward.spanContext().spanId);
      } finally {
        await dest.close();
      }
    });
  });

  describe(`tracing off (${name})`, options, () => {
    let s: Setup;
    let server: TestServer;
    let receiver: TestReceiver;

    before(async () => {
      s = await setup();
      server = await startHookline({ env: s.env });
      receiver = await startReceiver();
      await server.call('POST', '/api/v1/app', { name: 'Plain', uid: 'plain' });
      const ep = await server.call('POST', '/api/v1/app/plain/endpoint', { url: `${receiver.url}/hook` });
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
    });

    after(async () => {
      await receiver?.close();
      await server?.close();
      await s?.cleanup?.();
    });

    test('no traceparent is added to a message published without one; one published with it is passed on unchanged', async () => {
      assert.equal(server.hookline.config.role, 'all');
      const plain = await server.call('POST', '/api/v1/app/plain/msg', { eventType: 'a.b', payload: {} });
      assert.equal(plain.status, 202);
      await server.hookline.dispatcher!.drain();
      await receiver.waitFor(1);
      assert.equal(receiver.requests[0]!.headers.traceparent, undefined);

      const traced = await server.call(
        'POST',
        '/api/v1/app/plain/msg',
        { eventType: 'a.b', payload: {} },
        { traceparent: CLIENT_TRACEPARENT },
      );
      assert.equal(traced.status, 202);
      await server.hookline.dispatcher!.drain();
      await receiver.waitFor(2);
      assert.equal(receiver.requests[1]!.headers.traceparent, CLIENT_TRACEPARENT);

      // Junk is not stored or passed on.
      const junk = await server.call(
        'POST',
        '/api/v1/app/plain/msg',
        { eventType: 'a.b', payload: {} },
        { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' },
      );
      assert.equal(junk.status, 202);
      await server.hookline.dispatcher!.drain();
      await receiver.waitFor(3);
      assert.equal(receiver.requests[2]!.headers.traceparent, undefined);
    });
  });
}

suite('sqlite', async () => ({ env: { HOOKLINE_DATABASE_URL: `sqlite:${tempDir()}/hookline.db` } }));

suite(
  'postgres',
  async () => {
    const db: TestDatabase = await createTestDatabase('tracing');
    return {
      env: { HOOKLINE_DATABASE_URL: db.url, HOOKLINE_SECRET_KEY: PG_SECRET_KEY },
      cleanup: () => db.drop(),
    };
  },
  await pgTestOptions(),
);

describe('OTLP export', () => {
  test('with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are POSTed to the collector', async () => {
    const posts: { url: string; contentType: string; body: Buffer }[] = [];
    let arrived: () => void = () => {};
    const got = new Promise<void>((r) => {
      arrived = r;
    });
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push({
          url: req.url ?? '',
          contentType: String(req.headers['content-type']),
          body: Buffer.concat(chunks),
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        arrived();
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const names = [
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      'OTEL_SERVICE_NAME',
      'OTEL_SDK_DISABLED',
    ];
    const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    process.env.OTEL_SERVICE_NAME = 'hookline-under-test';
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    delete process.env.OTEL_SDK_DISABLED;
    let server: TestServer | null = null;
    try {
      server = await startHookline();
      await server.call('POST', '/api/v1/app', { name: 'Exported', uid: 'exported' });
      const res = await server.call(
        'POST',
        '/api/v1/app/exported/msg',
        { eventType: 'a.b', payload: {} },
        { traceparent: CLIENT_TRACEPARENT },
      );
      assert.equal(res.status, 202);
      // Closing flushes what the batch processor holds; the collector must have it by then.
      await server.close();
      server = null;
      await Promise.race([
        got,
        new Promise((_, reject) => setTimeout(() => reject(new Error('no OTLP request arrived')), 10_000)),
      ]);
      assert.ok(posts.length >= 1);
      assert.equal(posts[0]!.url, '/v1/traces');
      const text = posts.map((p) => p.body.toString('latin1')).join('\n');
      assert.ok(text.includes('hookline.publish'), 'the publish span was exported');
      assert.ok(text.includes('hookline-under-test'), 'with OTEL_SERVICE_NAME as service.name');
    } finally {
      await server?.close();
      for (const n of names) {
        if (saved[n] === undefined) delete process.env[n];
        else process.env[n] = saved[n];
      }
      collector.closeAllConnections();
      await new Promise((r) => collector.close(r));
    }
  });
});

test('helpers: sampler from OTEL_TRACES_SAMPLER, tracing requested by the OTLP endpoint variables', () => {
  assert.match(samplerFromEnv(sdk, {}).toString(), /^ParentBased\{root=AlwaysOnSampler/);
  assert.equal(samplerFromEnv(sdk, { OTEL_TRACES_SAMPLER: 'always_off' }).toString(), 'AlwaysOffSampler');
  assert.match(
    samplerFromEnv(sdk, {
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    }).toString(),
    /^ParentBased\{root=TraceIdRatioBased\{0.25\}/,
  );
  assert.equal(tracingRequested({}), false);
  assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true);
  assert.equal(
    tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }),
    true,
  );
  assert.equal(
    tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }),
    false,
  );
});

test('helpers: traceparent validation and URL redaction', () => {
  assert.equal(validTraceparent(CLIENT_TRACEPARENT), CLIENT_TRACEPARENT);
  assert.equal(validTraceparent('nonsense'), null);
  assert.equal(validTraceparent([CLIENT_TRACEPARENT, CLIENT_TRACEPARENT]), null);
  assert.equal(validTraceparent(`00-${CLIENT_TRACE}-0000000000000000-01`), null);
  assert.equal(
    redactedUrl('https://user:pw@example.com:8443/a/b?token=x&y=2#frag'),
    'https://example.com:8443/a/b?token=REDACTED&y=REDACTED',
  );
});
