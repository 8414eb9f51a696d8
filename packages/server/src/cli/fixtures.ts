/**
 * Test events for `hookline trigger`: payloads shaped like the ones each provider really sends
 * (field names, nesting, id formats), and the headers the provider adds besides its signature.
 * Values are made up; ids are fresh on every call so receivers that dedupe see new events.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { buildSalesforceOutboundMessage } from '@hookline/receiver';

export interface Fixture {
  /** The body, serialized once; these exact bytes are signed and sent. */
  body: string;
  /** Headers the provider sends besides the signature (content type, event name, delivery id). */
  headers: Record<string, string>;
  /** The id passed to the signer (Standard Webhooks `webhook-id`, Shopify event id). */
  id?: string;
}

/** Makes one event; `secret` is given for providers whose body names the receiver (Salesforce's org id). */
type Make = (now: Date, secret: string) => Fixture;

const rand = (n: number) => randomBytes(n).toString('base64url').replace(/[-_]/g, '').slice(0, n);
const unix = (d: Date) => Math.floor(d.getTime() / 1000);
const json = (v: unknown) => JSON.stringify(v);

// ---- Stripe: an Event object (https://docs.stripe.com/api/events/object) -------------------
function stripeEvent(type: string, object: Record<string, unknown>): Make {
  return (now) => ({
    body: json({
      id: `evt_${rand(24)}`,
      object: 'event',
      api_version: '2024-06-20',
      created: unix(now),
      data: { object: { ...object, created: unix(now) } },
      livemode: false,
      pending_webhooks: 1,
      request: { id: `req_${rand(14)}`, idempotency_key: randomUUID() },
      type,
    }),
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
    },
  });
}

const STRIPE: Record<string, Make> = {
  'payment_intent.succeeded': stripeEvent('payment_intent.succeeded', {
    id: `pi_${rand(24)}`,
    object: 'payment_intent',
    amount: 2000,
    amount_received: 2000,
    currency: 'usd',
    customer: `cus_${rand(14)}`,
    description: 'Hookline test payment',
    latest_charge: `ch_${rand(24)}`,
    livemode: false,
    metadata: { order_id: '6735' },
    payment_method: `pm_${rand(24)}`,
    payment_method_types: ['card'],
    status: 'succeeded',
  }),
  'checkout.session.completed': stripeEvent('checkout.session.completed', {
    id: `cs_test_${rand(40)}`,
    object: 'checkout.session',
    amount_subtotal: 4200,
    amount_total: 4200,
    currency: 'eur',
    customer: `cus_${rand(14)}`,
    customer_details: { email: 'jenny.rosen@example.com', name: 'Jenny Rosen' },
    mode: 'payment',
    payment_intent: `pi_${rand(24)}`,
    payment_status: 'paid',
    status: 'complete',
  }),
  'invoice.paid': stripeEvent('invoice.paid', {
    id: `in_${rand(24)}`,
    object: 'invoice',
    amount_due: 1500,
    amount_paid: 1500,
    currency: 'usd',
    customer: `cus_${rand(14)}`,
    number: 'HKL-0001',
    paid: true,
    status: 'paid',
    subscription: `sub_${rand(24)}`,
  }),
  'customer.subscription.created': stripeEvent('customer.subscription.created', {
    id: `sub_${rand(24)}`,
    object: 'subscription',
    customer: `cus_${rand(14)}`,
    status: 'active',
    items: {
      object: 'list',
      data: [
        {
          id: `si_${rand(14)}`,
          price: {
            id: `price_${rand(24)}`,
            unit_amount: 900,
            currency: 'usd',
            recurring: { interval: 'month' },
          },
          quantity: 1,
        },
      ],
    },
  }),
};

// ---- GitHub: webhook deliveries (https://docs.github.com/webhooks/webhook-events-and-payloads) --
const repository = {
  id: 1296269,
  node_id: 'MDEwOlJlcG9zaXRvcnkxMjk2MjY5',
  name: 'hello-world',
  full_name: 'octocat/hello-world',
  private: false,
  owner: { login: 'octocat', id: 1, type: 'User' },
  html_url: 'https://github.com/octocat/hello-world',
  default_branch: 'main',
};
const sender = { login: 'octocat', id: 1, node_id: 'MDQ6VXNlcjE=', type: 'User' };

