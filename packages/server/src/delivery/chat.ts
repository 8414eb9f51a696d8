/**
 * Chat destinations: endpoints of kind `slack`, `discord` or `teams` whose URL is the
 * platform's incoming-webhook URL. Instead of the signed payload, each message goes out as the
 * platform's own chat message:
 *
 * - Slack (incoming webhook): `{text, blocks}`: a mrkdwn section with the event type and the
 *   link, a section of key fields, a context line with the message id and time.
 * - Discord (webhook): `{content, embeds: [{title, description, fields, timestamp, url}]}`
 *   within Discord's limits (title 256, description 4096, 25 fields of 1024, 6000 in all).
 * - Microsoft Teams (Workflows or connector): a message with one Adaptive Card 1.4 (a title,
 *   a FactSet of key fields, an `Action.OpenUrl` to the message).
 *
 * An endpoint `template` replaces the default: a JSON object whose string values are Liquid
 * templates, rendered against `{eventType, msgId, timestamp, payload, link, endpoint}` in a
 * render worker under one budget for the whole template (`chat-renderer.ts`), never on the
 * event loop that serves the API.
 * The request is JSON, unsigned (these platforms reject or ignore unknown headers), with the
 * endpoint's custom headers.
 */
import type { ChatKind } from '../core/types.ts';
import type { ClaimedDelivery } from '../store/store.ts';
import {
  type ChatContext,
  escapeSlack,
  RENDERED_MAX_BYTES,
  TEMPLATE_MAX_BYTES,
  TEMPLATE_MAX_DEPTH,
  TEMPLATE_MAX_LOOPS,
  TEMPLATE_MAX_STRINGS,
} from './chat-limits.ts';
import { renderInWorker } from './chat-renderer.ts';
import type { SendRequest } from './sender.ts';

export interface ChatOptions {
  /** `HOOKLINE_PUBLIC_URL`: where the dashboard is reachable, for links to a message. */
  publicUrl?: string | null;
}

/** Key fields shown by the default messages. */
export const MAX_FIELDS = 10;

