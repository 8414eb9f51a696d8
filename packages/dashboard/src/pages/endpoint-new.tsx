import { useState } from 'preact/hooks';
import {
  ApiError,
  api,
  type Endpoint,
  type EventType,
  enc,
  type ListResponse,
  SOURCE_DESTINATION_KINDS,
  type SourceDestinationKind,
} from '../api.ts';
import { AppsCrumb, asApiError, ErrorBox, PageTitle, useLoad } from '../components.tsx';
import { navigate } from '../router.ts';

/**
 * Where deliveries go: a webhook receiver, or a chat channel's incoming webhook (the kinds a form
 * can create; `listen` endpoints are made by `hookline listen`).
 */
const KIND_LABELS: Record<SourceDestinationKind, string> = {
  http: 'Webhook (signed HTTP POST)',
  slack: 'Slack incoming webhook',
  discord: 'Discord webhook',
  teams: 'Microsoft Teams (Workflows)',
};

/**
 * Creates an endpoint: URL, description, kind, optionally the event types it subscribes to and,
 * for a chat destination, a message template (JSON whose strings are Liquid templates).
 */
export function NewEndpointPage({ appId }: { appId: string }) {
  const types = useLoad(() => api<ListResponse<EventType>>('GET', '/event-type?limit=250'), []);
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [filter, setFilter] = useState<string[]>([]);
  const [kind, setKind] = useState('http');
  const [template, setTemplate] = useState('');
  const [timeout, setTimeoutSeconds] = useState('');
  const chat = kind !== 'http';
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    let parsed: unknown = null;
    if (chat && template.trim()) {
      try {
        parsed = JSON.parse(template);
      } catch {
        setError(new ApiError(422, 'validation', 'the template is not valid JSON'));
        return;
      }
    }
    setBusy(true);
    try {
      const ep = await api<Endpoint>('POST', `/app/${enc(appId)}/endpoint`, {
        url: url.trim(),
        description,
        ...(kind !== 'http' ? { kind } : {}),
        ...(parsed !== null ? { template: parsed } : {}),
        ...(filter.length ? { filterTypes: filter } : {}),
        ...(timeout.trim() ? { timeout: Number(timeout) } : {}),
      });
      navigate(`/apps/${enc(appId)}/endpoints/${enc(ep.id)}`);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  const live = types.data?.data.filter((t) => !t.archived) ?? [];
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <AppsCrumb />
        <a href={`/apps/${enc(appId)}`}>{appId}</a>
      </nav>
      <PageTitle>Create endpoint</PageTitle>
      <form onSubmit={submit} class="grid">
        <div class="wide">
          <label for="ep-url">URL</label>
          <input
            id="ep-url"
            type="url"
            required
            value={url}
            placeholder="https://example.com/webhooks"
            onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
          />
        </div>
        <div class="wide">
          <label for="ep-kind">Destination</label>
          <select id="ep-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
            {SOURCE_DESTINATION_KINDS.map((k) => (
              <option key={k} value={k}>
                {KIND_LABELS[k]}
              </option>
            ))}
          </select>
        </div>
        {chat && (
          <div class="wide">
            <label for="ep-template">Message template (optional JSON; strings are Liquid)</label>
            <textarea
              id="ep-template"
              rows={6}
              spellcheck={false}
              value={template}
              placeholder='{"text": "{{ eventType }}: {{ payload.id }}"}'
              onInput={(e) => setTemplate((e.target as HTMLTextAreaElement).value)}
            />
          </div>
        )}
        <div class="wide">
          <label for="ep-desc">Description</label>
          <input
            id="ep-desc"
            value={description}
            onInput={(e) => setDescription((e.target as HTMLInputElement).value)}
          />
        </div>
        <div>
          <label for="ep-timeout">Request timeout (seconds)</label>
          <input
            id="ep-timeout"
            type="number"
            min={1}
            max={300}
            step={1}
            value={timeout}
            placeholder="server default"
            onInput={(e) => setTimeoutSeconds((e.target as HTMLInputElement).value)}
          />
        </div>
        {live.length > 0 && (
          <fieldset class="wide">
            <legend>Event types (none checked: all events)</legend>
            {live.map((t) => (
              <label key={t.name} class="check">
                <input
                  type="checkbox"
                  checked={filter.includes(t.name)}
                  onChange={(e) =>
                    setFilter(
                      (e.target as HTMLInputElement).checked
                        ? [...filter, t.name]
                        : filter.filter((x) => x !== t.name),
                    )
                  }
                />
                {t.name}
              </label>
            ))}
          </fieldset>
        )}
        <div class="actions wide">
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create endpoint'}
          </button>
        </div>
      </form>
      <ErrorBox error={error ?? types.error} />
    </main>
  );
}