function githubEvent(event: string, payload: (now: Date) => Record<string, unknown>): Make {
  return (now) => ({
    body: json(payload(now)),
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'GitHub-Hookshot/8f1c2a3',
      'X-GitHub-Event': event,
      'X-GitHub-Delivery': randomUUID(),
      'X-GitHub-Hook-ID': '429380931',
      'X-GitHub-Hook-Installation-Target-ID': String(repository.id),
      'X-GitHub-Hook-Installation-Target-Type': 'repository',
    },
  });
}

const sha = () => randomBytes(20).toString('hex');
const GITHUB: Record<string, Make> = {
  push: githubEvent('push', (now) => {
    const after = sha();
    return {
      ref: 'refs/heads/main',
      before: sha(),
      after,
      created: false,
      deleted: false,
      forced: false,
      compare: `https://github.com/octocat/hello-world/compare/${after.slice(0, 12)}`,
      commits: [
        {
          id: after,
          message: 'Fix the retry schedule',
          timestamp: now.toISOString(),
          author: { name: 'The Octocat', email: 'octocat@github.com', username: 'octocat' },
          added: [],
          removed: [],
          modified: ['src/retry.ts'],
        },
      ],
      head_commit: { id: after, message: 'Fix the retry schedule', timestamp: now.toISOString() },
      pusher: { name: 'octocat', email: 'octocat@github.com' },
      repository,
      sender,
    };
  }),
  'pull_request.opened': githubEvent('pull_request', (now) => ({
    action: 'opened',
    number: 42,
    pull_request: {
      id: 1_934_000_000,
      number: 42,
      state: 'open',
      title: 'Add webhook retries',
      user: sender,
      body: 'Retries failed deliveries with backoff.',
      created_at: now.toISOString(),
      head: { ref: 'retries', sha: sha() },
      base: { ref: 'main', sha: sha() },
      html_url: 'https://github.com/octocat/hello-world/pull/42',
      draft: false,
      merged: false,
    },
    repository,
    sender,
  })),
  'issues.opened': githubEvent('issues', (now) => ({
    action: 'opened',
    issue: {
      id: 2_000_000_001,
      number: 7,
      title: 'Deliveries stop after laptop sleep',
      state: 'open',
      user: sender,
      labels: [{ name: 'bug' }],
      created_at: now.toISOString(),
      html_url: 'https://github.com/octocat/hello-world/issues/7',
    },
    repository,
    sender,
  })),
  ping: githubEvent('ping', () => ({
    zen: 'Design for failure.',
    hook_id: 429380931,
    hook: { type: 'Repository', id: 429380931, active: true, events: ['push', 'pull_request'] },
    repository,
    sender,
  })),
};

// ---- Shopify: webhook topics (https://shopify.dev/docs/api/webhooks) -----------------------
function shopifyEvent(topic: string, payload: (now: Date) => Record<string, unknown>): Make {
  return (now) => {
    const id = randomUUID();
    return {
      id,
      body: json(payload(now)),
      headers: {
        'Content-Type': 'application/json',
        'X-Shopify-Topic': topic,
        'X-Shopify-Shop-Domain': 'hookline-test.myshopify.com',
        'X-Shopify-API-Version': '2025-01',
        'X-Shopify-Triggered-At': now.toISOString(),
      },
    };
  };
}