/** Cuts `s` to at most `max` characters (code points), ending with an ellipsis when cut. */
export function truncate(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  return `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/**
 * Escaped for Slack and at most `max` characters once escaped (Slack counts the escaped text),
 * never cutting an entity such as `&amp;` in half.
 */
export function slackText(s: string, max: number): string {
  const escaped = escapeSlack(s);
  if ([...escaped].length <= max) return escaped;
  const cut = [...escaped].slice(0, Math.max(0, max - 1)).join('');
  return `${cut.replace(/&[a-z]{0,3}$/, '')}…`;
}

/**
 * Markdown in message text that Discord or Teams would read: characters that start or end
 * formatting (bold, italics, strike-through, code, Discord's spoilers) or a masked link
 * `[text](url)`, and Discord's mentions `<@id>`, `<@&role>`, `<#channel>`, each escaped with a
 * backslash (both show `\*` as `*`). An `_` inside a word (`payment_failed`) is left alone: it
 * formats nothing there.
 */
const INLINE_MARKDOWN = {
  discord: /[\\*~|`[\]<]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu,
  teams: /[\\*~`[\]]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu,
} as const;

/** Payload text made plain for Discord or Teams markdown (see `INLINE_MARKDOWN`). */
export function escapeMarkdown(s: string, flavour: 'discord' | 'teams'): string {
  let out = s
    .replace(INLINE_MARKDOWN[flavour], '\\$&')
    // At the start of a line: headings, quotes, bullets (`* ` is escaped above), numbered lists.
    .replace(/^([ \t]*)([#>+-])/gm, '$1\\$2')
    .replace(/^([ \t]*)(\d+)\./gm, '$1$2\\.');
  // `allowed_mentions` already keeps these from pinging anyone; they should not even look like a ping.
  if (flavour === 'discord') out = out.replace(/@(everyone|here)/gi, '@\u200b$1');
  return out;
}

/**
 * Escaped for Discord or Teams and at most `max` characters once escaped (Discord counts the
 * escaped text), never ending in a lone backslash that would escape the ellipsis.
 */
export function markdownText(s: string, max: number, flavour: 'discord' | 'teams'): string {
  const escaped = escapeMarkdown(s, flavour);
  const chars = [...escaped];
  if (chars.length <= max) return escaped;
  let cut = chars.slice(0, Math.max(0, max - 1)).join('');
  if ((/\\+$/.exec(cut)?.[0].length ?? 0) % 2 === 1) cut = cut.slice(0, -1);
  return `${cut}…`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function scalarText(v: unknown): string | null {
  if (v === null) return 'null';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

/**
 * Up to `max` key fields of a payload: its scalar top-level fields, and the scalar fields of
 * objects one level down (`customer.email`). Arrays and deeper values are left out; a payload
 * that is not an object shows as one `payload` field.
 */
export function keyFields(payload: unknown, max = MAX_FIELDS): [string, string][] {
  const out: [string, string][] = [];
  if (payload === undefined) return out;
  if (!isPlainObject(payload)) {
    out.push(['payload', scalarText(payload) ?? JSON.stringify(payload)]);
    return out;
  }
  for (const [k, v] of Object.entries(payload)) {
    if (out.length >= max) break;
    const text = scalarText(v);
    if (text !== null) out.push([k, text]);
    else if (isPlainObject(v)) {
      for (const [k2, v2] of Object.entries(v)) {
        if (out.length >= max) break;
        const t2 = scalarText(v2);
        if (t2 !== null) out.push([`${k}.${k2}`, t2]);
      }
    }
  }
  return out;
}

/** The context of one delivery. */
export function chatContext(d: ClaimedDelivery, options: ChatOptions = {}): ChatContext {
  // An inbound event's body is rendered when it is JSON (whatever its declared type says); a
  // payload that is not JSON (emptied by retention) renders as null rather than failing.
  let payload: unknown = null;
  try {
    payload = JSON.parse(d.inbound ? d.inbound.body.toString('utf8') : d.payload);
  } catch {
    payload = null;
  }
  const base = options.publicUrl?.replace(/\/+$/, '');
  return {
    eventType: d.eventType,
    msgId: d.msgId,
    timestamp: new Date(d.msgCreatedAt).toISOString(),
    payload,
    link: base ? `${base}/apps/${encodeURIComponent(d.appId)}/msg/${encodeURIComponent(d.msgId)}` : null,
    endpoint: { id: d.endpointId, uid: d.endpoint.uid, description: d.endpoint.description },
  };
}

// ---- the default messages ------------------------------------------------------------------

/** Slack: section text 3000, field text 2000, at most 10 fields; `text` is the notification. */
export function renderSlack(c: ChatContext): Record<string, unknown> {
  const title = `*${slackText(c.eventType, 200)}*`;
  const link = c.link ? `\n<${c.link}|View message in Hookline>` : '';
  const blocks: Record<string, unknown>[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `${title}${link}` } },
  ];
  const fields = keyFields(c.payload, 10).map(([k, v]) => ({
    type: 'mrkdwn',
    text: `*${slackText(k, 100)}*\n${slackText(v, 1800)}`,
  }));
  if (fields.length > 0) blocks.push({ type: 'section', fields });
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `Message \`${escapeSlack(c.msgId)}\` · ${c.timestamp}` }],
  });
  const summary = keyFields(c.payload, 3)
    .map(([k, v]) => `${k}: ${truncate(v, 80)}`)
    .join(', ');
  return {
    text: slackText(summary ? `${c.eventType}: ${summary}` : c.eventType, 3000),
    blocks,
  };
}

/** Discord's documented embed limits. */
export const DISCORD_LIMITS = {
  content: 2000,
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  total: 6000,
} as const;

export function renderDiscord(c: ChatContext): Record<string, unknown> {
  const L = DISCORD_LIMITS;
  // Payload text is escaped: a payload cannot format the message, hide a link behind text or
  // show a mention. (The message id is Hookline's own.)
  const title = markdownText(c.eventType, L.title, 'discord');
  const description = truncate(`Message \`${c.msgId}\``, L.description);
  // Discord refuses empty field names and values.
  let fields = keyFields(c.payload, L.fields).map(([k, v]) => ({
    name: markdownText(k, L.fieldName, 'discord') || '\u200b',
    value: markdownText(v, L.fieldValue, 'discord') || '\u200b',
    inline: v.length <= 40,
  }));
  const size = () =>
    [...title].length +
    [...description].length +
    fields.reduce((n, f) => n + [...f.name].length + [...f.value].length, 0);
  // Over the total: drop fields from the end (the first ones are the most telling).
  while (fields.length > 0 && size() > L.total) fields = fields.slice(0, -1);
  const embed: Record<string, unknown> = { title, description, fields, timestamp: c.timestamp };
  if (c.link) embed.url = c.link;
  return {
    content: `**${markdownText(c.eventType, L.content - 4, 'discord')}**`,
    embeds: [embed],
    // A payload must never ping @everyone, roles or users.
    allowed_mentions: { parse: [] },
  };
}

