import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { safeEqual, utf8, utf8Text } from '../crypto.ts';
import { WebhookVerificationError } from '../errors.ts';
import type { ParsedRequest, Scheme } from '../scheme.ts';

/**
 * Salesforce Outbound Messaging: a SOAP 1.1 POST whose envelope holds a `<notifications>`
 * element with the organization id, the workflow action id, URLs and 1–100 `<Notification>`s,
 * each with the record (`sObject`) and the fields chosen in Setup.
 *
 * Outbound messages carry no signature. The check here is that `OrganizationId` is the
 * configured org id (the "secret", 15 or 18 characters); make it stronger with Salesforce's
 * client certificate (mutual TLS at your proxy) and an allowlist of Salesforce's IP ranges.
 * Salesforce retries a message for up to 24 hours until the answer is {@link salesforceAck}.
 */

const NAME = 'salesforce';
const OUTBOUND_NS = 'http://soap.sforce.com/2005/09/outbound';
const SOAP_ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
const XSD_NS = 'http://www.w3.org/2001/XMLSchema';
const SOBJECT_NS = 'urn:sobject.enterprise.soap.sforce.com';
const ORG_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;

/** One record in an outbound message. */
export interface SalesforceSObject {
  /** The object's API name without the `sf:` prefix, e.g. `Account`, `Opportunity`, `My_Object__c`. */
  readonly type: string;
  /** The record id (the `Id` field), when the message includes it (it always does from Salesforce). */
  readonly id: string | undefined;
  /** The fields sent, by API name (including `Id`); `null` for a field sent as `xsi:nil` (empty in Salesforce). */
  readonly fields: Readonly<Record<string, string | null>>;
}

/** One `<Notification>`: retries of the same message carry the same id (deduplicate on it). */
export interface SalesforceNotification {
  readonly id: string;
  readonly sObject: SalesforceSObject;
}

/** A parsed Outbound Messaging envelope. */
export interface SalesforceOutboundMessage {
  /** 18-character organization id (`00D...`). */
  readonly organizationId: string;
  /** Id of the outbound message workflow action (`04k...`). */
  readonly actionId: string;
  /** Session id, when the outbound message is configured to send one; otherwise null. */
  readonly sessionId: string | null;
  readonly enterpriseUrl: string | null;
  readonly partnerUrl: string | null;
  readonly notifications: readonly SalesforceNotification[];
}

/** Input for {@link buildSalesforceOutboundMessage}; ids and URLs default to realistic values. */
export interface SalesforceOutboundMessageInput {
  readonly organizationId: string;
  readonly actionId?: string | undefined;
  readonly sessionId?: string | null | undefined;
  readonly enterpriseUrl?: string | null | undefined;
  readonly partnerUrl?: string | null | undefined;
  readonly notifications: readonly {
    readonly id: string;
    readonly sObject: {
      readonly type: string;
      readonly id?: string | undefined;
      readonly fields?: Readonly<Record<string, string | null>> | undefined;
    };
  }[];
}

function malformedBody(detail: string): WebhookVerificationError {
  return new WebhookVerificationError(
    'malformed_body',
    `${detail}; Salesforce Outbound Messaging sends a SOAP envelope with a <notifications> element`,
    { scheme: NAME },
  );
}

// Prefixes removed (Salesforce uses soapenv:, sf:, xsi:, and a default namespace for the rest);
// text kept as sent, so values are not trimmed or converted to numbers.
const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  isArray: (name) => name === 'Notification' || name === 'notifications',
});

type XmlNode = Record<string, unknown>;

function isNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A leaf's text, `null` for `xsi:nil`, or undefined when the element is absent or not text. */
function leafText(value: unknown): string | null | undefined {
  if (typeof value === 'string') return value;
  if (isNode(value)) {
    if (value['@_nil'] === 'true') return null;
    const text = value['#text'];
    if (typeof text === 'string') return text;
    // An empty element that only carries attributes (e.g. xsi:type) is an empty string.
    if (Object.keys(value).every((key) => key.startsWith('@_'))) return '';
  }
  return undefined;
}

