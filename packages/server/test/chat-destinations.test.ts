/**
 * Chat destinations end to end: endpoints of kind slack, discord and teams receive each message
 * rendered in the platform's documented shape at a local stand-in for the platform, unsigned;
 * templates render or are refused; a 429 is honoured (manual clock) without using up the
 * retry schedule. Runs on both stores.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { sign } from '@hookline/receiver';
import { createManualClock } from '../src/core/clock.ts';
import { DISCORD_LIMITS, TEMPLATE_MAX_LOOPS, TEMPLATE_MAX_STRINGS } from '../src/delivery/chat.ts';
import { DEFAULT_RENDER_BUDGET, renderEvents, setRenderBudget } from '../src/delivery/chat-renderer.ts';
import {
  type ReceivedRequest,
  startHookline,
  startReceiver,
  type TestReceiver,
  type TestServer,
} from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const PUBLIC_URL = 'https://hooks.example.com';

function chatSuite(kind: TestStoreKind): void {
  const clock = createManualClock(Date.parse('2026-04-01T00:00:00Z'));
  let server: TestServer;
  let receiver: TestReceiver;
  let db: Awaited<ReturnType<TestStoreKind['open']>>;

  before(async () => {
    db = await kind.open('chat');
    receiver = await startReceiver();
    server = await startHookline({ clock, env: { HOOKLINE_PUBLIC_URL: `${PUBLIC_URL}/`, ...db.env } });
  });
  after(async () => {
    await server.close();
    await receiver.close();
    await db.drop();
  });

  let n = 0;
  /** A fresh app with one endpoint of `kind` posting to `/<path>` of the stand-in. */
  async function chatEndpoint(epKind: string, extra: Record<string, unknown> = {}) {
    const uid = `chat-${++n}`;
    const app = await server.call('POST', '/api/v1/app', { name: 'Chat', uid });
    assert.equal(app.status, 201);
    const path = `/${epKind}/${uid}`;
    const ep = await server.call('POST', `/api/v1/app/${uid}/endpoint`, {
      url: `${receiver.url}${path}`,
      kind: epKind,
      ...extra,
    });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    return { uid, appId: app.body.id as string, ep: ep.body, path };
  }
  async function publish(uid: string, payload: unknown, eventType = 'invoice.paid') {
    const res = await server.call('POST', `/api/v1/app/${uid}/msg`, { eventType, payload });
    assert.equal(res.status, 202);
    return res.body as { id: string; timestamp: string };
  }
  const at = (path: string) => receiver.requests.filter((r) => r.url === path);
  function assertChatRequest(r: ReceivedRequest) {
    assert.equal(r.method, 'POST');
    assert.equal(r.headers['content-type'], 'application/json');
    const signed = Object.keys(r.headers).filter((h) => h.startsWith('webhook-') || h.startsWith('svix-'));
    assert.deepEqual(signed, [], 'chat platforms get no signature headers');
    return JSON.parse(r.body.toString('utf8'));
  }

  test('slack: a section with mrkdwn, key fields escaped, a link; custom headers kept; no signature', async () => {
    const { uid, appId, ep, path } = await chatEndpoint('slack', {
      headers: { 'x-proxy-key': 'k1' },
      svixHeaders: true,
    });
    assert.equal(ep.kind, 'slack');
    assert.equal(ep.template, null);
    const msg = await publish(uid, {
      id: 'in_1',
      amount: 4200,
      paid: true,
      note: 'a <b> & <!channel>',
      customer: { email: 'ada@example.com', tags: ['x'] },
      lines: [1, 2],
    });
    await server.hookline.dispatcher!.drain();
    const [r] = at(path);
    assert.ok(r, 'the stand-in received the message');
    assert.equal(r.headers['x-proxy-key'], 'k1');
    const body = assertChatRequest(r);
    const link = `${PUBLIC_URL}/apps/${appId}/msg/${msg.id}`;
    assert.deepEqual(body, {
      text: 'invoice.paid: id: in_1, amount: 4200, paid: true',
      blocks: [
        {
          type: 'section',
          text: { type: 'mrkdwn', text: `*invoice.paid*\n<${link}|View message in Hookline>` },
        },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*id*\nin_1' },
            { type: 'mrkdwn', text: '*amount*\n4200' },
            { type: 'mrkdwn', text: '*paid*\ntrue' },
            { type: 'mrkdwn', text: '*note*\na &lt;b&gt; &amp; &lt;!channel&gt;' },
            { type: 'mrkdwn', text: '*customer.email*\nada@example.com' },
          ],
        },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: `Message \`${msg.id}\` · ${msg.timestamp}` }],
        },
      ],
    });
    // The attempt log keeps the headers that were sent (no signature among them).
    const attempts = await server.call('GET', `/api/v1/app/${uid}/attempt/endpoint/${ep.id}`);
    assert.equal(attempts.body.data.length, 1);
    assert.equal(attempts.body.data[0].status, 0);
    const one = await server.call(
      'GET',
      `/api/v1/app/${uid}/msg/${msg.id}/attempt/${attempts.body.data[0].id}`,
    );
    assert.equal(one.status, 200);
    assert.equal(one.body.requestHeaders['content-type'], 'application/json');
    assert.equal(one.body.requestHeaders['webhook-signature'], undefined);
    assert.equal(
      one.body.requestBody,
      r.body.toString('utf8'),
      'the inspector has the rendered message as sent',
    );
  });

  test('discord: content and one embed within Discord limits; mentions disabled', async () => {
    const { uid, appId, path } = await chatEndpoint('discord');
    const payload: Record<string, unknown> = { id: 'evt_1', short: '' };
    for (let i = 0; i < 40; i++) payload[`field${i}`] = 'x'.repeat(1500);
    const msg = await publish(uid, payload, 'order.created');
    await server.hookline.dispatcher!.drain();
    const [r] = at(path);
    assert.ok(r);
    const body = assertChatRequest(r);
    assert.deepEqual(Object.keys(body).sort(), ['allowed_mentions', 'content', 'embeds']);
    assert.equal(body.content, '**order.created**');
    assert.deepEqual(body.allowed_mentions, { parse: [] });
    assert.equal(body.embeds.length, 1);
    const e = body.embeds[0];
    assert.equal(e.title, 'order.created');
    assert.equal(e.description, `Message \`${msg.id}\``);
    assert.equal(e.timestamp, msg.timestamp);
    assert.equal(e.url, `${PUBLIC_URL}/apps/${appId}/msg/${msg.id}`);
    assert.deepEqual(e.fields[0], { name: 'id', value: 'evt_1', inline: true });
    assert.deepEqual(e.fields[1], { name: 'short', value: '\u200b', inline: true }, 'never an empty value');
    assert.ok(e.fields.length <= DISCORD_LIMITS.fields);
    for (const f of e.fields.slice(2)) {
      assert.equal([...f.value].length, 1024, 'values cut to 1024');
      assert.ok(f.value.endsWith('…'));
      assert.equal(f.inline, false);
    }
    const total =
      e.title.length +
      e.description.length +
      e.fields.reduce((s: number, f: any) => s + f.name.length + f.value.length, 0);
    assert.ok(total <= DISCORD_LIMITS.total, `embed total ${total} within 6000`);
    assert.ok(e.fields.length >= 4, 'as many fields as fit');
  });

  test('teams: a message with one Adaptive Card 1.4: title, FactSet (payload markdown escaped), OpenUrl action', async () => {
    const { uid, appId, path } = await chatEndpoint('teams');
    const msg = await publish(uid, {
      id: 'in_2',
      amount: 10,
      customer: { name: '[Ada](https://evil.example)' },
    });
    await server.hookline.dispatcher!.drain();
    const [r] = at(path);
    assert.ok(r);
    const body = assertChatRequest(r);
    assert.deepEqual(body, {
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            body: [
              { type: 'TextBlock', text: 'invoice.paid', weight: 'Bolder', size: 'Medium', wrap: true },
              {
                type: 'FactSet',
                facts: [
                  { title: 'id', value: 'in_2' },
                  { title: 'amount', value: '10' },
                  { title: 'customer.name', value: '\\[Ada\\](https://evil.example)' },
                ],
              },
              {
                type: 'TextBlock',
                text: `Message ${msg.id} · ${msg.timestamp}`,
                isSubtle: true,
                size: 'Small',
                wrap: true,
              },
            ],
            actions: [
              {
                type: 'Action.OpenUrl',
                title: 'View message in Hookline',
                url: `${PUBLIC_URL}/apps/${appId}/msg/${msg.id}`,
              },
            ],
          },
        },
      ],
    });
  });

  test('a custom template renders against the message; bad templates are refused with a coded error', async () => {
    const template = {
      text: '{{ eventType }} for {{ payload.customer.email | default: "nobody" }}',
      blocks: [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: '{{ payload.amount | divided_by: 100.0 }} {{ payload.currency | upcase }}',
          },
        },
      ],
      unfurl_links: false,
      footer: '{{ endpoint.description }} {{ msgId }} {{ link }}',
    };
    const { uid, appId, path, ep } = await chatEndpoint('slack', { template, description: 'Billing' });
    assert.deepEqual(ep.template, template);
    const msg = await publish(uid, { amount: 4250, currency: 'eur', customer: { email: 'ada@example.com' } });
    await server.hookline.dispatcher!.drain();
    const [r] = at(path);
    assert.ok(r);
    assert.deepEqual(assertChatRequest(r), {
      text: 'invoice.paid for ada@example.com',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '42.5 EUR' } }],
      unfurl_links: false,
      footer: `Billing ${msg.id} ${PUBLIC_URL}/apps/${appId}/msg/${msg.id}`,
    });

    const refused = async (body: Record<string, unknown>, loc: unknown[], msgPattern: RegExp) => {
      const res = await server.call('POST', `/api/v1/app/${uid}/endpoint`, {
        url: `${receiver.url}/never`,
        ...body,
      });
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.deepEqual(res.body.detail[0].loc, loc);
      assert.match(res.body.detail[0].msg, msgPattern);
    };
    await refused({ kind: 'slack', template: { text: '{% if %}' } }, ['body', 'template', 'text'], /parse/);
    await refused(
      { kind: 'discord', template: { embeds: [{ title: '{{ eventType | no_such_filter }}' }] } },
      ['body', 'template', 'embeds', 0, 'title'],
      /no_such_filter/,
    );
    await refused(
      { kind: 'teams', template: { text: '{% include "secrets.txt" %}' } },
      ['body', 'template', 'text'],
      /./,
    );
    await refused({ kind: 'http', template: { text: 'x' } }, ['body', 'template'], /chat destinations/);
    await refused({ kind: 'slack', template: { text: 'x'.repeat(20_000) } }, ['body', 'template'], /bytes/);

    // PATCH checks the same way, and null brings back the default message.
    const bad = await server.call('PATCH', `/api/v1/app/${uid}/endpoint/${ep.id}`, {
      template: { text: '{{' },
    });
    assert.equal(bad.status, 422);
    const reset = await server.call('PATCH', `/api/v1/app/${uid}/endpoint/${ep.id}`, { template: null });
    assert.equal(reset.status, 200);
    assert.equal(reset.body.template, null);
  });

  test('a template that fails at send time is a failed attempt with the reason, nothing is sent', async () => {
    // Fine against the sample; with this payload it renders far past the size limit.
    const template = { text: '{% for i in (1..payload.n) %}xxxxxxxxxx{% endfor %}' };
    const { uid, ep, path } = await chatEndpoint('slack', { template });
    await publish(uid, { n: 10_000 });
    await server.hookline.dispatcher!.drain();
    assert.equal(at(path).length, 0, 'nothing reached the platform');
    const attempts = await server.call('GET', `/api/v1/app/${uid}/attempt/endpoint/${ep.id}`);
    assert.equal(attempts.body.data.length, 1);
    const [a] = attempts.body.data;
    assert.equal(a.status, 2);
    assert.equal(a.responseStatusCode, 0);
    assert.match(a.response, /^not sent: the endpoint's chat template renders to \d+ bytes/);
    const due = (await server.hookline.store.nextDueAt())! - clock.now();
    assert.ok(due >= 4_000 && due <= 6_000, `retried on the normal schedule, got ${due} ms`);
    // Fixing the template lets the retry through.
    const fixed = await server.call('PATCH', `/api/v1/app/${uid}/endpoint/${ep.id}`, { template: null });
    assert.equal(fixed.status, 200);
    clock.advance(due);
    await server.hookline.dispatcher!.drain();
    assert.equal(at(path).length, 1);
  });

  test('a template over its render budget at send time: a failed attempt saying so, nothing sent', async () => {
    // Fine against the save-time sample (no items); a million loop iterations with this payload.
    const template = {
      text: '{% for a in payload.items %}{% for b in payload.items %}{% endfor %}{% endfor %}',
    };
    const { uid, ep, path } = await chatEndpoint('discord', { template });
    // Time lifted so that the steps run out first however busy the machine is.
    const restore = setRenderBudget({ timeMs: 60_000 });
    try {
      await publish(uid, { items: Array.from({ length: 1000 }, (_, i) => i) });
      await server.hookline.dispatcher!.drain();
    } finally {
      restore();
    }
    assert.equal(at(path).length, 0, 'nothing reached the platform');
    const attempts = await server.call('GET', `/api/v1/app/${uid}/attempt/endpoint/${ep.id}`);
    assert.equal(attempts.body.data.length, 1);
    const [a] = attempts.body.data;
    assert.equal(a.status, 2);
    assert.match(
      a.response,
      new RegExp(
        `^not sent: the endpoint's chat template at text exceeds its render budget: more than ${DEFAULT_RENDER_BUDGET.steps} rendering steps`,
      ),
    ); // Its retry would be due in a later test's schedule.
    assert.equal((await server.call('DELETE', `/api/v1/app/${uid}/endpoint/${ep.id}`)).status, 204);
  });

  /**
   * Calls /health, one call after the other, while `work` is unsettled; how many answered before
   * it settled. `work` must already be rendering (its worker reported `start`).
   */
  async function healthDuring(work: Promise<unknown>): Promise<number> {
    let settled = false;
    void work.finally(() => {
      settled = true;
    });
    let answered = 0;
    while (!settled) {
      const res = await fetch(`${server.url}/health`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      if (!settled) answered++;
    }
    return answered;
  }

  // A template that would render for hours: 16 strings of ten billion loop iterations each.
  const ENDLESS = Object.fromEntries(
    Array.from({ length: 16 }, (_, i) => [
      `s${i}`,
      '{% for a in (1..100000) %}{% for b in (1..100000) %}{% endfor %}{% endfor %}',
    ]),
  );
  // Only time stops it: the budget's steps and allocations are lifted for these two tests.
  const TIME_ONLY = { timeMs: 2000, steps: Number.POSITIVE_INFINITY, memory: Number.POSITIVE_INFINITY };

  test('/health answers while a template is checked at save time', async () => {
    const { uid } = await chatEndpoint('slack');
    const restore = setRenderBudget(TIME_ONLY);
    try {
      const started = once(renderEvents, 'start');
      const save = server.call('POST', `/api/v1/app/${uid}/endpoint`, {
        url: `${receiver.url}/never`,
        kind: 'slack',
        template: ENDLESS,
      });
      await started;
      const answered = await healthDuring(save);
      assert.ok(answered >= 1, 'the API answered while the template was rendering');
      const res = await save;
      assert.equal(res.status, 422);
      assert.deepEqual(res.body.detail[0].loc, ['body', 'template', 's0']);
      assert.equal(
        res.body.detail[0].msg,
        'template exceeds its render budget: rendering took more than 2000 ms',
      );
    } finally {
      restore();
    }
  });

  test('/health answers while a template renders at delivery time; the attempt fails with the budget error', async () => {
    // Cheap on the save-time sample (no payload.n), endless on the real payload.
    const template = Object.fromEntries(
      Object.keys(ENDLESS).map((k) => [
        k,
        '{% for a in (1..payload.n) %}{% for b in (1..payload.n) %}{% endfor %}{% endfor %}',
      ]),
    );
    const { uid, ep, path } = await chatEndpoint('teams', { template });
    const restore = setRenderBudget(TIME_ONLY);
    try {
      const started = once(renderEvents, 'start');
      await publish(uid, { n: 100_000 });
      const delivered = server.hookline.dispatcher!.drain();
      await started;
      const answered = await healthDuring(delivered);
      assert.ok(answered >= 1, 'the API answered while the template was rendering');
    } finally {
      restore();
    }
    assert.equal(at(path).length, 0);
    const attempts = await server.call('GET', `/api/v1/app/${uid}/attempt/endpoint/${ep.id}`);
    assert.equal(
      attempts.body.data[0].response,
      "not sent: the endpoint's chat template at s0 exceeds its render budget: rendering took more than 2000 ms",
    );
    assert.equal((await server.call('DELETE', `/api/v1/app/${uid}/endpoint/${ep.id}`)).status, 204);
  });

  test('the template caps apply to endpoints and source destinations alike', async () => {
    const { uid } = await chatEndpoint('slack');
    const many = Object.fromEntries(
      Array.from({ length: TEMPLATE_MAX_STRINGS + 1 }, (_, i) => [`s${i}`, 'x']),
    );
    const ep = await server.call('POST', `/api/v1/app/${uid}/endpoint`, {
      url: `${receiver.url}/never`,
      kind: 'slack',
      template: many,
    });
    assert.equal(ep.status, 422);
    assert.match(
      ep.body.detail[0].msg,
      new RegExp(`^template has more than ${TEMPLATE_MAX_STRINGS} strings`),
    );
    const loops = { text: '{% for a in (1..2) %}{% endfor %}'.repeat(TEMPLATE_MAX_LOOPS + 1) };
    const src = await server.call('POST', '/api/v1/source', {
      name: `loops-${++n}`,
      verification: { scheme: 'none' },
      destinations: [{ url: `${receiver.url}/never`, kind: 'discord', template: loops }],
    });
    assert.equal(src.status, 422);
    assert.deepEqual(src.body.detail[0].loc, ['body', 'destinations', 0, 'template', 'text']);
    assert.match(src.body.detail[0].msg, new RegExp(`^template has more than ${TEMPLATE_MAX_LOOPS} loops`));
  });

  test('429 + Retry-After: the next attempt comes exactly then, and the 429 does not use up a retry', async () => {
    const { uid, ep, path } = await chatEndpoint('slack');
    receiver.queue(
      { status: 429, headers: { 'retry-after': '7' }, body: 'rate_limited' },
      { status: 500, body: 'boom' },
      { status: 200, body: 'ok' },
    );
    await publish(uid, { n: 1 });
    const dispatcher = server.hookline.dispatcher!;
    await dispatcher.drain();
    assert.equal(at(path).length, 1);
    let due = (await server.hookline.store.nextDueAt())! - clock.now();
    assert.equal(due, 7_000, 'Retry-After: 7 -> 7 s later, not the 5 s ±20% of the schedule');
    clock.advance(due - 1);
    await dispatcher.drain();
    assert.equal(at(path).length, 1, 'nothing before Retry-After has passed');
    clock.advance(1);
    await dispatcher.drain();
    assert.equal(at(path).length, 2);
    due = (await server.hookline.store.nextDueAt())! - clock.now();
    assert.ok(due >= 4_000 && due <= 6_000, `a 500 next gets the FIRST step of the schedule, got ${due} ms`);
    clock.advance(due);
    await dispatcher.drain();
    assert.equal(at(path).length, 3);
    assert.equal(await server.hookline.store.nextDueAt(), null, 'delivered');
    const attempts = await server.call('GET', `/api/v1/app/${uid}/attempt/endpoint/${ep.id}`);
    assert.deepEqual(
      [...attempts.body.data].reverse().map((a: any) => [a.status, a.responseStatusCode]),
      [
        [2, 429],
        [2, 500],
        [0, 200],
      ],
    );
  });

  test("discord 429: the body's retry_after (decimal seconds) is honoured", async () => {
    const { uid, path } = await chatEndpoint('discord');
    receiver.queue(
      {
        status: 429,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'You are being rate limited.', retry_after: 2.5, global: false }),
      },
      { status: 204 },
    );
    await publish(uid, { n: 1 });
    const dispatcher = server.hookline.dispatcher!;
    await dispatcher.drain();
    const due = (await server.hookline.store.nextDueAt())! - clock.now();
    assert.equal(due, 2_500);
    clock.advance(due);
    await dispatcher.drain();
    assert.equal(at(path).length, 2);
    assert.equal(await server.hookline.store.nextDueAt(), null, 'Discord answers 204: delivered');
  });

  test('kind changes: http <-> chat kinds allowed (leaving chat drops the template); listen is refused', async () => {
    const { uid, ep } = await chatEndpoint('discord', { template: { content: '{{ eventType }}' } });
    const toHttp = await server.call('PATCH', `/api/v1/app/${uid}/endpoint/${ep.id}`, { kind: 'http' });
    assert.equal(toHttp.status, 200, JSON.stringify(toHttp.body));
    assert.equal(toHttp.body.kind, 'http');
    assert.equal(toHttp.body.template, null);
    const toTeams = await server.call('PATCH', `/api/v1/app/${uid}/endpoint/${ep.id}`, { kind: 'teams' });
    assert.equal(toTeams.body.kind, 'teams');
    const toListen = await server.call('PATCH', `/api/v1/app/${uid}/endpoint/${ep.id}`, { kind: 'listen' });
    assert.equal(toListen.status, 409);
    assert.equal(toListen.body.code, 'kind_change_not_allowed');
    const bogus = await server.call('PATCH', `/api/v1/app/${uid}/endpoint/${ep.id}`, { kind: 'irc' });
    assert.equal(bogus.status, 422);
    // A Svix client's PUT knows neither kind nor template: both stay.
    const put = await server.call('PUT', `/api/v1/app/${uid}/endpoint/${ep.id}`, { url: ep.url });
    assert.equal(put.status, 200);
    assert.equal(put.body.kind, 'teams');
  });

  test('an inbound source forwards to chat destinations: the provider JSON rendered, unsigned, no provider headers', async () => {
    const secret = 'gh-chat-secret';
    const created = await server.call('POST', '/api/v1/source', {
      name: `gh-chat-${++n}`,
      verification: { scheme: 'github', secrets: [secret] },
      destinations: [
        {
          url: `${receiver.url}/source/slack`,
          kind: 'slack',
          template: { text: '{{ payload.repository.full_name }}: {{ payload.head_commit.message }}' },
        },
        { url: `${receiver.url}/source/discord`, kind: 'discord', eventTypes: ['push'] },
        { url: `${receiver.url}/source/http` },
      ],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(
      created.body.destinations.map((d: { kind: string; template: unknown }) => [d.kind, d.template]),
      [
        ['slack', { text: '{{ payload.repository.full_name }}: {{ payload.head_commit.message }}' }],
        ['discord', null],
        ['http', null],
      ],
    );
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      repository: { full_name: 'acme/api' },
      head_commit: { id: 'abc123', message: 'Fix <the> build & ship' },
    });
    const signed = sign({ scheme: 'github', body, secret, timestamp: Math.floor(clock.now() / 1000) });
    const res = await fetch(`${server.url}/in/${created.body.name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', ...signed.headers },
      body,
    });
    assert.equal(res.status, 200);
    await server.hookline.dispatcher!.drain();

    const [slack] = at('/source/slack');
    assert.ok(slack, 'the Slack destination got the event');
    assert.deepEqual(assertChatRequest(slack), { text: 'acme/api: Fix <the> build & ship' });
    assert.equal(
      slack.headers['x-github-event'],
      undefined,
      "the provider's headers stay with http destinations",
    );
    assert.equal(slack.headers['x-hub-signature-256'], undefined);
    const [discord] = at('/source/discord');
    assert.ok(discord);
    const embed = assertChatRequest(discord).embeds[0];
    assert.equal(embed.title, 'push');
    assert.ok(
      embed.fields.some(
        (f: { name: string; value: string }) => f.name === 'repository.full_name' && f.value === 'acme/api',
      ),
    );
    const [http] = at('/source/http');
    assert.ok(http, 'the http destination still gets the request as it came');
    assert.equal(http.body.toString('utf8'), body);
    assert.equal(http.headers['x-github-event'], 'push');
    assert.ok(http.headers['webhook-signature']);

    const bad = await server.call('POST', '/api/v1/source', {
      name: `gh-chat-${++n}`,
      verification: { scheme: 'none' },
      destinations: [
        { url: `${receiver.url}/x`, template: { text: '{{ x' } },
        { url: `${receiver.url}/y`, kind: 'slack', template: { text: '{{ x | nope }}' } },
      ],
    });
    assert.equal(bad.status, 422);
    assert.deepEqual(
      bad.body.detail.map((d: { loc: unknown[] }) => d.loc),
      [
        ['body', 'destinations', 0, 'template'],
        ['body', 'destinations', 1, 'template', 'text'],
      ],
    );
  });
}

for (const kind of await testStores()) {
  describe(`chat destinations (manual clock, ${kind.name})`, kind.options, () => chatSuite(kind));
}

describe('chat destination URLs without HOOKLINE_ALLOW_PRIVATE_NETWORKS', () => {
  let server: TestServer;
  before(async () => {
    server = await startHookline({ env: { HOOKLINE_ALLOW_PRIVATE_NETWORKS: 'false' } });
  });
  after(() => server.close());

  test('a chat kind needs https; the OpenAPI document lists the kinds and template', async () => {
    await server.call('POST', '/api/v1/app', { name: 'A', uid: 'a' });
    const res = await server.call('POST', '/api/v1/app/a/endpoint', {
      url: 'http://hooks.slack.com/services/T0/B0/x',
      kind: 'slack',
    });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.detail[0].loc, ['body', 'url']);
    assert.match(res.body.detail[0].msg, /https/);
    const local = await server.call('POST', '/api/v1/app/a/endpoint', {
      url: 'https://127.0.0.1/hook',
      kind: 'teams',
    });
    assert.equal(local.status, 422, 'the SSRF rules apply as for http');
    const doc = await server.call('GET', '/openapi.json');
    const paths = doc.body.paths;
    const bodyOf = (op: any) => op.requestBody.content['application/json'].schema;
    const endpointIn = bodyOf(paths['/api/v1/app/{app_id}/endpoint'].post);
    const endpointPatch = bodyOf(paths['/api/v1/app/{app_id}/endpoint/{endpoint_id}'].patch);
    const endpointOut =
      paths['/api/v1/app/{app_id}/endpoint/{endpoint_id}'].get.responses['200'].content['application/json']
        .schema;
    const kinds = JSON.stringify(endpointIn.properties.kind);
    for (const k of ['http', 'listen', 'slack', 'discord', 'teams']) assert.ok(kinds.includes(`"${k}"`), k);
    assert.ok(endpointIn.properties.template);
    assert.ok(endpointOut.properties.template);
    assert.ok(endpointPatch.properties.kind && endpointPatch.properties.template);
  });
});