/** Teams refuses messages over about 28 KB; facts are kept well below it. */
export const TEAMS_LIMITS = { factTitle: 200, factValue: 1000, total: 24_000 } as const;

export function renderTeams(c: ChatContext): Record<string, unknown> {
  // TextBlocks and facts read markdown: payload text is escaped (the message id is Hookline's own).
  let facts = keyFields(c.payload, MAX_FIELDS).map(([k, v]) => ({
    title: markdownText(k, TEAMS_LIMITS.factTitle, 'teams'),
    value: markdownText(v, TEAMS_LIMITS.factValue, 'teams'),
  }));
  const build = () => {
    const body: Record<string, unknown>[] = [
      {
        type: 'TextBlock',
        text: markdownText(c.eventType, 500, 'teams'),
        weight: 'Bolder',
        size: 'Medium',
        wrap: true,
      },
    ];
    if (facts.length > 0) body.push({ type: 'FactSet', facts });
    body.push({
      type: 'TextBlock',
      text: `Message ${c.msgId} · ${c.timestamp}`,
      isSubtle: true,
      size: 'Small',
      wrap: true,
    });
    const content: Record<string, unknown> = {
      $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
      type: 'AdaptiveCard',
      version: '1.4',
      body,
    };
    if (c.link)
      content.actions = [{ type: 'Action.OpenUrl', title: 'View message in Hookline', url: c.link }];
    return {
      type: 'message',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }],
    };
  };
  let message = build();
  while (facts.length > 0 && Buffer.byteLength(JSON.stringify(message)) > TEAMS_LIMITS.total) {
    facts = facts.slice(0, -1);
    message = build();
  }
  return message;
}

const DEFAULT_RENDERERS: Record<ChatKind, (c: ChatContext) => Record<string, unknown>> = {
  slack: renderSlack,
  discord: renderDiscord,
  teams: renderTeams,
};

export function renderDefault(kind: ChatKind, c: ChatContext): Record<string, unknown> {
  return DEFAULT_RENDERERS[kind](c);
}

// ---- templates ----------------------------------------------------------------------------
// Liquid runs in worker threads under one budget per render (`chat-renderer.ts`,
// `chat-template.ts`); here are the caps checked before a template goes there, and the
// asynchronous entry points.

/** A template that cannot be used: the message says why. */
export class ChatTemplateError extends Error {
  /** Where in the template (JSON path of keys). */
  readonly path: (string | number)[];
  /** It went over its render budget (time, steps, memory), as opposed to being wrong. */
  readonly budget: boolean;
  constructor(message: string, path: (string | number)[] = [], budget = false) {
    super(message);
    this.name = 'ChatTemplateError';
    this.path = path;
    this.budget = budget;
  }
}

/**
 * Caps on a template's shape, checked when it is saved: strings (each one is a Liquid
 * template), loops (`for`, `tablerow`) and nesting. Its size is `TEMPLATE_MAX_BYTES`.
 */