function requiredText(node: XmlNode, name: string, where: string): string {
  const text = leafText(node[name])?.trim();
  if (text === undefined || text === '') throw malformedBody(`${where} has no ${name}`);
  return text;
}

function optionalText(node: XmlNode, name: string): string | null {
  return leafText(node[name])?.trim() ?? null;
}

function child(node: unknown, name: string): unknown {
  return isNode(node) ? node[name] : undefined;
}

function parseSObject(value: unknown, where: string): SalesforceSObject {
  if (!isNode(value)) throw malformedBody(`${where} has no sObject`);
  const typeAttribute = value['@_type'];
  if (typeof typeAttribute !== 'string' || typeAttribute === '') {
    throw malformedBody(`${where}: the sObject has no xsi:type`);
  }
  const fields: Record<string, string | null> = {};
  for (const [name, fieldValue] of Object.entries(value)) {
    if (name.startsWith('@_') || name === '#text') continue;
    // A field repeated (not sent by Salesforce) keeps its last value.
    const last = Array.isArray(fieldValue) ? fieldValue[fieldValue.length - 1] : fieldValue;
    const text = leafText(last);
    if (text !== undefined) fields[name] = text;
  }
  const id = fields.Id;
  return {
    type: typeAttribute.slice(typeAttribute.indexOf(':') + 1),
    id: id === null || id === undefined ? undefined : id.trim(),
    fields,
  };
}

/**
 * Parses a Salesforce Outbound Messaging SOAP envelope. Throws {@link WebhookVerificationError}
 * `malformed_body` when the body is not well-formed XML or not a `<notifications>` envelope.
 *
 * ```ts
 * const message = parseSalesforceOutboundMessage(rawBody);
 * for (const { id, sObject } of message.notifications) console.log(id, sObject.type, sObject.fields.Name);
 * ```
 */
export function parseSalesforceOutboundMessage(body: Uint8Array | string): SalesforceOutboundMessage {
  const text = typeof body === 'string' ? body : utf8Text(body);
  // SOAP forbids a DTD; refusing it also keeps entity expansion out of the parser.
  if (/<!DOCTYPE/i.test(text)) throw malformedBody('the body has a DOCTYPE, which SOAP messages never carry');
  if (XMLValidator.validate(text) !== true) throw malformedBody('the body is not well-formed XML');
  let document: unknown;
  try {
    document = parser.parse(text);
  } catch (error) {
    throw new WebhookVerificationError('malformed_body', 'the body cannot be parsed as XML', {
      scheme: NAME,
      cause: error,
    });
  }
  const list = child(child(child(document, 'Envelope'), 'Body'), 'notifications');
  if (!Array.isArray(list) || list.length === 0) throw malformedBody('no <notifications> in the SOAP body');
  if (list.length > 1) throw malformedBody('the SOAP body holds more than one <notifications> element');
  const root: unknown = list[0];
  if (!isNode(root)) throw malformedBody('<notifications> is empty');
  const entries = root.Notification;
  if (!Array.isArray(entries) || entries.length === 0)
    throw malformedBody('<notifications> has no <Notification>');
  const notifications = entries.map((entry: unknown, index): SalesforceNotification => {
    const where = `Notification ${index + 1}`;
    if (!isNode(entry)) throw malformedBody(`${where} is empty`);
    return { id: requiredText(entry, 'Id', where), sObject: parseSObject(entry.sObject, where) };
  });
  return {
    organizationId: requiredText(root, 'OrganizationId', '<notifications>'),
    actionId: requiredText(root, 'ActionId', '<notifications>'),
    sessionId: optionalText(root, 'SessionId'),
    enterpriseUrl: optionalText(root, 'EnterpriseUrl'),
    partnerUrl: optionalText(root, 'PartnerUrl'),
    notifications,
  };
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  format: true,
  indentBy: ' ',
  suppressBooleanAttributes: false,
  suppressEmptyNode: true,
});

const XML_DECLARATION = { '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' } };

