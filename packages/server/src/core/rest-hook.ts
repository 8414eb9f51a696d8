/**
 * REST Hooks (resthooks.org, as Zapier, Make, n8n and Pipedream use them): a subscription is an
 * ordinary endpoint of the application, marked in its metadata. The mark changes one thing in
 * delivery: a subscription whose target answers `410 Gone` is unsubscribed (disabled) and the
 * delivery is not retried. Ordinary endpoints treat 410 like any other failure.
 */

/** Metadata key (and value) that marks an endpoint as a REST Hook subscription. */
export const REST_HOOK_MARK = { key: 'hookline.restHook', value: 'true' } as const;

export function isRestHook(metadata: Record<string, string> | null | undefined): boolean {
  return metadata?.[REST_HOOK_MARK.key] === REST_HOOK_MARK.value;
}
