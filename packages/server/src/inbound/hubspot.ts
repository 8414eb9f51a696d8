/**
 * HubSpot webhooks at the gateway. HubSpot posts its events in batches (a JSON array of up to
 * 100 events, possibly of different subscription types) signed as a whole. Hookline stores the
 * request once and forwards each event as its own message (its own webhook-id), so destinations
 * can filter on `subscriptionType` (`contact.creation`, `deal.propertyChange`, ...) and an app
 * handles one event per request, like every other provider. The message body is the event
 * object as HubSpot sent it.
 *
 * HubSpot retries a batch that did not get a 2xx with the same `eventId`s: events are
 * deduplicated on `eventId` within the source's `dedupe` window, so a retried batch forwards
 * only what was not accepted before.
 */
import type { InboundPart } from '../store/store.ts';

/** One message per event of a HubSpot batch; null when the body is not a batch of events. */
export function hubspotParts(json: unknown, newId: () => string): InboundPart[] | null {
  if (!Array.isArray(json) || json.length === 0) return null;
  if (!json.every((e) => e !== null && typeof e === 'object' && !Array.isArray(e))) return null;
  return (json as Record<string, unknown>[]).map((e) => {
    const type = typeof e.subscriptionType === 'string' ? e.subscriptionType : 'hubspot.event';
    const id = e.eventId;
    return {
      msgId: newId(),
      eventType: type.slice(0, 256),
      dedupeKey: typeof id === 'number' || typeof id === 'string' ? String(id).slice(0, 512) : null,
      payload: JSON.stringify(e),
    };
  });
}
