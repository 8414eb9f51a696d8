/**
 * The client commands of `hookline` (send, trigger, tail, replay) against a real server on a
 * real socket. `trigger` output is checked with each provider's own library (acceptance 3 of
 * issue 5): `stripe`, `@octokit/webhooks-methods` and `standardwebhooks`; Shopify and Slack
 * publish no verification library, so their documented algorithms are checked through
 * @hookline/receiver's `verify`.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  generateDiscordKeyPair,
  parseSalesforceOutboundMessage,
  verify as verifyReceiver,
} from '@hookline/receiver';
import { verify as verifyGithub } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { run } from '../src/cli/main.ts';
import { MIN_NODE, supportedNode } from '../src/cli/node-version.ts';
import { colorsFor, type Io } from '../src/cli/shared.ts';
import { ADMIN_TOKEN, type HooklineChild, spawnHookline } from './child.ts';
import {
  headersOf,
  startHookline,
  startReceiver,
  type TestReceiver,
  type TestServer,
  tempDir,
} from './helpers.ts';

interface Captured {
  io: Io;
  out: string[];
  err: string[];
  /** Progress lines drawn (only when `tty`). */
  status: string[];
  abort(): void;
}

function capture(
  options: { json?: boolean; stdin?: string; env?: Record<string, string>; tty?: boolean } = {},
): Captured {
  const status: string[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const controller = new AbortController();
  const stdin = Readable.from(options.stdin !== undefined ? [Buffer.from(options.stdin)] : []) as Readable & {
    isTTY?: boolean;
  };
  if (options.stdin === undefined) stdin.isTTY = true;
  return {
    out,
    err,
    status,
    abort: () => controller.abort('SIGINT'),
    io: {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      status: (l) => {
        if (options.tty) status.push(l);
      },
      c: colorsFor({ isTTY: false }, {}),
      tty: options.tty ?? false,
      json: options.json ?? false,
      env: options.env ?? {},
      stdin,
      signal: controller.signal,
    },
  };
}

/** An HTTP proxy to `target` that records the URL of every request passing through. */
async function countingProxy(
  target: string,
): Promise<{ url: string; urls: string[]; close(): Promise<void> }> {
  const urls: string[] = [];
  const proxy = createServer((req, res) => {
    urls.push(req.url ?? '');
    const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    urls,
    close: () =>
      new Promise<void>((ok) => {
        proxy.closeAllConnections();
        proxy.close(() => ok());
      }),
  };
}

const STANDARD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('hookline trigger', () => {
  let receiver: TestReceiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(() => receiver.close());

  async function trigger(scheme: string, event: string, secret: string) {
    const before = receiver.requests.length;
    const c = capture({ json: true });
    const code = await run(
      ['trigger', scheme, event, '--url', `${receiver.url}/hook`, '--secret', secret, '--json'],
      c.io,
    );
    assert.equal(code, 0, c.err.join('\n'));
    assert.equal(receiver.requests.length, before + 1);
    const req = receiver.requests[before]!;
    const printed = JSON.parse(c.out[0]!);
    assert.equal(printed.status, 200);
    assert.equal(req.body.toString('utf8'), printed.body, 'the printed body is the body sent');
    return { req, body: req.body.toString('utf8'), headers: headersOf(req) };
  }

  test('stripe: verifies with the stripe library', async () => {
    const secret = 'whsec_test_6d2f0c5e8a1b4f7e9d3c2b1a0f9e8d7c';
    const stripe = new Stripe('sk_test_hookline');
    for (const event of ['payment_intent.succeeded', 'checkout.session.completed', 'invoice.paid']) {
      const { body, headers } = await trigger('stripe', event, secret);
      const verified = stripe.webhooks.constructEvent(body, headers['stripe-signature']!, secret);
      assert.equal(verified.type, event);
      assert.equal(verified.object, 'event');
      assert.throws(() => stripe.webhooks.constructEvent(body, headers['stripe-signature']!, `${secret}x`));
    }
  });

  test('github: verifies with @octokit/webhooks-methods', async () => {
    const secret = 'gh-webhook-secret';
    for (const [event, header] of [
      ['push', 'push'],
      ['pull_request.opened', 'pull_request'],
      ['issues.opened', 'issues'],
      ['ping', 'ping'],
    ] as const) {
      const { body, headers } = await trigger('github', event, secret);
      assert.equal(await verifyGithub(secret, body, headers['x-hub-signature-256']!), true);
      assert.equal(await verifyGithub('wrong', body, headers['x-hub-signature-256']!), false);
      assert.equal(headers['x-github-event'], header);
      assert.match(headers['x-github-delivery']!, /^[0-9a-f-]{36}$/);
    }
  });

  test('standard-webhooks: verifies with the standardwebhooks library', async () => {
    const { body, headers } = await trigger('standard-webhooks', 'invoice.paid', STANDARD_SECRET);
    const payload = new Webhook(STANDARD_SECRET).verify(body, headers) as { type: string; data: unknown };
    assert.equal(payload.type, 'invoice.paid');
    assert.ok(payload.data);
  });

  test('shopify and slack: verify with their documented algorithms', async () => {
    const shop = await trigger('shopify', 'orders/create', 'shpss_client_secret');
    assert.equal(
      verifyReceiver({
        scheme: 'shopify',
        body: shop.body,
        headers: shop.headers,
        secret: 'shpss_client_secret',
      }).scheme,
      'shopify',
    );
    assert.equal(shop.headers['x-shopify-topic'], 'orders/create');
    assert.ok(shop.headers['x-shopify-event-id']);
    assert.throws(() =>
      verifyReceiver({ scheme: 'shopify', body: shop.body, headers: shop.headers, secret: 'other' }),
    );
    const slack = await trigger('slack', 'app_mention', '8f742231b10e8888abcd99yyyzzz85a5');
    verifyReceiver({
      scheme: 'slack',
      body: slack.body,
      headers: slack.headers,
      secret: '8f742231b10e8888abcd99yyyzzz85a5',
    });
    assert.equal(JSON.parse(slack.body).event.type, 'app_mention');
  });

  test('discord, hubspot and salesforce: verify with @hookline/receiver (interop-tested against their libraries)', async () => {
    const keys = generateDiscordKeyPair();
    for (const event of ['ping', 'application_command']) {
      const discord = await trigger('discord', event, keys.privateKey);
      const ok = { scheme: 'discord', body: discord.body, headers: discord.headers } as const;
      assert.equal(verifyReceiver({ ...ok, secret: keys.publicKey }).scheme, 'discord');
      assert.throws(() => verifyReceiver({ ...ok, secret: generateDiscordKeyPair().publicKey }));
      assert.equal(JSON.parse(discord.body).type, event === 'ping' ? 1 : 2);
    }

    const hubspotSecret = 'b9b0fa7c-0b2e-4a0f-8f61-5ac9e6b4c1d2';
    const hubspot = await trigger('hubspot', 'deal.creation', hubspotSecret);
    const signedFor = {
      scheme: 'hubspot',
      body: hubspot.body,
      headers: hubspot.headers,
      method: 'POST',
    } as const;
    verifyReceiver({ ...signedFor, secret: hubspotSecret, url: `${receiver.url}/hook` });
    assert.throws(() =>
      verifyReceiver({ ...signedFor, secret: hubspotSecret, url: `${receiver.url}/other` }),
    );
    assert.ok(hubspot.headers['x-hubspot-signature-v3']);
    const events = JSON.parse(hubspot.body) as { subscriptionType: string }[];
    assert.deepEqual(
      events.map((e) => e.subscriptionType),
      ['deal.creation', 'deal.creation'],
    );

    const org = '00D5g000004Tz1XEAS';
    const sf = await trigger('salesforce', 'Account', org);
    assert.match(sf.headers['content-type']!, /^text\/xml/);
    const message = parseSalesforceOutboundMessage(sf.body);
    assert.equal(message.organizationId, org);
    assert.deepEqual(
      message.notifications.map((n) => n.sObject.type),
      ['Account', 'Account'],
    );
    assert.equal(message.notifications[0]!.sObject.fields.Website, null);
    verifyReceiver({ scheme: 'salesforce', body: sf.body, headers: sf.headers, secret: org.slice(0, 15) });
    assert.throws(() =>
      verifyReceiver({
        scheme: 'salesforce',
        body: sf.body,
        headers: sf.headers,
        secret: '00D000000000001AAA',
      }),
    );
  });

  test('--source posts to the inbound source of the Hookline server', async () => {
    const before = receiver.requests.length;
    const c = capture({ env: { HOOKLINE_URL: receiver.url } });
    assert.equal(
      await run(['trigger', 'github', 'ping', '--source', 'my-repo', '--secret', 's'], c.io),
      0,
      c.err.join(),
    );
    assert.equal(receiver.requests[before]!.url, '/in/my-repo');
    // A source whose receive URL carries a token (`ingestPath` /in/{name}/{token}).
    assert.equal(
      await run(['trigger', 'github', 'ping', '--source', 'my-repo/tok_1', '--secret', 's'], c.io),
      0,
      c.err.join(),
    );
    assert.equal(receiver.requests[before + 1]!.url, '/in/my-repo/tok_1');
    assert.equal(
      await run(
        ['trigger', 'github', 'ping', '--source', 'x', '--url', receiver.url, '--secret', 's'],
        capture().io,
      ),
      2,
    );
  });

  test('usage errors exit 2, a refusing target 1, an unreachable one 3', async () => {
    assert.equal(
      await run(['trigger', 'nope', 'x', '--url', receiver.url, '--secret', 's'], capture().io),
      2,
    );
    assert.equal(
      await run(['trigger', 'stripe', 'nope', '--url', receiver.url, '--secret', 's'], capture().io),
      2,
    );
    assert.equal(await run(['trigger', 'stripe', 'invoice.paid', '--url', receiver.url], capture().io), 2);
    receiver.queue({ status: 400, body: 'bad signature' });
    const refused = capture();
    assert.equal(
      await run(['trigger', 'github', 'ping', '--url', receiver.url, '--secret', 's'], refused.io),
      1,
    );
    assert.match(refused.out[0]!, /^400 .*bad signature/);
    // A coded error is shown whole: its hint comes last.
    const detail = `no signature matches the configured secret: ${'check the secret; '.repeat(20)}HINT AT THE END`;
    receiver.queue({
      status: 401,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'no_matching_signature', detail }),
    });
    const coded = capture();
    assert.equal(
      await run(['trigger', 'github', 'ping', '--url', receiver.url, '--secret', 's'], coded.io),
      1,
    );
    assert.ok(coded.out[0]!.endsWith(`no_matching_signature: ${detail}`), coded.out[0]);
    // Other text is shown up to 2,000 characters, then says how much more there is.
    receiver.queue({ status: 500, body: `${'e'.repeat(2_000)}TAIL` });
    const long = capture();
    await run(['trigger', 'github', 'ping', '--url', receiver.url, '--secret', 's'], long.io);
    assert.match(long.out[0]!, /e{2000}… \(4 more characters; --json shows all\)$/);
    assert.equal(
      await run(['trigger', 'github', 'ping', '--url', 'http://127.0.0.1:1/', '--secret', 's'], capture().io),
      3,
    );
  });
});