/** The size, strings and depth of a template: a problem, or null. No Liquid involved. */
export function templateShapeProblem(template: Record<string, unknown>): ChatTemplateError | null {
  const size = Buffer.byteLength(JSON.stringify(template));
  if (size > TEMPLATE_MAX_BYTES)
    return new ChatTemplateError(`is ${size} bytes, more than ${TEMPLATE_MAX_BYTES}`);
  let strings = 0;
  // Without recursion: a deep template is refused, not a stack overflow.
  const todo: { value: unknown; path: (string | number)[] }[] = [{ value: template, path: [] }];
  for (let item = todo.pop(); item; item = todo.pop()) {
    const { value, path } = item;
    if (typeof value === 'string') {
      if (++strings > TEMPLATE_MAX_STRINGS)
        return new ChatTemplateError(`has more than ${TEMPLATE_MAX_STRINGS} strings`, path);
    } else if (typeof value === 'object' && value !== null) {
      if (path.length >= TEMPLATE_MAX_DEPTH)
        return new ChatTemplateError(`nests deeper than ${TEMPLATE_MAX_DEPTH} levels`, path);
      const entries: [string | number, unknown][] = Array.isArray(value)
        ? value.map((v, i) => [i, v])
        : Object.entries(value);
      for (const [k, v] of entries) todo.push({ value: v, path: [...path, k] });
    }
  }
  return null;
}

function templateError(r: { message: string; path: (string | number)[]; budget: boolean }) {
  return new ChatTemplateError(r.message, r.path, r.budget);
}

/**
 * Renders every string of `template` against `c` in a render worker, under one budget for the
 * whole template; rejects with `ChatTemplateError`.
 */
export async function renderTemplate(
  template: Record<string, unknown>,
  c: ChatContext,
): Promise<Record<string, unknown>> {
  return JSON.parse(await renderTemplateJson(template, c));
}

async function renderTemplateJson(template: Record<string, unknown>, c: ChatContext): Promise<string> {
  const shape = templateShapeProblem(template);
  if (shape) throw shape;
  const r = await renderInWorker('render', template, c);
  if (!r.ok) throw templateError(r);
  return r.json;
}

/** The context a template is tried against when saved. */
export const SAMPLE_CONTEXT: ChatContext = {
  eventType: 'invoice.paid',
  msgId: 'msg_2bVxUn2pUa5NhGTZdsjMbyZTxFK',
  timestamp: '2026-01-01T00:00:00.000Z',
  payload: { id: 'in_123', amount: 4200, currency: 'eur', customer: { email: 'ada@example.com' } },
  link: 'https://hooks.example.com/apps/app_1/msg/msg_2bVxUn2pUa5NhGTZdsjMbyZTxFK',
  endpoint: { id: 'ep_2bVxUn2pUa5NhGTZdsjMbyZTxFK', uid: 'team-chat', description: 'Team chat' },
};

/**
 * Checks a template when it is saved: its size, strings, loops and nesting are within the caps,
 * every string parses, and it renders against a sample message within the render budget. Runs
 * in a render worker; the answer is the problem, or null.
 */
export async function checkTemplate(template: Record<string, unknown>): Promise<ChatTemplateError | null> {
  const shape = templateShapeProblem(template);
  if (shape) return shape;
  const r = await renderInWorker('check', template, SAMPLE_CONTEXT);
  return r.ok ? null : templateError(r);
}

/**
 * The request for one attempt to a chat destination: the rendered message as JSON, the
 * endpoint's custom headers, no signature. A template that fails to render (or goes over its
 * budget) gives a request with `failure` set: the attempt fails with that reason without being sent.
 */
export async function prepareChatRequest(
  d: ClaimedDelivery,
  kind: ChatKind,
  customHeaders: Record<string, string>,
  options: ChatOptions = {},
): Promise<SendRequest> {
  const headers = { ...customHeaders, 'content-type': 'application/json' };
  const c = chatContext(d, options);
  let body: string;
  try {
    body = d.endpoint.template
      ? await renderTemplateJson(d.endpoint.template, c)
      : JSON.stringify(renderDefault(kind, c));
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    const where = err instanceof ChatTemplateError && err.path.length > 0 ? ` at ${err.path.join('.')}` : '';
    return {
      url: d.endpoint.url,
      headers,
      body: '',
      failure:
        err instanceof ChatTemplateError
          ? `not sent: the endpoint's chat template${where} ${why}`
          : `not sent: ${why}`,
    };
  }
  return { url: d.endpoint.url, headers, body, logBody: true };
}

export {
  type ChatContext,
  escapeSlack,
  RENDERED_MAX_BYTES,
  TEMPLATE_MAX_BYTES,
  TEMPLATE_MAX_DEPTH,
  TEMPLATE_MAX_LOOPS,
  TEMPLATE_MAX_STRINGS,
};
