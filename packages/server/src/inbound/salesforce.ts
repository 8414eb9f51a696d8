/**
 * Salesforce Outbound Messaging at the gateway. One SOAP request carries up to 100
 * notifications (more are refused); Hookline stores the request once and forwards each notification as its own
 * message (its own webhook-id), with a JSON body:
 *
 * ```json
 * {
 *   "organizationId": "00D...", "actionId": "04k...", "notificationId": "04l...",
 *   "sObject": { "type": "Account", "id": "001...", "fields": { "Id": "001...", "Name": "Acme" } },
 *   "sessionId": null, "enterpriseUrl": "https://...", "partnerUrl": "https://..."
 * }
 * ```
 *
 * The event type is `salesforce.{sObject type}`. Notifications are deduplicated on their id
 * (Salesforce resends the same ids until it gets an Ack), so a retry is acknowledged again and
 * forwards nothing twice. The Ack is sent only after the request and its messages are stored.
 */
import type { SalesforceOutboundMessage } from '@hookline/receiver';
import { XMLBuilder } from 'fast-xml-parser';
import type { InboundPart } from '../store/store.ts';
import type { HandshakeAnswer } from './handshakes.ts';
import { salesforceEventType } from './rules.ts';

/**
 * The most notifications Salesforce puts in one Outbound Message. A message with more did not
 * come from Salesforce and is refused (`too_many_notifications`, with a SOAP fault).
 */
export const SALESFORCE_MAX_NOTIFICATIONS = 100;

/** One message per notification; the notification id is its dedupe key. */
export function salesforceParts(message: SalesforceOutboundMessage, newId: () => string): InboundPart[] {
  return message.notifications.map((n) => ({
    msgId: newId(),
    eventType: salesforceEventType(n.sObject.type).slice(0, 256),
    dedupeKey: n.id.slice(0, 512),
    payload: JSON.stringify({
      organizationId: message.organizationId,
      actionId: message.actionId,
      notificationId: n.id,
      sObject: { type: n.sObject.type, id: n.sObject.id ?? null, fields: n.sObject.fields },
      sessionId: message.sessionId,
      enterpriseUrl: message.enterpriseUrl,
      partnerUrl: message.partnerUrl,
    }),
  }));
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_' });

/**
 * The answer to an Outbound Message that is refused (a wrong organization id: 401; too many
 * notifications: 413): a SOAP 1.1 fault (`soapenv:Client`, the error code and detail as its
 * faultstring). It carries no Ack, so Salesforce retries the message (for up to 24 hours) and
 * shows the fault in its Outbound Messaging delivery status.
 */
export function salesforceFault(code: string, detail: string): HandshakeAnswer {
  const body = builder.build({
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    'soapenv:Envelope': {
      '@_xmlns:soapenv': 'http://schemas.xmlsoap.org/soap/envelope/',
      'soapenv:Body': {
        'soapenv:Fault': { faultcode: 'soapenv:Client', faultstring: `${code}: ${detail}` },
      },
    },
  }) as string;
  return { contentType: 'text/xml; charset=utf-8', body };
}
