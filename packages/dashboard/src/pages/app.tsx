import { useState } from 'preact/hooks';
import { type App, api, type Endpoint, enc, getPortalApp, type ListResponse } from '../api.ts';
import { ConfirmButton, Empty, ErrorBox, Id, Loading, PageTitle, useLoad } from '../components.tsx';
import { loadSeries, rate, StateBadge, totals } from '../health.tsx';
import { navigate } from '../router.ts';
import { OverviewPanel } from './overview.tsx';

/** One application: how its deliveries are going, its endpoints with their 24-hour health, and its settings. */
export function AppPage({ appId }: { appId: string }) {
  const app = useLoad(() => api<App>('GET', `/app/${enc(appId)}`), [appId]);
  const endpoints = useLoad(
    () => api<ListResponse<Endpoint>>('GET', `/app/${enc(appId)}/endpoint?limit=250`),
    [appId],
  );
  const portal = getPortalApp() !== null;
  // A missing application: say so, and offer only the way back.
  if (app.error?.status === 404)
    return (
      <main>
        <PageTitle>Application not found</PageTitle>
        <ErrorBox error={app.error} />
        <p>
          No application has the id or uid <code>{appId}</code>. <a href="/apps">See every application</a>
        </p>
      </main>
    );
  return (
    <main>
      {!portal && (
        <nav aria-label="Breadcrumb" class="crumbs">
          <a href="/apps">Applications</a>
        </nav>
      )}
      <div class="title-row">
        <PageTitle>{app.data?.name ?? appId}</PageTitle>
        {app.data && <Id value={app.data.id} label="application id" />}
      </div>
      <ErrorBox error={app.error ?? endpoints.error} />
      <div class="actions">
        <a class="button" href={`/apps/${enc(appId)}/endpoints/new`}>
          Create endpoint
        </a>
        <a class="button secondary" href={`/apps/${enc(appId)}/messages`}>
          Messages and attempts
        </a>
        {/* An application token cannot publish messages, so the portal has no test-event form. */}
        {!portal && (
          <a class="button secondary" href={`/event-types?app=${enc(app.data?.id ?? appId)}`}>
            Send test event
          </a>
        )}
        {!portal && app.data && <EditApp app={app.data} onSaved={app.reload} />}
      </div>
      <h2>Endpoints</h2>
      {!endpoints.data && !endpoints.error && <Loading what="endpoints" />}
      {endpoints.data?.data.length === 0 && (
        <Empty title="No endpoints yet">
          <p>
            An endpoint is a URL that receives this application's messages.{' '}
            <a href={`/apps/${enc(appId)}/endpoints/new`}>Create the first endpoint</a>
          </p>
        </Empty>
      )}
      {endpoints.data && endpoints.data.data.length > 0 && (
        <ul class="cards">
          {endpoints.data.data.map((e) => (
            <EndpointCard key={e.id} appId={appId} endpoint={e} />
          ))}
        </ul>
      )}
      <h2>Overview</h2>
      <OverviewPanel appId={appId} />
    </main>
  );
}

/** Rename, change the rate limit, or delete the application (asks first). */
function EditApp({ app, onSaved }: { app: App; onSaved: () => void }) {
  const [name, setName] = useState(app.name);
  const [limit, setLimit] = useState(app.rateLimit === null ? '' : String(app.rateLimit));
  return (
    <>
      <ConfirmButton
        label="Edit application"
        title="Edit application"
        confirmLabel="Save"
        action={async () => {
          await api('PATCH', `/app/${enc(app.id)}`, {
            name: name.trim(),
            rateLimit: limit.trim() === '' ? null : Number(limit),
          });
          onSaved();
          return 'Saved';
        }}
      >
        <div class="stack">
          <div>
            <label for="app-edit-name">Name</label>
            <input
              id="app-edit-name"
              value={name}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
            />
          </div>
          <div>
            <label for="app-edit-limit">Rate limit (messages per second per endpoint, empty: none)</label>
            <input
              id="app-edit-limit"
              type="number"
              min={1}
              value={limit}
              onInput={(e) => setLimit((e.target as HTMLInputElement).value)}
            />
          </div>
        </div>
      </ConfirmButton>
      <ConfirmButton
        label="Delete application"
        title="Delete this application"
        confirmLabel="Delete"
        class="danger"
        action={async () => {
          await api('DELETE', `/app/${enc(app.id)}`);
          navigate('/apps');
          return 'Deleted';
        }}
      >
        <p>
          Deletes <strong>{app.name}</strong> with its endpoints, messages and attempts. This cannot be
          undone.
        </p>
      </ConfirmButton>
    </>
  );
}

function EndpointCard({ appId, endpoint }: { appId: string; endpoint: Endpoint }) {
  const series = useLoad(() => loadSeries(appId, endpoint.id, '24h'), [appId, endpoint.id]);
  const t = series.data ? totals(series.data) : null;
  return (
    <li>
      <a class="url" href={`/apps/${enc(appId)}/endpoints/${enc(endpoint.id)}`}>
        {endpoint.url}
      </a>
      {endpoint.description && <span>{endpoint.description}</span>}
      <span class="row">
        {series.data ? (
          <StateBadge disabled={series.data.disabled} failingSince={series.data.failingSince} />
        ) : (
          <StateBadge disabled={endpoint.disabled} failingSince={null} />
        )}
        {t && (
          <span class="muted">
            24 h: {t.attempts} attempts · {rate(t)} success · p95 {t.p95Ms ?? '–'} ms
          </span>
        )}
      </span>
      <ErrorBox error={series.error} />
    </li>
  );
}
