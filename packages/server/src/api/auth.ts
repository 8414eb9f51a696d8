/**
 * Bearer-token authentication. The admin token comes from `HOOKLINE_ADMIN_TOKEN`, or is
 * generated on first start and stored only as a SHA-256 hash. Comparison is constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HooklineError } from '../core/errors.ts';
import type { Store } from '../store/store.ts';
import type { ApiContext } from './server.ts';

export const hashToken = (token: string): Buffer => createHash('sha256').update(token).digest();

const ADMIN_TOKEN_SETTING = 'admin_token_sha256';

/**
 * Works out the admin token hash at start. Returns the token too when it was just generated,
 * so the caller can print it once.
 */
export async function resolveAdminToken(
  store: Store,
  configured: string | null,
): Promise<{ hash: Buffer; generated: string | null }> {
  if (configured) return { hash: hashToken(configured), generated: null };
  const stored = await store.getSetting(ADMIN_TOKEN_SETTING);
  if (stored) return { hash: Buffer.from(stored, 'hex'), generated: null };
  // First start. Several processes may start together on one database: only the first token
  // stored counts, and only the process that stored it prints it.
  const token = `hl_admin_${randomBytes(24).toString('base64url')}`;
  const hash = hashToken(token).toString('hex');
  const kept = await store.setSettingIfAbsent(ADMIN_TOKEN_SETTING, hash);
  return { hash: Buffer.from(kept, 'hex'), generated: kept === hash ? token : null };
}

/** Makes a new admin token (the old one stops working) and returns it. */
export async function resetAdminToken(store: Store): Promise<{ hash: Buffer; generated: string }> {
  const token = `hl_admin_${randomBytes(24).toString('base64url')}`;
  const hash = hashToken(token);
  await store.setSetting(ADMIN_TOKEN_SETTING, hash.toString('hex'));
  return { hash, generated: token };
}

export function createAuth(ctx: ApiContext) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
    if (!match)
      throw new HooklineError('authentication_failed', 'send the header "Authorization: Bearer <token>"');
    if (!timingSafeEqual(hashToken(match[1]!), ctx.adminTokenHash)) {
      throw new HooklineError('authentication_failed', 'invalid token');
    }
  };
}
