import { useState } from 'preact/hooks';
import { api, enc, type ListResponse, qs, type Source } from '../api.ts';
import { CopyField, ErrorBox, Loading, PageTitle, useLoad } from '../components.tsx';

/**
 * Inbound sources: the providers that post to `/in/{name}`. Each card gives the URL to paste into
 * the provider's webhook settings.
 */
export function SourcesPage() {
  const [iterator, setIterator] = useState<string | null>(null);
  const sources = useLoad(
    () => api<ListResponse<Source>>('GET', `/source${qs({ limit: 50, iterator })}`),
    [iterator],
  );
  return (
    <main>
      <PageTitle>Sources</PageTitle>
      <p class="muted">
        Webhooks Hookline receives: each source verifies a provider's requests, keeps them, and forwards them
        to your destinations.
      </p>
      <div class="actions">
        <a class="button" href="/sources/new">
          Create source
        </a>
      </div>
      <ErrorBox error={sources.error} />
      {!sources.data && !sources.error && <Loading what="sources" />}
      {sources.data && sources.data.data.length === 0 && <p class="muted">No sources yet.</p>}
      {sources.data && sources.data.data.length > 0 && (
        <ul class="cards" data-testid="sources">
          {sources.data.data.map((s) => (
            <li key={s.id}>
              <h2 class="card-title">
                <a href={`/sources/${enc(s.id)}`}>{s.name}</a>
              </h2>
              <span class="muted">
                scheme <code>{s.verification.scheme}</code> · {s.destinations.length} destination
                {s.destinations.length === 1 ? '' : 's'}
                {s.description && <> · {s.description}</>}
              </span>
              <CopyField
                id={`in-${s.id}`}
                label={`URL for ${s.name}`}
                value={location.origin + s.ingestPath}
              />
            </li>
          ))}
        </ul>
      )}
      <div class="actions">
        {iterator !== null && (
          <button type="button" class="secondary" onClick={() => setIterator(null)}>
            First page
          </button>
        )}
        {sources.data && !sources.data.done && (
          <button type="button" class="secondary" onClick={() => setIterator(sources.data?.iterator ?? null)}>
            Next page
          </button>
        )}
      </div>
    </main>
  );
}
