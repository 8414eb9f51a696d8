/**
 * The URL a provider signed, for schemes that sign it (Twilio; HubSpot v2 and v3): the
 * configured public URL's scheme, host and path, which a proxy may change before the request
 * reaches you, followed by the query string of the request as it was received, which is the
 * provider's: Twilio adds `bodySHA256` to the URL it calls for a JSON body, so no fixed URL
 * can match. A fragment of the configured URL (Twilio's connection overrides, `#rc=3`) is
 * never sent, nor signed, and is dropped.
 *
 * ```ts
 * withRequestQuery('https://hooks.example.com/twilio', '/twilio?bodySHA256=5ccde7...')
 * // 'https://hooks.example.com/twilio?bodySHA256=5ccde7...'
 * ```
 *
 * `requestUrl` is the request target (`req.url`) or a full URL; only what follows its `?` is
 * used, byte for byte. When it is undefined (unknown), `publicUrl`'s own query string is kept.
 */
export function withRequestQuery(publicUrl: string, requestUrl: string | undefined): string {
  const withoutFragment = publicUrl.split('#', 1)[0] ?? '';
  if (requestUrl === undefined) return withoutFragment;
  const base = withoutFragment.split('?', 1)[0] ?? '';
  const target = requestUrl.split('#', 1)[0] ?? '';
  const query = target.indexOf('?');
  return query === -1 ? base : base + target.slice(query);
}
