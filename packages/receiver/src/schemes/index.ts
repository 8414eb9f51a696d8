import type { Scheme } from '../scheme.ts';
import { standardWebhooks, svix } from '../standard-webhooks.ts';
import { discord } from './discord.ts';
import { github } from './github.ts';
import { hubspot } from './hubspot.ts';
import { paddle } from './paddle.ts';
import { salesforce } from './salesforce.ts';
import { shopify } from './shopify.ts';
import { slack } from './slack.ts';
import { stripe } from './stripe.ts';
import { twilio } from './twilio.ts';

/**
 * Built-in schemes by name. A new provider is one more entry (see `createHmacScheme` for
 * HMAC-over-a-template providers, or implement `Scheme` for anything else).
 */
export const schemes = {
  'standard-webhooks': standardWebhooks,
  svix,
  stripe,
  github,
  shopify,
  slack,
  twilio,
  paddle,
  discord,
  hubspot,
  salesforce,
} as const satisfies Record<string, Scheme>;

/** Name of a built-in scheme. */
export type SchemeName = keyof typeof schemes;

/** Names of the built-in schemes. */
export const SCHEME_NAMES = Object.keys(schemes) as SchemeName[];
