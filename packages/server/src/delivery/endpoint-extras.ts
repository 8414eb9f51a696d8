/**
 * The delivery engine's copy of every endpoint's extras (OAuth, mTLS, CA, transformation). Only
 * endpoints that have some have a row, so the whole set is loaded at once and kept in memory:
 * a plain endpoint costs one map lookup per attempt, never a query.
 *
 * The copy is reloaded when it is older than `maxAgeMs` (another process may have changed an
 * endpoint) and at once after this process changed one (`invalidate`, called by the API).
 */
import type { EndpointExtras } from '../core/types.ts';
import type { Store } from '../store/store.ts';
import type { SendRequest } from './sender.ts';

export interface ExtrasCache {
  /** This endpoint's extras, or undefined when it has none. */
  get(endpointId: string): Promise<EndpointExtras | undefined>;
  /** The next `get` reloads (after a change made through this process). */
  invalidate(): void;
}

export function createExtrasCache(
  store: Pick<Store, 'listEndpointExtras'>,
  options: { maxAgeMs: number; now?: () => number },
): ExtrasCache {
  const now = options.now ?? Date.now;
  let byEndpoint = new Map<string, EndpointExtras>();
  let loadedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | null = null;
  let generation = 0;

  function load(): Promise<void> {
    if (loading) return loading;
    const started = generation;
    loading = store
      .listEndpointExtras()
      .then((rows) => {
        byEndpoint = new Map(rows.map((r) => [r.endpointId, r]));
        // A change during the load may be missing from it: keep the copy stale.
        loadedAt = started === generation ? now() : Number.NEGATIVE_INFINITY;
      })
      .finally(() => {
        loading = null;
      });
    return loading;
  }

  return {
    async get(endpointId) {
      if (now() - loadedAt > options.maxAgeMs) {
        // Stale: wait for the reload only when the copy was never loaded or is known outdated;
        // otherwise serve the copy while it reloads in the background.
        if (loadedAt === Number.NEGATIVE_INFINITY) {
          await load();
          // The load joined had started before a change: one more, started after it.
          if (loadedAt === Number.NEGATIVE_INFINITY) await load();
        } else void load().catch(() => {});
      }
      return byEndpoint.get(endpointId);
    },
    invalidate() {
      generation++;
      loadedAt = Number.NEGATIVE_INFINITY;
    },
  };
}

/** The sender's TLS and OAuth settings for an endpoint's extras (nothing for a transformation only). */
export function authOptions(e: EndpointExtras): Pick<SendRequest, 'tls' | 'oauth'> {
  const out: Pick<SendRequest, 'tls' | 'oauth'> = {};
  if (e.mtls || e.ca) {
    out.tls = {
      endpointId: e.endpointId,
      version: e.updatedAt,
      ...(e.mtls ? { cert: e.mtls.certificate, key: e.mtls.key } : {}),
      ...(e.ca ? { ca: e.ca } : {}),
    };
  }
  if (e.oauth) out.oauth = { endpointId: e.endpointId, version: e.updatedAt, config: e.oauth };
  return out;
}
