import { type App, api, type Endpoint, enc, getPortalApp, type ListResponse } from '../api.ts';
import { ErrorBox, Loading, PageTitle, useLoad } from '../components.tsx';
import { loadSeries, rate, StateBadge, totals } from '../health.tsx';

/** One application: its endpoints with their health over the last 24 hours. */
export function AppPage({ appId }: { appId: string }) {
  const app = useLoad(() => api<App>('GET', `/app/${enc(appId)}`), [appId]);
  const endpoints = useLoad(
    () => api<ListResponse<Endpoint>>('GET', `/app/${enc(appId)}/endpoint?limit=250`),
    [appId],
  );
  return (
    <main>
      {!getPortalApp() && (
        <nav aria-label="Breadcrumb" class="crumbs">
          <a href="/">Applications</a>
        </nav>
      )}
      <PageTitle>{app.data?.name ?? appId}</PageTitle>
      <ErrorBox error={app.error ?? endpoints.error} />
      <div class="actions">
        <a class="button" href={`/apps/${enc(appId)}/endpoints/new`}>
          Create endpoint
        </a>
        <a class="button secondary" href={`/apps/${enc(appId)}/messages`}>
          Messages and attempts
        </a>
        {/* An application token cannot publish messages, so the portal has no test-event form. */}
        {!getPortalApp() && (
          <a class="button secondary" href={`/event-types?app=${enc(appId)}`}>
            Send test event
          </a>
        )}
      </div>
      <h2>Endpoints</h2>
      {!endpoints.data && !endpoints.error && <Loading what="endpoints" />}
      {endpoints.data?.data.length === 0 && <p class="muted">No endpoints yet.</p>}
      {endpoints.data && endpoints.data.data.length > 0 && (
        <ul class="cards">
          {endpoints.data.data.map((e) => (
            <EndpointCard key={e.id} appId={appId} endpoint={e} />
          ))}
        </ul>
      )}
    </main>
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
