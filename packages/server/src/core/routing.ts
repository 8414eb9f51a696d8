/**
 * Which endpoints receive a message: an enabled endpoint whose `eventTypes` is empty or
 * contains the message's type, and whose `channels` is empty or shares one with the message.
 * A `poller` endpoint receives nothing (its consumers poll; see `pollerFilter`).
 */
export interface RoutableEndpoint {
  kind?: string | undefined;
  disabled: boolean;
  eventTypes: readonly string[] | null;
  channels: readonly string[] | null;
}

export function endpointMatches(
  endpoint: RoutableEndpoint,
  eventType: string,
  channels: readonly string[] | null,
): boolean {
  if (endpoint.disabled || endpoint.kind === 'poller') return false;
  if (endpoint.eventTypes && endpoint.eventTypes.length > 0 && !endpoint.eventTypes.includes(eventType))
    return false;
  if (endpoint.channels && endpoint.channels.length > 0) {
    if (!channels?.some((c) => endpoint.channels!.includes(c))) return false;
  }
  return true;
}
