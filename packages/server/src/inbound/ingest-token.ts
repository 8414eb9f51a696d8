/**
 * The token a source's receive URL may carry (`/in/{name}/{token}`), as Svix Ingest's URLs do.
 * A source without tokens is reached at `/in/{name}`; one with tokens only at a path naming one
 * that has not expired. Rotating keeps the previous tokens working for a grace period.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IngestToken, Source } from '../core/types.ts';

/** How long a rotated-out token keeps working (as Svix Ingest: 48 hours). */
export const TOKEN_GRACE_MS = 48 * 3600 * 1000;
/** Tokens rotated out and still working at once, at most (Svix: three rotations per 48 hours). */
export const MAX_OLD_TOKENS = 3;

export const newIngestToken = (): string => randomBytes(24).toString('base64url');

/** The receive path a provider should use now. */
export function receivePath(source: Pick<Source, 'name' | 'ingest'>): string {
  const token = source.ingest?.tokens[0]?.token;
  return token ? `/in/${source.name}/${token}` : `/in/${source.name}`;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether a request to `/in/{name}` (token undefined) or `/in/{name}/{token}` reaches the source. */
export function tokenAccepted(
  source: Pick<Source, 'ingest'>,
  token: string | undefined,
  now: number,
): boolean {
  const tokens = source.ingest?.tokens ?? [];
  if (tokens.length === 0) return token === undefined;
  const given = token ?? '';
  return tokens.some((t) => (t.expiresAt === null || t.expiresAt > now) && same(t.token, given));
}

/**
 * The tokens after a rotation: a new current one, the previous ones working for the grace
 * period (a source without tokens keeps its bare URL for as long); expired ones dropped.
 * Null when too many rotated-out tokens still work.
 */
export function rotateTokens(tokens: readonly IngestToken[], now: number): IngestToken[] | null {
  const until = now + TOKEN_GRACE_MS;
  const previous = (tokens.length === 0 ? [{ token: '', expiresAt: null }] : tokens)
    .filter((t) => t.expiresAt === null || t.expiresAt > now)
    .map((t) => ({ token: t.token, expiresAt: t.expiresAt === null ? until : Math.min(t.expiresAt, until) }));
  if (previous.length > MAX_OLD_TOKENS) return null;
  return [{ token: newIngestToken(), expiresAt: null }, ...previous];
}
