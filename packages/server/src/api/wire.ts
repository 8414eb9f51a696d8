/**
 * Records to wire objects. Responses carry both the v1 and v2 Svix spellings of renamed fields
 * (`eventTypes` + `filterTypes`, `throttleRate` + `rateLimit`) so either client generation reads them.
 */
import {
  type App,
  type Attempt,
  type Endpoint,
  type EventType,
  type Message,
  STATUS_TEXT,
} from '../core/types.ts';

export const iso = (ms: number) => new Date(ms).toISOString();

export function appOut(a: App) {
  return {
    id: a.id,
    uid: a.uid,
    name: a.name,
    throttleRate: a.throttleRate,
    rateLimit: a.throttleRate,
    metadata: a.metadata,
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
  };
}

export function endpointOut(e: Endpoint) {
  return {
    id: e.id,
    uid: e.uid,
    url: e.url,
    description: e.description,
    disabled: e.disabled,
    eventTypes: e.eventTypes,
    filterTypes: e.eventTypes,
    channels: e.channels,
    throttleRate: e.throttleRate,
    rateLimit: e.throttleRate,
    metadata: e.metadata,
    version: 1,
    svixHeaders: e.svixHeaders,
    kind: e.kind ?? 'http',
    template: e.template ?? null,
    fifo: e.fifo,
    timeout: e.timeoutMs === null ? null : e.timeoutMs / 1000,
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
  };
}

export function eventTypeOut(t: EventType, withContent = true) {
  return {
    name: t.name,
    description: t.description,
    archived: t.archived,
    deprecated: t.deprecated,
    schemas: withContent ? t.schemas : null,
    groupName: t.groupName,
    featureFlags: t.featureFlags,
    featureFlag: t.featureFlags?.[0] ?? null,
    validatePayload: t.validatePayload ?? null,
    createdAt: iso(t.createdAt),
    updatedAt: iso(t.updatedAt),
  };
}

/** `parsed`: the payload as an object already (a message just published), so it is not parsed again. */
export function messageOut(m: Message, withContent: boolean, parsed?: Record<string, unknown>) {
  return {
    id: m.id,
    eventId: m.eventId,
    eventType: m.eventType,
    payload: withContent ? (parsed ?? (JSON.parse(m.payload) as Record<string, unknown>)) : {},
    channels: m.channels,
    tags: m.tags,
    timestamp: iso(m.createdAt),
    // Hookline extension: only keyed messages carry it, so Svix clients see Svix's shape.
    ...(m.orderingKey ? { orderingKey: m.orderingKey } : {}),
  };
}

export function attemptOut(a: Attempt, msg?: Message, withContent = true) {
  return {
    id: a.id,
    msgId: a.msgId,
    endpointId: a.endpointId,
    url: a.url,
    response: a.response,
    responseStatusCode: a.responseStatusCode,
    responseDurationMs: a.durationMs,
    status: a.status,
    statusText: STATUS_TEXT[a.status] ?? 'unknown',
    triggerType: a.triggerType,
    timestamp: iso(a.createdAt),
    ...(msg ? { msg: messageOut(msg, withContent) } : {}),
  };
}
