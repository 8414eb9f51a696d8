import { useState } from 'preact/hooks';
import {
  type ApiError,
  type App,
  api,
  type EventType,
  enc,
  getPortalApp,
  type ListResponse,
  type Message,
} from '../api.ts';
import { asApiError, Code, ErrorBox, Loading, PageTitle, useLoad } from '../components.tsx';

/** An example payload from the newest schema version: its `examples[0]`, or an empty object. */
export function examplePayload(t: EventType | undefined): Record<string, unknown> {
  if (!t?.schemas) return {};
  const versions = Object.keys(t.schemas).sort();
  const schema = t.schemas[versions[versions.length - 1] ?? ''] as { examples?: unknown[] } | undefined;
  const ex = schema?.examples?.[0];
  return ex && typeof ex === 'object' && !Array.isArray(ex) ? (ex as Record<string, unknown>) : {};
}

/** The event type catalog (schemas and examples) and a form that sends a test event to an app. */
export function EventTypesPage({ presetApp }: { presetApp: string }) {
  const types = useLoad(
    () => api<ListResponse<EventType>>('GET', '/event-type?limit=250&with_content=true'),
    [],
  );
  // An application token reads the catalog but cannot list applications nor publish messages.
  const portal = getPortalApp() !== null;
  const apps = useLoad(
    () => (portal ? Promise.resolve(null) : api<ListResponse<App>>('GET', '/app?limit=250')),
    [],
  );
  return (
    <main>
      {portal && (
        <nav aria-label="Breadcrumb" class="crumbs">
          <a href={`/apps/${enc(presetApp)}`}>{presetApp}</a>
        </nav>
      )}
      <PageTitle>Event types</PageTitle>
      <ErrorBox error={types.error ?? apps.error} />
      {portal && (
        <p class="muted">
          The events this application can send you. Subscribe an endpoint to some of them when you create or
          edit it.
        </p>
      )}
      {types.data && apps.data && (
        <SendTestEvent types={types.data.data} apps={apps.data.data} presetApp={presetApp} />
      )}
      <h2>Catalog</h2>
      {!types.data && !types.error && <Loading what="event types" />}
      {types.data?.data.length === 0 && (
        <p class="muted">
          No event types yet. Create them with <code>POST /api/v1/event-type</code>.
        </p>
      )}
      <ul class="cards">
        {types.data?.data.map((t) => (
          <li key={t.name}>
            <h3 id={`et-${t.name}`}>
              <code>{t.name}</code>
              {t.deprecated && <span class="badge warn">deprecated</span>}
              {t.archived && <span class="badge fail">archived</span>}
            </h3>
            {t.description && <p>{t.description}</p>}
            {t.schemas && Object.keys(t.schemas).length > 0 ? (
              <>
                <details>
                  <summary>Schema</summary>
                  <Code text={JSON.stringify(t.schemas, null, 2)} label={`Schema of ${t.name}`} />
                </details>
                <details>
                  <summary>Example payload</summary>
                  <Code text={JSON.stringify(examplePayload(t), null, 2)} label={`Example of ${t.name}`} />
                </details>
              </>
            ) : (
              <p class="muted">No schema.</p>
            )}
          </li>
        ))}
      </ul>
    </main>
  );
}

function SendTestEvent({ types, apps, presetApp }: { types: EventType[]; apps: App[]; presetApp: string }) {
  const live = types.filter((t) => !t.archived);
  const [appId, setAppId] = useState(presetApp || apps[0]?.id || '');
  const [eventType, setEventType] = useState(live[0]?.name ?? '');
  const [payload, setPayload] = useState(() => JSON.stringify(examplePayload(live[0]), null, 2));
  const [error, setError] = useState<ApiError | null>(null);
  const [sent, setSent] = useState<Message | null>(null);
  const [busy, setBusy] = useState(false);
  const pickType = (name: string) => {
    setEventType(name);
    setPayload(JSON.stringify(examplePayload(live.find((t) => t.name === name)), null, 2));
  };
  const send = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSent(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch (err) {
      setError(asApiError(new Error(`the payload is not valid JSON: ${(err as Error).message}`)));
      return;
    }
    setBusy(true);
    try {
      setSent(await api<Message>('POST', `/app/${enc(appId)}/msg`, { eventType, payload: parsed }));
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  if (apps.length === 0) return <p class="muted">Create an application to send test events.</p>;
  return (
    <section aria-labelledby="send-h" class="panel">
      <h2 id="send-h">Send test event</h2>
      <form onSubmit={send} class="grid">
        <div>
          <label for="t-app">Application</label>
          <select id="t-app" value={appId} onChange={(e) => setAppId((e.target as HTMLSelectElement).value)}>
            {apps.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name} ({a.id})
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="t-type">Event type</label>
          {live.length > 0 ? (
            <select
              id="t-type"
              value={eventType}
              onChange={(e) => pickType((e.target as HTMLSelectElement).value)}
            >
              {live.map((t) => (
                <option key={t.name} value={t.name}>
                  {t.name}
                </option>
              ))}
            </select>
          ) : (
            <input
              id="t-type"
              required
              value={eventType}
              onInput={(e) => setEventType((e.target as HTMLInputElement).value)}
            />
          )}
        </div>
        <div class="wide">
          <label for="t-payload">Payload (JSON object)</label>
          <textarea
            id="t-payload"
            rows={8}
            spellcheck={false}
            value={payload}
            onInput={(e) => setPayload((e.target as HTMLTextAreaElement).value)}
          />
        </div>
        <div class="actions wide">
          <button type="submit" disabled={busy || !appId}>
            {busy ? 'Sending…' : 'Send test event'}
          </button>
        </div>
      </form>
      <ErrorBox error={error} />
      {sent && (
        <p class="ok" role="status">
          Sent <a href={`/apps/${enc(appId)}/msg/${enc(sent.id)}`}>{sent.id}</a>
        </p>
      )}
    </section>
  );
}
