/**
 * What chat rendering shares between the main thread and the render workers: the context a
 * template sees, Slack's escaping and the limits of a template. No imports, so every chat module
 * can use it without tying them together.
 */

/** What a chat message (default or template) is built from. */
export interface ChatContext {
  eventType: string;
  msgId: string;
  /** When the message was created, RFC 3339. */
  timestamp: string;
  /** The message payload; for an inbound event, its body when that is JSON, else null. */
  payload: unknown;
  /** The message in the dashboard, when `HOOKLINE_PUBLIC_URL` is set; else null. */
  link: string | null;
  endpoint: { id: string; uid: string | null; description: string };
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The longest template an endpoint may have (its JSON text), and the longest rendered body. */
export const TEMPLATE_MAX_BYTES = 16 * 1024;
export const RENDERED_MAX_BYTES = 64 * 1024;

/** The most strings, loops and nesting levels a template may have. */
export const TEMPLATE_MAX_STRINGS = 256;
export const TEMPLATE_MAX_LOOPS = 32;
export const TEMPLATE_MAX_DEPTH = 32;
