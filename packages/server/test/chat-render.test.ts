/**
 * The chat renderers on their own: truncation to each platform's limits, Slack escaping, key
 * fields, templates, and the 429 hints that decide when a chat destination is tried again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { DEFAULT_RETRY_POLICY, rateLimitDelay } from '../src/core/retry.ts';
import {
  type ChatContext,
  checkTemplate,
  DISCORD_LIMITS,
  escapeMarkdown,
  escapeSlack,
  keyFields,
  markdownText,
  prepareChatRequest,
  renderDiscord,
  renderSlack,
  renderTeams,
  renderTemplate,
  SAMPLE_CONTEXT,
  slackText,
  TEAMS_LIMITS,
  truncate,
} from '../src/delivery/chat.ts';
import { setRenderBudget } from '../src/delivery/chat-renderer.ts';
import { decideOutcome, prepareAttempt } from '../src/delivery/dispatcher.ts';
import type { ClaimedDelivery } from '../src/store/store.ts';

const ctx = (over: Partial<ChatContext> = {}): ChatContext => ({ ...SAMPLE_CONTEXT, ...over });
const NOW = Date.parse('2026-05-01T00:00:00Z');

function delivery(
  over: Partial<ClaimedDelivery['endpoint']> = {},
  d: Partial<ClaimedDelivery> = {},
): ClaimedDelivery {
  return {
    id: 'dlv_1',
    msgId: 'msg_1',
    appId: 'app_1',
    endpointId: 'ep_1',
    attempts: 0,
    triggerType: 0,
    eventType: 'invoice.paid',
    payload: '{"amount":1}',
    msgCreatedAt: NOW,
    leaseUntil: NOW + 30_000,
    endpoint: {
      url: 'https://hooks.slack.com/services/T/B/x',
      disabled: false,
      headers: { 'x-a': '1', 'webhook-id': 'forged' },
      secrets: [{ key: 'whsec_c2VjcmV0LXRoYXQtaXMtbG9uZy1lbm91Z2g=', expiresAt: null }],
      svixHeaders: true,
      kind: 'slack',
      template: null,
      uid: null,
      description: '',
      timeoutMs: null,
      fifo: false,
      ...over,
    },
    ...d,
  };
}

describe('text helpers', () => {
  test('truncate counts characters (not UTF-16 units) and ends with an ellipsis', () => {
    assert.equal(truncate('abc', 3), 'abc');
    assert.equal(truncate('abcd', 3), 'ab…');
    assert.equal(truncate('😀😀😀😀', 3), '😀😀…', 'never splits a surrogate pair');
    assert.equal([...truncate('x'.repeat(5000), 1024)].length, 1024);
  });

  test('slackText: cut after escaping, never inside an entity', () => {
    assert.equal(slackText('a&b', 10), 'a&amp;b');
    assert.equal(slackText('aaaa&', 7), 'aaaa…', 'a cut &am dropped whole');
    assert.equal(slackText('<<<<', 9), '&lt;&lt;…');
  });

  test('Slack escaping: &, < and > only, & first', () => {
    assert.equal(escapeSlack('<!channel> & <@U1> a>b'), '&lt;!channel&gt; &amp; &lt;@U1&gt; a&gt;b');
    assert.equal(escapeSlack('&lt;'), '&amp;lt;');
    assert.equal(escapeSlack('*bold* _it_'), '*bold* _it_');
  });

  test('Discord markdown: formatting, masked links, mentions and line starts escaped; words left alone', () => {
    assert.equal(
      escapeMarkdown('**bold** _it_ __u__ ~~s~~ ||spoiler|| `code` \\', 'discord'),
      '\\*\\*bold\\*\\* \\_it\\_ \\_\\_u\\_\\_ \\~\\~s\\~\\~ \\|\\|spoiler\\|\\| \\`code\\` \\\\',
    );
    assert.equal(
      escapeMarkdown('[Reset your password](https://evil.example)', 'discord'),
      '\\[Reset your password\\](https://evil.example)',
      'no masked link',
    );
    assert.equal(
      escapeMarkdown('@everyone @HERE <@123> <@&456> <#789> <t:0:R>', 'discord'),
      '@\u200beveryone @\u200bHERE \\<@123> \\<@&456> \\<#789> \\<t:0:R>',
    );
    assert.equal(
      escapeMarkdown('# h\n> q\n- l\n  + l\n-# small\n12. n\nok - 1. x', 'discord'),
      '\\# h\n\\> q\n\\- l\n  \\+ l\n\\-# small\n12\\. n\nok - 1. x',
    );
    assert.equal(
      escapeMarkdown('invoice.payment_failed ada@example.com 2026-01-01', 'discord'),
      'invoice.payment_failed ada@example.com 2026-01-01',
      'an underscore inside a word, dots, dashes and @ in an address stay as they are',
    );
  });

  test('Teams markdown: formatting and masked links escaped; < and @ left alone', () => {
    assert.equal(
      escapeMarkdown('**b** _i_ [x](https://evil.example) <at>Ada</at> @everyone', 'teams'),
      '\\*\\*b\\*\\* \\_i\\_ \\[x\\](https://evil.example) <at>Ada</at> @everyone',
    );
    assert.equal(escapeMarkdown('- a\n1. b', 'teams'), '\\- a\n1\\. b');
  });

  test('markdownText: cut after escaping, never ending in a lone backslash', () => {
    assert.equal(markdownText('a*b', 10, 'discord'), 'a\\*b');
    assert.equal(markdownText('aaaaaaaa**', 10, 'discord'), 'aaaaaaaa…', 'a cut escape dropped whole');
    assert.equal(markdownText('aaaaaaa**', 10, 'discord'), 'aaaaaaa\\*…');
    const stars = markdownText('*'.repeat(5000), 1024, 'teams');
    assert.equal(stars, `${'\\*'.repeat(511)}…`, 'within 1024, whole escapes only');
  });

  test('key fields: scalars, one level down, no arrays, at most N; non-objects as one field', () => {
    assert.deepEqual(keyFields({ a: 1, b: [1], c: { d: 'x', e: { f: 1 }, g: null }, h: false }), [
      ['a', '1'],
      ['c.d', 'x'],
      ['c.g', 'null'],
      ['h', 'false'],
    ]);
    assert.equal(
      keyFields(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, i])), 10).length,
      10,
    );
    assert.deepEqual(keyFields([1, 2]), [['payload', '[1,2]']]);
    assert.deepEqual(keyFields('plain'), [['payload', 'plain']]);
    assert.deepEqual(keyFields(null), [['payload', 'null']]);
  });
});

describe('default messages', () => {
  test('Slack: every user text escaped, fields cut, fallback text cut; no link without a public URL', () => {
    const long = '<'.repeat(5000);
    const m = renderSlack(ctx({ eventType: 'a&b', payload: { [long]: long }, link: null })) as any;
    assert.equal(m.blocks[0].text.text, '*a&amp;b*', 'no link line');
    const field = m.blocks[1].fields[0].text as string;
    assert.ok(!field.includes('<'), 'no raw < survives');
    assert.ok(field.length <= 2000, `a field text stays within Slack's 2000 (${field.length})`);
    assert.ok(field.endsWith('&lt;…'), 'cut between entities, never inside one');
    assert.ok(m.text.length <= 3000, 'fallback text bounded');
    assert.ok(!m.text.includes('<'));
    assert.equal(m.blocks.at(-1).type, 'context');
  });

  test('Slack: a payload without scalar fields has no fields section', () => {
    const m = renderSlack(ctx({ payload: { list: [1, 2] } })) as any;
    assert.deepEqual(
      m.blocks.map((b: any) => b.type),
      ['section', 'context'],
    );
    assert.equal(m.text, 'invoice.paid');
  });

  test('Discord: title, content and description cut; 25 fields at most; total within 6000', () => {
    const payload = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`f${i}`, 'y'.repeat(50)]));
    const m = renderDiscord(ctx({ eventType: 'e'.repeat(3000), payload })) as any;
    const e = m.embeds[0];
    assert.equal([...e.title].length, DISCORD_LIMITS.title);
    assert.ok(e.title.endsWith('…'));
    assert.equal([...m.content].length, DISCORD_LIMITS.content);
    assert.equal(e.fields.length, DISCORD_LIMITS.fields);
    const big = renderDiscord(
      ctx({ payload: Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`f${i}`, 'z'.repeat(2000)])) }),
    ) as any;
    const total = (x: any) =>
      x.title.length +
      x.description.length +
      x.fields.reduce((s: number, f: any) => s + f.name.length + f.value.length, 0);
    assert.ok(total(big.embeds[0]) <= DISCORD_LIMITS.total);
    assert.equal(big.embeds[0].fields.length, 5, 'five 1024-character fields fit under 6000 with the title');
    assert.equal((renderDiscord(ctx({ link: null })) as any).embeds[0].url, undefined);
  });

  test('Discord and Teams: payload markdown and mentions arrive as plain text', () => {
    const payload = {
      note: '[Reset your password](https://evil.example) @everyone <@123> **now**',
      __key__: 'x',
    };
    const d = renderDiscord(ctx({ eventType: 'user.*created*', payload })) as any;
    assert.deepEqual(d.allowed_mentions, { parse: [] });
    assert.equal(d.content, '**user.\\*created\\***');
    assert.equal(d.embeds[0].title, 'user.\\*created\\*');
    assert.deepEqual(
      d.embeds[0].fields.map((f: any) => [f.name, f.value]),
      [
        ['note', '\\[Reset your password\\](https://evil.example) @\u200beveryone \\<@123> \\*\\*now\\*\\*'],
        ['\\_\\_key\\_\\_', 'x'],
      ],
    );
    const t = renderTeams(ctx({ eventType: 'user.*created*', payload })) as any;
    const card = t.attachments[0].content;
    assert.equal(card.body[0].text, 'user.\\*created\\*');
    assert.deepEqual(card.body[1].facts, [
      {
        title: 'note',
        value: '\\[Reset your password\\](https://evil.example) @everyone <@123> \\*\\*now\\*\\*',
      },
      { title: '\\_\\_key\\_\\_', value: 'x' },
    ]);
  });

  test('Teams: facts cut, the card stays under the size limit, no action without a link', () => {
    const payload = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}`, 'q'.repeat(10_000)]));
    const m = renderTeams(ctx({ payload, link: null })) as any;
    const card = m.attachments[0].content;
    assert.equal(card.actions, undefined);
    const facts = card.body[1].facts;
    for (const f of facts) assert.equal([...f.value].length, TEAMS_LIMITS.factValue);
    assert.ok(Buffer.byteLength(JSON.stringify(m)) <= TEAMS_LIMITS.total);
  });
});

describe('templates', () => {
  test('render every string, keep other values, no file system, own properties only', async () => {
    const out = await renderTemplate(
      { a: '{{ payload.amount | plus: 1 }}', b: [{ c: '{{ endpoint.uid }}' }, 3, true, null], d: { e: 'x' } },
      ctx(),
    );
    assert.deepEqual(out, { a: '4201', b: [{ c: 'team-chat' }, 3, true, null], d: { e: 'x' } });
    assert.equal(
      (await renderTemplate({ a: '{{ missing.deep }}|' }, ctx())).a,
      '|',
      'unknown variables are empty',
    );
    assert.equal(
      (await renderTemplate({ a: '{{ payload.x | slack_escape }}' }, ctx({ payload: { x: '<!here> &' } }))).a,
      '&lt;!here&gt; &amp;',
    );
    assert.equal(
      (await renderTemplate({ a: '{{ payload.constructor }}' }, ctx())).a,
      '',
      'no prototype access',
    );
    assert.match((await checkTemplate({ a: '{% include "/etc/passwd" %}' }))?.message ?? '', /./);
    assert.match((await checkTemplate({ a: '{% render "x" %}' }))?.message ?? '', /./);
  });

  test('checkTemplate names where the problem is', async () => {
    assert.equal(await checkTemplate({ text: 'hi {{ eventType }}' }), null);
    const e = await checkTemplate({ blocks: [{ text: '{{ x | nope }}' }] });
    assert.deepEqual(e?.path, ['blocks', 0, 'text']);
    assert.match(e?.message ?? '', /nope/);
  });
});

describe('requests and outcomes', () => {
  test('a chat request is JSON, unsigned, with custom headers (signature headers never)', async () => {
    const req = await prepareAttempt(delivery(), NOW, { publicUrl: 'https://h.example.com' });
    assert.equal(req.url, 'https://hooks.slack.com/services/T/B/x');
    assert.deepEqual(req.headers, { 'x-a': '1', 'content-type': 'application/json' });
    assert.equal(req.failure, undefined);
    const body = JSON.parse(String(req.body));
    assert.match(body.blocks[0].text.text, /<https:\/\/h\.example\.com\/apps\/app_1\/msg\/msg_1\|/);
  });

  test('an inbound event renders its JSON body; a non-JSON body renders without fields', async () => {
    const inbound = (body: string) =>
      delivery(
        { kind: 'teams' },
        { inbound: { body: Buffer.from(body), contentType: 'application/json', headers: [] } },
      );
    const json = JSON.parse(
      String((await prepareChatRequest(inbound('{"action":"opened"}'), 'teams', {})).body),
    );
    assert.deepEqual(json.attachments[0].content.body[1].facts, [{ title: 'action', value: 'opened' }]);
    const form = JSON.parse(String((await prepareChatRequest(inbound('a=1&b=2'), 'teams', {})).body));
    assert.deepEqual(form.attachments[0].content.body[1].facts, [{ title: 'payload', value: 'null' }]);
  });

  test('a template failure gives a request that is not sent, with the reason', async (t) => {
    // The size limit is what this test is about: no time limit on a slow machine.
    t.after(setRenderBudget({ timeMs: 60_000 }));
    const req = await prepareAttempt(
      delivery(
        { template: { text: '{% for i in (1..payload.n) %}0123456789{% endfor %}' } },
        { payload: '{"n":9000}' },
      ),
      NOW,
    );
    assert.match(req.failure ?? '', /^not sent: the endpoint's chat template renders to \d+ bytes/);
  });

  test('429 hints: Retry-After, X-RateLimit-Reset-After, body retry_after; the longest wins; at least 1 s', () => {
    const r429 = (headers: Record<string, string>, body = '') =>
      ({ ok: true, statusCode: 429, headers, body, durationMs: 1 }) as const;
    assert.equal(rateLimitDelay(r429({ 'retry-after': '3' }), NOW), 3000);
    assert.equal(rateLimitDelay(r429({ 'x-ratelimit-reset-after': '1.234' }), NOW), 1234);
    assert.equal(rateLimitDelay(r429({}, '{"retry_after": 2.5}'), NOW), 2500);
    assert.equal(
      rateLimitDelay(
        r429({ 'retry-after': '3', 'x-ratelimit-reset-after': '2.1' }, '{"retry_after":2.1}'),
        NOW,
      ),
      3000,
    );
    assert.equal(rateLimitDelay(r429({ 'retry-after': '0' }), NOW), 1000);
    assert.equal(rateLimitDelay(r429({}, 'not json'), NOW), null);
    assert.equal(rateLimitDelay(r429({}, '{"retry_after":"soon"}'), NOW), null);
    assert.equal(
      rateLimitDelay({ ok: true, statusCode: 503, headers: { 'retry-after': '3' }, body: '' }, NOW),
      null,
    );
  });

  test('a chat 429 is a free retry while the message is younger than the schedule; then it counts', () => {
    const r = {
      ok: true,
      statusCode: 429,
      headers: { 'retry-after': '9' },
      body: '',
      durationMs: 1,
    } as const;
    assert.deepEqual(decideOutcome(delivery(), r, NOW, DEFAULT_RETRY_POLICY), {
      kind: 'retry',
      at: NOW + 9000,
      rateLimited: true,
    });
    const span = DEFAULT_RETRY_POLICY.scheduleMs.reduce((a, b) => a + b, 0);
    const old = decideOutcome(
      delivery({}, { msgCreatedAt: NOW - span, attempts: 1 }),
      r,
      NOW,
      DEFAULT_RETRY_POLICY,
      () => 0.5,
    );
    assert.deepEqual(
      old,
      { kind: 'retry', at: NOW + 300_000 },
      'an old message: the schedule, Retry-After as a floor',
    );
    const http = decideOutcome(delivery({ kind: 'http' }), r, NOW, DEFAULT_RETRY_POLICY, () => 0.5);
    assert.deepEqual(http, { kind: 'retry', at: NOW + 9000 }, 'http endpoints keep counting 429s');
  });
});

describe('HOOKLINE_PUBLIC_URL', () => {
  test('a http(s) URL, trailing slashes dropped; anything else is a configuration error', () => {
    assert.equal(loadConfig({}).publicUrl, null);
    assert.equal(
      loadConfig({ HOOKLINE_PUBLIC_URL: 'https://hooks.example.com//' }).publicUrl,
      'https://hooks.example.com',
    );
    for (const bad of ['hooks.example.com', 'ftp://hooks.example.com']) {
      assert.throws(
        () => loadConfig({ HOOKLINE_PUBLIC_URL: bad }),
        (err) => err instanceof ConfigError && /HOOKLINE_PUBLIC_URL/.test(err.message),
      );
    }
  });
});
