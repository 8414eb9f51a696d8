/**
 * An inbound source as stored: its destinations are ordinary endpoints of the application the
 * source owns, so forwarding uses the delivery queue like any message. Pure rules; the store
 * persists what they decide.
 */
import type { App, Endpoint, Source, SourceDestination, SourceHandshake } from './types.ts';

/** The endpoint record behind a destination (a source's application owns it). */
export const destinationEndpoint = (src: Source, d: SourceDestination, createdAt: number): Endpoint => ({
  id: d.id,
  appId: src.appId,
  uid: d.uid ?? null,
  url: d.url,
  description: d.description ?? `destination of source ${src.name}`,
  disabled: d.disabled,
  eventTypes: d.eventTypes,
  channels: null,
  throttleRate: d.throttleRate ?? null,
  metadata: d.metadata ?? {},
  headers: d.headers,
  secrets: src.forwardSecrets,
  svixHeaders: false,
  kind: d.kind,
  template: d.template,
  fifo: false,
  failingSince: null,
  timeoutMs: null,
  createdAt,
  updatedAt: src.updatedAt,
});

/** The application a source owns: named after the source, marked with its id. */
export const sourceAppName = (src: Source): string => `source ${src.name}`;
/** The metadata key that marks an application as owned by an inbound source (its value: the source id). */
export const SOURCE_APP_METADATA_KEY = 'hookline.source';
export const sourceAppMetadata = (src: Source): Record<string, string> => ({
  [SOURCE_APP_METADATA_KEY]: src.id,
});

/** A source's handshakes when it says nothing (and for sources made before they existed). */
export const DEFAULT_HANDSHAKE: SourceHandshake = {
  provider: true,
  discordResponse: { type: 5 },
  challenge: null,
};

/** The handshake column: sealed JSON, or null for the defaults. */
export const handshakeFromColumn = (opened: string | null): SourceHandshake =>
  opened === null ? DEFAULT_HANDSHAKE : { ...DEFAULT_HANDSHAKE, ...(JSON.parse(opened) as SourceHandshake) };

/** The application a source owns (it holds the source's destinations as endpoints). */
export const sourceApp = (src: Source): App => ({
  id: src.appId,
  uid: null,
  name: sourceAppName(src),
  throttleRate: null,
  metadata: sourceAppMetadata(src),
  createdAt: src.createdAt,
  updatedAt: src.updatedAt,
});

/**
 * What saving a source does to the endpoints of its application: exactly its destinations'
 * endpoints remain (matched by id, so a kept destination keeps its queue and attempt history);
 * each is updated with `update`, or created as `create` when it does not exist yet.
 */
export interface DestinationSyncPlan {
  keep: string[];
  upserts: { id: string; update: Partial<Endpoint>; create: Endpoint }[];
}

/** The Svix Ingest endpoint fields a destination sets (those it leaves out stay as they are). */
function destinationExtras(d: SourceDestination): Partial<Endpoint> {
  const out: Partial<Endpoint> = {};
  if (d.description !== undefined) out.description = d.description;
  if (d.uid !== undefined) out.uid = d.uid;
  if (d.throttleRate !== undefined) out.throttleRate = d.throttleRate;
  if (d.metadata !== undefined) out.metadata = d.metadata;
  return out;
}

export function planDestinationSync(src: Source): DestinationSyncPlan {
  return {
    keep: src.destinations.map((d) => d.id),
    upserts: src.destinations.map((d) => ({
      id: d.id,
      update: {
        url: d.url,
        disabled: d.disabled,
        eventTypes: d.eventTypes,
        headers: d.headers,
        kind: d.kind,
        template: d.template,
        secrets: src.forwardSecrets,
        ...destinationExtras(d),
        updatedAt: src.updatedAt,
        // A disabled destination is not failing; enabled again, it starts healthy.
        ...(d.disabled ? { failingSince: null } : {}),
      },
      create: destinationEndpoint(src, d, src.updatedAt),
    })),
  };
}

/** A destination as its source lists it, from its endpoint. */
export const destinationOf = (e: Endpoint): SourceDestination => ({
  id: e.id,
  url: e.url,
  headers: e.headers,
  eventTypes: e.eventTypes,
  disabled: e.disabled,
  kind: (e.kind ?? 'http') as SourceDestination['kind'],
  template: e.template ?? null,
});
