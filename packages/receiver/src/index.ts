export { type BodyBytes, type RawBody, toBodyBuffer } from './body.ts';
export type { HmacAlgorithm, SignatureEncoding } from './crypto.ts';
export {
  ERROR_CODES,
  isWebhookVerificationError,
  WEBHOOK_ERROR_CODES,
  type WebhookErrorCode,
  WebhookVerificationError,
} from './errors.ts';
export { createHeaderReader, type HeaderReader, type HeadersInput } from './headers.ts';
export {
  createIdempotencyGuard,
  createMemoryIdempotencyStore,
  createSqliteIdempotencyStore,
  type IdempotencyGuard,
  type IdempotencyGuardOptions,
  type IdempotencyStore,
  type MemoryIdempotencyStoreOptions,
  type SqliteIdempotencyStoreOptions,
} from './idempotency.ts';
export {
  createExpressWebhookMiddleware,
  type ExpressLikeRequest,
  type ExpressWebhookOptions,
} from './middleware/express.ts';
export {
  createFastifyWebhookPlugin,
  type FastifyLikeRequest,
  type FastifyWebhookOptions,
} from './middleware/fastify.ts';
export {
  createHonoWebhookMiddleware,
  type HonoWebhookOptions,
  type HonoWebhookVariables,
} from './middleware/hono.ts';
export {
  createNodeWebhookHandler,
  type NodeWebhookOptions,
  readRawBody,
  type VerifiedNodeRequest,
  verifyNodeRequest,
} from './middleware/node.ts';
export { withRequestQuery } from './request-url.ts';
export type { SchemeInput } from './resolve.ts';
export type { ParsedRequest, RequestParts, Scheme, SignParts, SignResult } from './scheme.ts';
export {
  type DiscordKeyPair,
  discordPublicKeyFromSeed,
  generateDiscordKeyPair,
} from './schemes/discord.ts';
export { createHmacScheme, type GenericHmacConfig } from './schemes/generic-hmac.ts';
export { createGithubScheme, type GithubSchemeOptions } from './schemes/github.ts';
export {
  defineHmacScheme,
  type HmacHeaderFields,
  type HmacSchemeSpec,
  type SignedFields,
} from './schemes/hmac-scheme.ts';
export {
  createHubspotScheme,
  type HubspotSchemeOptions,
  type HubspotSignatureVersion,
  hubspotV3Uri,
} from './schemes/hubspot.ts';
export { SCHEME_NAMES, type SchemeName, schemes } from './schemes/index.ts';
export {
  buildSalesforceOutboundMessage,
  parseSalesforceOutboundMessage,
  type SalesforceNotification,
  type SalesforceOutboundMessage,
  type SalesforceOutboundMessageInput,
  type SalesforceSObject,
  salesforceAck,
} from './schemes/salesforce.ts';
export { type SignOptions, sign } from './sign.ts';
export {
  createStandardWebhooksScheme,
  type Ed25519KeyPair,
  ed25519KeyPairFromSeed,
  ed25519PublicKeyFor,
  generateEd25519KeyPair,
  generateStandardWebhooksSecret,
  type StandardWebhooksSchemeOptions,
} from './standard-webhooks.ts';
export { type VerifyOptions, type VerifyResult, verify } from './verify.ts';
