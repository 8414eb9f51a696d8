import { useState } from 'preact/hooks';
import { type App, api, type ListResponse, qs } from '../api.ts';
import { ErrorBox, Loading, PageTitle, time, useLoad } from '../components.tsx';

/** Every application, newest first, with pages of 50. */
export function AppsPage() {
  const [iterator, setIterator] = useState<string | null>(null);
  const apps = useLoad(() => api<ListResponse<App>>('GET', `/app${qs({ limit: 50, iterator })}`), [iterator]);
  return (
    <main>
      <PageTitle>Applications</PageTitle>
      <ErrorBox error={apps.error} />
      {!apps.data && !apps.error && <Loading what="applications" />}
      {apps.data && apps.data.data.length === 0 && (
        <p class="muted">
          No applications yet. Create one with <code>POST /api/v1/app</code> or any Svix SDK.
        </p>
      )}
      {apps.data && apps.data.data.length > 0 && (
        <ul class="cards">
          {apps.data.data.map((a) => (
            <li key={a.id}>
              <a href={`/apps/${encodeURIComponent(a.id)}`}>{a.name}</a>
              <span class="muted">
                <code>{a.id}</code>
                {a.uid && (
                  <>
                    {' '}
                    · uid <code>{a.uid}</code>
                  </>
                )}{' '}
                · created {time(a.createdAt)}
              </span>
            </li>
          ))}
        </ul>
      )}
      {apps.data && !apps.data.done && (
        <button type="button" class="secondary" onClick={() => setIterator(apps.data?.iterator ?? null)}>
          Next page
        </button>
      )}
    </main>
  );
}