function soapEnvelope(body: XmlNode, extraNamespaces: XmlNode = {}): string {
  return builder.build({
    ...XML_DECLARATION,
    'soapenv:Envelope': { '@_xmlns:soapenv': SOAP_ENV_NS, ...extraNamespaces, 'soapenv:Body': body },
  }) as string;
}

const nil = { '@_xsi:nil': 'true' };
const textOrNil = (value: string | null) => (value === null ? nil : value);

/**
 * The SOAP answer Salesforce expects. With `<Ack>true</Ack>` the message is done; anything
 * else (including `ack = false` or an HTTP error) makes Salesforce retry it later.
 */
export function salesforceAck(ack = true): string {
  return soapEnvelope({ notificationsResponse: { '@_xmlns': OUTBOUND_NS, Ack: String(ack) } });
}

/**
 * Builds an Outbound Messaging envelope as Salesforce sends it: for tests, fixtures and
 * `hookline trigger`. `fields` are written in order after `Id`; `null` is sent as `xsi:nil`.
 */
export function buildSalesforceOutboundMessage(input: SalesforceOutboundMessageInput): string {
  const org = input.organizationId;
  const instance = 'https://example.my.salesforce.com/services/Soap';
  const notifications = {
    '@_xmlns': OUTBOUND_NS,
    OrganizationId: org,
    ActionId: input.actionId ?? '04k000000000001AAA',
    SessionId: textOrNil(input.sessionId ?? null),
    EnterpriseUrl: textOrNil(
      input.enterpriseUrl === undefined ? `${instance}/c/62.0/${org.slice(0, 15)}` : input.enterpriseUrl,
    ),
    PartnerUrl: textOrNil(
      input.partnerUrl === undefined ? `${instance}/u/62.0/${org.slice(0, 15)}` : input.partnerUrl,
    ),
    Notification: input.notifications.map(({ id, sObject }) => {
      const record: XmlNode = { '@_xsi:type': `sf:${sObject.type}`, '@_xmlns:sf': SOBJECT_NS };
      const id18 = sObject.id ?? sObject.fields?.Id;
      if (id18 !== undefined && id18 !== null) record['sf:Id'] = id18;
      for (const [name, value] of Object.entries(sObject.fields ?? {})) {
        if (name !== 'Id') record[`sf:${name}`] = value === '' ? { '#text': '' } : textOrNil(value);
      }
      return { Id: id, sObject: record };
    }),
  };
  return soapEnvelope({ notifications }, { '@_xmlns:xsd': XSD_NS, '@_xmlns:xsi': XSI_NS });
}

/** Org ids compare on their 15 case-sensitive characters; when both have 18, on all of them. */
function sameOrganization(configured: string, sent: string): boolean {
  const length = configured.length === 18 && sent.length === 18 ? 18 : 15;
  return safeEqual(utf8(configured.slice(0, length)), utf8(sent.slice(0, length)));
}

interface SalesforceState {
  readonly message: SalesforceOutboundMessage;
}

/** Salesforce Outbound Messaging: the envelope's OrganizationId must be the configured org id. */
export const salesforce: Scheme = {
  name: NAME,
  parse(request): ParsedRequest {
    const state: SalesforceState = { message: parseSalesforceOutboundMessage(request.body) };
    return { state };
  },
  validateSecret(secret) {
    if (!ORG_ID.test(secret)) {
      throw new WebhookVerificationError(
        'invalid_secret',
        `the secret must be the Salesforce organization id, 15 or 18 letters and digits (Setup → Company Information → Salesforce.com Organization ID, 00D...); got ${secret.length} characters`,
        { scheme: NAME },
      );
    }
  },
  check(secret, parsed) {
    const { message } = parsed.state as SalesforceState;
    return sameOrganization(secret, message.organizationId);
  },
  secretHint: (secret) =>
    secret.startsWith('00D') ? undefined : 'organization ids start with 00D: check the configured id',
  requestHint(parsed) {
    const { message } = parsed.state as SalesforceState;
    return `outbound messages carry no signature: the envelope's OrganizationId ${message.organizationId} is not the configured organization id`;
  },
  sign() {
    return { headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '""' } };
  },
};