const gid = () => 820_982_911_946_154_500 + Math.floor(Math.random() * 1000);
const SHOPIFY: Record<string, Make> = {
  'orders/create': shopifyEvent('orders/create', (now) => {
    const id = gid();
    return {
      id,
      admin_graphql_api_id: `gid://shopify/Order/${id}`,
      name: '#1001',
      email: 'jon@example.com',
      created_at: now.toISOString(),
      currency: 'USD',
      financial_status: 'paid',
      total_price: '199.00',
      subtotal_price: '189.00',
      total_tax: '10.00',
      line_items: [
        { id: gid(), title: 'Aviator sunglasses', quantity: 1, price: '189.00', sku: 'SKU2006-001' },
      ],
      customer: { id: gid(), email: 'jon@example.com', first_name: 'Jon', last_name: 'Doe' },
    };
  }),
  'products/update': shopifyEvent('products/update', (now) => {
    const id = gid();
    return {
      id,
      admin_graphql_api_id: `gid://shopify/Product/${id}`,
      title: 'Aviator sunglasses',
      handle: 'aviator-sunglasses',
      status: 'active',
      updated_at: now.toISOString(),
      variants: [
        { id: gid(), product_id: id, title: 'Default Title', price: '189.00', inventory_quantity: 12 },
      ],
    };
  }),
  'customers/create': shopifyEvent('customers/create', (now) => ({
    id: gid(),
    email: 'jane@example.com',
    first_name: 'Jane',
    last_name: 'Doe',
    created_at: now.toISOString(),
    verified_email: true,
    currency: 'USD',
  })),
};

// ---- Slack: Events API (https://api.slack.com/apis/events-api) -----------------------------
function slackEvent(event: (now: Date) => Record<string, unknown>): Make {
  return (now) => ({
    body: json({
      token: rand(24),
      team_id: 'T0HKL1NE1',
      api_app_id: 'A0HKL1NE1',
      event: event(now),
      type: 'event_callback',
      event_id: `Ev0${rand(9).toUpperCase()}`,
      event_time: unix(now),
      authorizations: [{ team_id: 'T0HKL1NE1', user_id: 'U0HOOKBOT', is_bot: true }],
      is_ext_shared_channel: false,
    }),
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    },
  });
}
const slackTs = (now: Date) => `${unix(now)}.${String(now.getMilliseconds()).padStart(6, '0')}`;
const SLACK: Record<string, Make> = {
  app_mention: slackEvent((now) => ({
    type: 'app_mention',
    user: 'U061F7AUR',
    text: '<@U0HOOKBOT> is the deploy done?',
    ts: slackTs(now),
    channel: 'C0LAN2Q65',
    event_ts: slackTs(now),
  })),
  message: slackEvent((now) => ({
    type: 'message',
    channel: 'C0LAN2Q65',
    user: 'U061F7AUR',
    text: 'Webhooks are flowing again.',
    ts: slackTs(now),
    event_ts: slackTs(now),
    channel_type: 'channel',
  })),
  url_verification: (now) => ({
    body: json({ token: rand(24), challenge: rand(48), type: 'url_verification' }),
    headers: { 'Content-Type': 'application/json', 'X-Hookline-Generated-At': now.toISOString() },
  }),
};

// ---- Standard Webhooks: {type, timestamp, data} (https://www.standardwebhooks.com) ---------
function standardEvent(type: string, data: Record<string, unknown>): Make {
  return (now) => ({
    id: `msg_${rand(27)}`,
    body: json({ type, timestamp: now.toISOString(), data }),
    headers: { 'Content-Type': 'application/json' },
  });
}
const STANDARD: Record<string, Make> = {
  'invoice.paid': standardEvent('invoice.paid', {
    id: 'inv_1042',
    amount: 4200,
    currency: 'EUR',
    customer: 'cust_77',
  }),
  'user.created': standardEvent('user.created', {
    id: 'user_9',
    email: 'ada@example.com',
    name: 'Ada Lovelace',
  }),
  'order.shipped': standardEvent('order.shipped', {
    id: 'ord_311',
    carrier: 'DHL',
    tracking: 'JD014600006281230704',
  }),
};

// ---- Discord: interactions (https://discord.com/developers/docs/interactions/receiving-and-responding)
const snowflake = () =>
  `${(BigInt(Date.now() - 1_420_070_400_000) << 22n) | BigInt(randomInt(0, 4_194_304))}`;
