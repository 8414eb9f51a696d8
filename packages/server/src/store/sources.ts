/**
 * What both adapters store for an inbound source: its destinations are ordinary endpoints of
 * the application the source owns, so forwarding uses the delivery queue like any message.
 */
import type { Endpoint, Source, SourceDestination, SourceHandshake } from '../core/types.ts';

/** The endpoint record behind a destination (a source's application owns it). */
export const destinationEndpoint = (src: Source, d: SourceDestination, createdAt: number): Endpoint => ({
  id: d.id,
  appId: src.appId,
  uid: null,
  url: d.url,
  description: `destination of source ${src.name}`,
  disabled: d.disabled,
  eventTypes: d.eventTypes,
  channels: null,
  throttleRate: null,
  metadata: {},
  headers: d.headers,
  secrets: src.forwardSecrets,
  svixHeaders: false,
  kind: d.kind,
  template: d.template,
  fifo: false,
  failingSince: null,
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
