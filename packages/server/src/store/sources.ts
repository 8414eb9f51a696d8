/**
 * What both adapters store for an inbound source: its destinations are ordinary endpoints of
 * the application the source owns, so forwarding uses the delivery queue like any message.
 */
import type { Endpoint, Source, SourceDestination } from '../core/types.ts';

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
  kind: 'http',
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