const DISCORD_APP_ID = '1187265538310459392';
const discordUser = {
  id: '80351110224678912',
  username: 'ada',
  global_name: 'Ada',
  discriminator: '0',
  avatar: null,
};
function discordInteraction(type: number, extra: Record<string, unknown>): Make {
  return () => ({
    body: json({
      application_id: DISCORD_APP_ID,
      id: snowflake(),
      token: `aW50ZXJhY3Rpb246${rand(120)}`,
      type,
      version: 1,
      ...extra,
    }),
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'Discord-Interactions/1.0 (+https://discord.com)',
    },
  });
}
const DISCORD: Record<string, Make> = {
  ping: discordInteraction(1, { user: discordUser }),
  application_command: discordInteraction(2, {
    app_permissions: '562949953601536',
    channel_id: '1187265539191263242',
    data: {
      id: '1187271062213890048',
      name: 'deploy',
      options: [{ name: 'environment', type: 3, value: 'staging' }],
      type: 1,
    },
    entitlements: [],
    guild_id: '1187265538310459390',
    guild_locale: 'en-US',
    locale: 'en-US',
    member: { nick: null, roles: [], user: discordUser, permissions: '562949953601536' },
  }),
};

// ---- HubSpot: webhooks API, a JSON array of events (https://developers.hubspot.com/docs/api/webhooks)
function hubspotEvents(events: Record<string, unknown>[]): Make {
  return (now) => {
    const occurredAt = now.getTime();
    return {
      body: json(
        events.map((event, i) => ({
          eventId: randomInt(1, 2 ** 31),
          subscriptionId: 2_471_532 + i,
          portalId: 62_515,
          appId: 1_160_452,
          occurredAt,
          attemptNumber: 0,
          ...event,
        })),
      ),
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/)',
      },
    };
  };
}
const HUBSPOT: Record<string, Make> = {
  'contact.creation': hubspotEvents([
    { subscriptionType: 'contact.creation', objectId: 5_101, changeFlag: 'NEW', changeSource: 'CRM' },
  ]),
  'contact.propertyChange': hubspotEvents([
    {
      subscriptionType: 'contact.propertyChange',
      objectId: 5_101,
      propertyName: 'lifecyclestage',
      propertyValue: 'customer',
      changeSource: 'CRM_UI',
      sourceId: 'userId:2150924',
    },
  ]),
  'deal.creation': hubspotEvents([
    { subscriptionType: 'deal.creation', objectId: 9_044, changeFlag: 'NEW', changeSource: 'CRM_UI' },
    { subscriptionType: 'deal.creation', objectId: 9_045, changeFlag: 'NEW', changeSource: 'IMPORT' },
  ]),
};

// ---- Salesforce: Outbound Messaging, a SOAP envelope with one or more notifications -----------
const sfId = (prefix: string) => `${prefix}${rand(12)}AAA`.slice(0, 18);
function salesforceMessage(type: string, records: (() => Record<string, string | null>)[]): Make {
  return (_now, secret) => ({
    body: buildSalesforceOutboundMessage({
      organizationId: secret,
      actionId: '04k5g000000TqYbAAK',
      notifications: records.map((fields) => ({ id: sfId('04l'), sObject: { type, fields: fields() } })),
    }),
    headers: { 'User-Agent': 'Salesforce Outbound Messaging' },
  });
}
const SALESFORCE: Record<string, Make> = {
  Account: salesforceMessage('Account', [
    () => ({ Id: sfId('001'), Name: 'Acme Corporation', Industry: 'Manufacturing', Website: null }),
    () => ({ Id: sfId('001'), Name: 'Globex', Industry: 'Energy', Website: 'https://globex.example' }),
  ]),
  Opportunity: salesforceMessage('Opportunity', [
    () => ({ Id: sfId('006'), Name: 'Acme — 200 seats', StageName: 'Closed Won', Amount: '48000.0' }),
  ]),
};

/** Events by scheme; the scheme names are those of @hookline/receiver. */
export const FIXTURES: Record<string, Record<string, Make>> = {
  'standard-webhooks': STANDARD,
  stripe: STRIPE,
  github: GITHUB,
  shopify: SHOPIFY,
  slack: SLACK,
  discord: DISCORD,
  hubspot: HUBSPOT,
  salesforce: SALESFORCE,
};