describe('hookline send, tail, replay', () => {
  let server: TestServer;
  let receiver: TestReceiver;
  let appId: string;
  let endpointId: string;
  let env: Record<string, string>;

  before(async () => {
    server = await startHookline();
    receiver = await startReceiver();
    env = { HOOKLINE_URL: server.url, HOOKLINE_TOKEN: server.token };
    appId = (await server.call('POST', '/api/v1/app', { name: 'cli', uid: 'cli-app' })).body.id;
    await server.call('POST', '/api/v1/event-type', { name: 'a.b', description: '' });
    await server.call('POST', '/api/v1/event-type', { name: 'c.d', description: '' });
    const ep = await server.call('POST', `/api/v1/app/${appId}/endpoint`, {
      url: receiver.url,
      filterTypes: ['a.b', 'c.d'],
    });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    endpointId = ep.body.id;
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test('send takes the payload from an argument, a file or stdin', async () => {
    const a = capture({ env, json: true });
    assert.equal(
      await run(['send', '--app', 'cli-app', '--event-type', 'a.b', '{"n":1}', '--json'], a.io),
      0,
      a.err.join(),
    );
    const sent = JSON.parse(a.out[0]!);
    assert.match(sent.id, /^msg_/);
    const file = join(tempDir(), 'p.json');
    writeFileSync(file, '{"n":2}');
    const b = capture({ env });
    assert.equal(
      await run(['send', '--app', 'cli-app', '--event-type', 'c.d', '--file', file], b.io),
      0,
      b.err.join(),
    );
    assert.match(b.out[0]!, /^sent msg_/);
    const c = capture({ env, stdin: '{"n":3}' });
    assert.equal(
      await run(['send', '--app', 'cli-app', '--event-type', 'a.b', '--event-id', 'ev-3'], c.io),
      0,
      c.err.join(),
    );
    await receiver.waitFor(3);
    assert.deepEqual(receiver.requests.map((r) => JSON.parse(r.body.toString()).n).sort(), [1, 2, 3]);
    const stored = await server.call('GET', `/api/v1/app/${appId}/msg/ev-3`);
    assert.deepEqual(stored.body.payload, { n: 3 });
  });

  test('send: bad input exits 2, a bad token 3, an API error 1', async () => {
    assert.equal(
      await run(['send', '--app', 'cli-app', '--event-type', 'a.b', '[1]'], capture({ env }).io),
      2,
    );
    assert.equal(
      await run(['send', '--app', 'cli-app', '--event-type', 'a.b', '{nope'], capture({ env }).io),
      2,
    );
    assert.equal(await run(['send', '--app', 'cli-app', '{}'], capture({ env }).io), 2);
    assert.equal(
      await run(
        ['send', '--app', 'cli-app', '--event-type', 'a.b', '{}'],
        capture({ env: { HOOKLINE_URL: server.url } }).io,
      ),
      2,
    );
    const badToken = capture({ env: { ...env, HOOKLINE_TOKEN: 'wrong' } });
    assert.equal(await run(['send', '--app', 'cli-app', '--event-type', 'a.b', '{}'], badToken.io), 3);
    assert.match(badToken.err[0]!, /rejected the token/);
    const missing = capture({ env });
    assert.equal(await run(['send', '--app', 'no-such-app', '--event-type', 'a.b', '{}'], missing.io), 1);
    assert.match(missing.err[0]!, /404 not_found/);
  });

  test('tail prints each new attempt once, with filters', async () => {
    const t = capture({ env, json: true });
    const tailing = run(['tail', '--app', 'cli-app', '--interval', '0.1', '--json'], t.io);
    const failed = capture({ env });
    const failing = run(
      ['tail', '--app', 'cli-app', '--endpoint', endpointId, '--status', 'fail', '--interval', '0.1'],
      failed.io,
    );
    await new Promise((r) => setTimeout(r, 300));
    const already = receiver.requests.length;
    receiver.queue({ status: 500, body: 'no' });
    for (let i = 0; i < 3; i++) {
      await server.call('POST', `/api/v1/app/${appId}/msg`, { eventType: 'a.b', payload: { tail: i } });
    }
    await receiver.waitFor(already + 3);
    await server.hookline.dispatcher!.drain();
    const deadline = Date.now() + 5000;
    while ((t.out.length < 3 || failed.out.length < 1) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    t.abort();
    failed.abort();
    assert.equal(await tailing, 0);
    assert.equal(await failing, 0);
    const lines = t.out.map((l) => JSON.parse(l));
    assert.equal(lines.length, 3, 'each attempt once, none from before the start');
    assert.deepEqual(lines.map((l) => l.responseStatusCode).sort(), [200, 200, 500]);
    assert.ok(lines.every((l) => l.msg.eventType === 'a.b'));
    assert.equal(failed.out.length, 1);
    assert.match(failed.out[0]!, /500 {2}a\.b {2}msg_\w+ {2}-> ep_\w+ {2}\d+ ms {2}fail/);
  });

  test('tail follows an endpoint created while it runs from its next poll, and outlives its deletion', async (ctx) => {
    // tail talks to the server through a proxy that counts its polls: "at once" means within a
    // few polls, whatever the time they take.
    // An application of its own: the other tests count this one's messages.
    const app = (await server.call('POST', '/api/v1/app', { name: 'tail-new', uid: 'tail-new' })).body.id;
    const first = (await server.call('POST', `/api/v1/app/${app}/endpoint`, { url: `${receiver.url}/first` }))
      .body.id;
    const proxy = await countingProxy(server.url);
    const t = capture({ env: { HOOKLINE_URL: proxy.url, HOOKLINE_TOKEN: server.token }, json: true });
    let ended = false;
    const tailing = run(['tail', '--app', 'tail-new', '--interval', '0.1', '--json'], t.io).finally(() => {
      ended = true;
    });
    ctx.after(async () => {
      t.abort();
      await tailing;
      await proxy.close();
    });
    const polls = () => proxy.urls.filter((u) => u.includes(`/attempt/endpoint/${first}?`)).length;
    const until = async (pred: () => boolean, what: string) => {
      for (const deadline = Date.now() + 20_000; !pred(); ) {
        if (Date.now() > deadline || ended)
          throw new Error(`no ${what}: ${t.out.join('\n')} ${t.err.join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(() => polls() >= 2, 'polls');
    await server.call('POST', '/api/v1/event-type', { name: 'late.event', description: '' });
    const late = await server.call('POST', `/api/v1/app/${app}/endpoint`, {
      url: `${receiver.url}/late`,
      filterTypes: ['late.event'],
    });
    assert.equal(late.status, 201, JSON.stringify(late.body));
    await server.call('POST', `/api/v1/app/${app}/msg`, { eventType: 'late.event', payload: {} });
    await until(() => receiver.requests.some((r) => r.url === '/late'), 'delivery to the new endpoint');
    await server.hookline.dispatcher!.drain();
    const attempts = async () =>
      (await server.call('GET', `/api/v1/app/${app}/attempt/endpoint/${late.body.id}`)).body.data.length;
    for (let i = 0; i < 200 && (await attempts()) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const shown = () => t.out.some((l) => JSON.parse(l).endpointId === late.body.id);
    const at = polls();
    await until(() => shown() || polls() >= at + 3, 'three more polls');
    assert.ok(shown(), 'the attempt to the new endpoint is printed within three polls of being made');

    // A deleted endpoint is dropped from the polls (its attempts answer 404); tail goes on.
    assert.equal((await server.call('DELETE', `/api/v1/app/${app}/endpoint/${late.body.id}`)).status, 204);
    const afterDelete = polls();
    await until(() => polls() >= afterDelete + 3, 'polls after the deletion');
    assert.equal(ended, false, t.err.join('\n'));
    t.abort();
    assert.equal(await tailing, 0);
  });

  test('replay: one message, or a range with --dry-run and a real run', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const dry = capture({ env });
    assert.equal(
      await run(
        ['replay', '--app', 'cli-app', '--endpoint', endpointId, '--since', since, '--dry-run'],
        dry.io,
      ),
      0,
    );
    const messages = (await server.call('GET', `/api/v1/app/${appId}/msg?limit=100`)).body.data as {
      id: string;
    }[];
    assert.equal(dry.out.length, messages.length);
    assert.match(dry.err.at(-1)!, new RegExp(`^${messages.length} message\\(s\\) would be resent`));
    assert.deepEqual(
      dry.out.map((l) => /(msg_\w+)/.exec(l)![1]),
      messages.map((m) => m.id).sort(),
      'oldest first',
    );

    await server.hookline.dispatcher!.drain();
    const before = receiver.requests.length;
    const one = capture({ env });
    assert.equal(await run(['replay', '--app', 'cli-app', '--msg', 'ev-3'], one.io), 0, one.err.join());
    await receiver.waitFor(before + 1);
    assert.equal(JSON.parse(receiver.requests[before]!.body.toString()).n, 3);

    const all = capture({ env, json: true, tty: true });
    assert.equal(
      await run(['replay', '--app', 'cli-app', '--endpoint', endpointId, '--since', '1h', '--json'], all.io),
      0,
    );
    assert.equal(all.out.length, messages.length);
    assert.ok(all.out.every((l) => JSON.parse(l).resent === true));
    assert.equal(all.status.length, messages.length, 'a progress line per resend on a terminal');
    assert.match(
      all.status.at(-1)!,
      new RegExp(`^replaying ${messages.length}/${messages.length} {2}100% {2}[\\d.]+/s {2}failed 0$`),
    );
    await receiver.waitFor(before + 1 + messages.length);
    const resentIds = receiver.requests.slice(before + 1).map((r) => r.headers['webhook-id']);
    assert.deepEqual(
      new Set(resentIds),
      new Set(messages.map((m) => m.id)),
      'same webhook-id on every resend',
    );

    assert.equal(await run(['replay', '--app', 'cli-app'], capture({ env }).io), 2);
    assert.equal(
      await run(
        ['replay', '--app', 'cli-app', '--endpoint', endpointId, '--since', 'yesterday-ish'],
        capture({ env }).io,
      ),
      2,
    );
  });
});

describe('hookline tail across a server restart', () => {
  test('keeps following when the server goes away and comes back', { timeout: 60_000 }, async (t) => {
    const dataDir = tempDir();
    const receiver = await startReceiver();
    let server: HooklineChild | null = null;
    t.after(async () => {
      await server?.stop();
      await receiver.close();
    });
    const env = { HOOKLINE_DATABASE_URL: `sqlite:${join(dataDir, 'h.db')}` };
    server = await spawnHookline({ env });
    // Back on the same port, where `hookline tail` keeps asking.
    const port = new URL(server.url).port;
    const app = (await server.call('POST', '/api/v1/app', { name: 'restart', uid: 'restart' })).body;
    await server.call('POST', `/api/v1/app/${app.id}/endpoint`, { url: receiver.url });
    const c = capture({ env: { HOOKLINE_URL: server.url, HOOKLINE_TOKEN: ADMIN_TOKEN } });
    const tailing = run(['tail', '--app', 'restart', '--interval', '0.1'], c.io);
    const until = async (pred: () => boolean, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!pred()) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}: ${c.out.join('\n')} ${c.err.join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await new Promise((r) => setTimeout(r, 300));
    await server.call('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'before.restart', payload: {} });
    await until(() => c.out.length === 1, 'the first line');
    await server.stop();
    await until(() => c.err.some((l) => /cannot reach Hookline .*retrying/.test(l)), 'the outage notice');
    server = await spawnHookline({ env: { ...env, HOOKLINE_PORT: port } });
    await server.call('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'after.restart', payload: {} });
    await until(() => c.out.length === 2, 'the second line');
    await new Promise((r) => setTimeout(r, 300));
    c.abort();
    assert.equal(await tailing, 0);
    assert.equal(c.out.length, 2, 'each attempt once');
    assert.match(c.out[0]!, /before\.restart/);
    assert.match(c.out[1]!, /after\.restart/);
    assert.ok(c.err.some((l) => /server is back/.test(l)));
  });
});

describe('hookline help and output', () => {
  test('--help lists every command with an example; <command> --help lists every option', async () => {
    const { COMMANDS } = await import('../src/cli/main.ts');
    const main = capture();
    assert.equal(await run(['--help'], main.io), 0);
    const text = main.out.join('\n');
    for (const cmd of COMMANDS) {
      assert.match(text, new RegExp(`^  ${cmd.name} +\\S`, 'm'), `${cmd.name} is listed`);
      assert.ok(text.includes(cmd.examples[0]!), `an example of ${cmd.name}`);
      const one = capture();
      assert.equal(await run([cmd.name, '--help'], one.io), 0);
      const help = one.out.join('\n');
      for (const option of [...Object.keys(cmd.options), 'json', 'help']) {
        assert.match(help, new RegExp(`--${option}\\b`), `${cmd.name} --help shows --${option}`);
      }
      assert.match(help, /Examples:\n {2}.*hookline/);
    }
    assert.match(text, /Exit codes:[\s\S]*3 {2}cannot reach the server/);
  });

  test('unknown commands and options are usage errors (exit 2)', async () => {
    const unknown = capture();
    assert.equal(await run(['frobnicate'], unknown.io), 2);
    assert.match(unknown.err[0]!, /unknown command "frobnicate"/);
    assert.equal(await run(['tail', '--bogus'], capture().io), 2);
    assert.equal(await run(['send', 'a', 'b'], capture().io), 2);
  });

  test('colors only on a terminal, never with NO_COLOR', () => {
    assert.equal(colorsFor({ isTTY: true }, {}).red('x'), '\x1b[31mx\x1b[39m');
    assert.equal(colorsFor({ isTTY: false }, {}).red('x'), 'x');
    assert.equal(colorsFor({ isTTY: true }, { NO_COLOR: '1' }).red('x'), 'x');
    assert.equal(colorsFor({ isTTY: false }, { FORCE_COLOR: '1' }).red('x'), '\x1b[31mx\x1b[39m');
  });
});

describe('the Node.js version check of the hookline program', () => {
  test('accepts MIN_NODE and newer, refuses older', () => {
    assert.equal(MIN_NODE, '22.19.0');
    for (const v of ['22.19.0', '22.20.1', '23.0.0', '24.11.0', '25.1.0'])
      assert.equal(supportedNode(v), true, v);
    for (const v of ['22.18.9', '22.12.0', '20.20.2', '18.19.0']) assert.equal(supportedNode(v), false, v);
  });
});
