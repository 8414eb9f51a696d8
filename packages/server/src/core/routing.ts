/**
 * Which endpoints receive a message: an enabled endpoint whose `eventTypes` is empty or
 * contains the message's type, and whose `channels` is empty or shares one with the message.
 */
export interface RoutableEndpoint {
  disabled: boolean;
  eventTypes: readonly string[] | null;
  channels: readonly string[] | null;
}

export function endpointMatches(
  endpoint: RoutableEndpoint,
  eventType: string,
  channels: readonly string[] | null,
): boolean {
  if (endpoint.disabled) return false;
  if (endpoint.eventTypes && endpoint.eventTypes.length > 0 && !endpoint.eventTypes.includes(eventType))
    return false;
  if (endpoint.channels && endpoint.channels.length > 0) {
    if (!channels?.some((c) => endpoint.channels!.includes(c))) return false;
  }
  return true;
}
