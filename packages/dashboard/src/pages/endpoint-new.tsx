import { useState } from 'preact/hooks';
import {
  ApiError,
  api,
  type Endpoint,
  type EndpointHeaders,
  type EventType,
  enc,
  getPortalApp,
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

/** Header lines (`Name: value`) to an object; throws on a line without a colon. */
function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const i = line.indexOf(':');
    if (i <= 0) throw new ApiError(422, 'validation', `header line "${line.trim()}" is not "Name: value"`);
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/** Creates an endpoint (see `EndpointForm`). */
export function NewEndpointPage({ appId }: { appId: string }) {
  return <EndpointForm appId={appId} existing={null} />;
}

/** Edits every field of an endpoint (see `EndpointForm`). */
export function EditEndpointPage({ appId, endpointId }: { appId: string; endpointId: string }) {
  const ep = useLoad(
    () => api<Endpoint>('GET', `/app/${enc(appId)}/endpoint/${enc(endpointId)}`),
    [appId, endpointId],
  );
  const headers = useLoad(
    () => api<EndpointHeaders>('GET', `/app/${enc(appId)}/endpoint/${enc(endpointId)}/headers`),
    [appId, endpointId],
  );
  if (!ep.data || !headers.data)
    return (
      <main>
        <PageTitle>Edit endpoint</PageTitle>
        <ErrorBox error={ep.error ?? headers.error} />
      </main>
    );
  return <EndpointForm appId={appId} existing={{ ...ep.data, customHeaders: headers.data.headers }} />;
}

/**
 * An endpoint's fields: URL, kind, description, the event types and channels it subscribes to,
 * rate limit, FIFO, timeout, custom headers and, for a chat destination, a message template
 * (JSON whose strings are Liquid templates). Creates one, or saves an existing one.
 */
function EndpointForm({
  appId,
  existing,
}: {
  appId: string;
  existing: (Endpoint & { customHeaders: Record<string, string> }) | null;
}) {
  const types = useLoad(() => api<ListResponse<EventType>>('GET', '/event-type?limit=250'), []);
  const [url, setUrl] = useState(existing?.url ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [filter, setFilter] = useState<string[]>(existing?.filterTypes ?? []);
  const [kind, setKind] = useState<string>(existing?.kind ?? 'http');
  const [template, setTemplate] = useState(
    existing?.template ? JSON.stringify(existing.template, null, 2) : '',
  );
  const [timeout, setTimeoutSeconds] = useState(existing?.timeout ? String(existing.timeout) : '');
  const [rateLimit, setRateLimit] = useState(existing?.rateLimit ? String(existing.rateLimit) : '');
  const [channels, setChannels] = useState(existing?.channels?.join(', ') ?? '');
  const [fifo, setFifo] = useState(existing?.fifo ?? false);
  const initialHeaders = Object.entries(existing?.customHeaders ?? {})
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  const [headers, setHeaders] = useState(initialHeaders);
  const chat = kind !== 'http' && kind !== 'listen';
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    let parsed: unknown = null;
    let custom: Record<string, string>;
    try {
      if (chat && template.trim()) {
        try {
          parsed = JSON.parse(template);
        } catch {
          throw new ApiError(422, 'validation', 'the template is not valid JSON');
        }
      }
      custom = parseHeaders(headers);
    } catch (err) {
      setError(asApiError(err));
      return;
    }
    const channelList = channels
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
    const fields = {
      url: url.trim(),
      description,
      ...(kind !== 'http' && kind !== 'listen' ? { kind } : {}),
      ...(chat ? { template: parsed } : {}),
      filterTypes: filter.length ? filter : null,
      channels: channelList.length ? channelList : null,
      rateLimit: rateLimit.trim() ? Number(rateLimit) : null,
      timeout: timeout.trim() ? Number(timeout) : null,
      fifo,
    };
    setBusy(true);
    try {
      let id: string;
      if (existing) {
        await api('PATCH', `/app/${enc(appId)}/endpoint/${enc(existing.id)}`, fields);
        // An application token reads header names only: it adds or changes, never replaces them all.
        if (headers !== initialHeaders)
          await api(
            getPortalApp() ? 'PATCH' : 'PUT',
            `/app/${enc(appId)}/endpoint/${enc(existing.id)}/headers`,
            {
              headers: custom,
            },
          );
        id = existing.id;
      } else {
        const ep = await api<Endpoint>('POST', `/app/${enc(appId)}/endpoint`, {
          ...fields,
          ...(Object.keys(custom).length ? { headers: custom } : {}),
        });
        id = ep.id;
      }
      navigate(`/apps/${enc(appId)}/endpoints/${enc(id)}`);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  const live = types.data?.data.filter((t) => !t.archived) ?? [];
  const title = existing ? 'Edit endpoint' : 'Create endpoint';
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <AppsCrumb />
        <a href={`/apps/${enc(appId)}`}>{appId}</a>
        {existing && (
          <>
            {' '}
            / <a href={`/apps/${enc(appId)}/endpoints/${enc(existing.id)}`}>endpoint</a>
          </>
        )}
      </nav>
      <PageTitle>{title}</PageTitle>
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
        {kind !== 'listen' && (
          <div class="wide">
            <label for="ep-kind">Destination</label>
            <select
              id="ep-kind"
              value={kind}
              onChange={(e) => setKind((e.target as HTMLSelectElement).value)}
            >
              {SOURCE_DESTINATION_KINDS.map((k) => (
                <option key={k} value={k}>
                  {KIND_LABELS[k]}
                </option>
              ))}
            </select>
          </div>
        )}
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
        <div>
          <label for="ep-rate">Rate limit (per second)</label>
          <input
            id="ep-rate"
            type="number"
            min={1}
            max={65535}
            step={1}
            value={rateLimit}
            placeholder="no limit"
            onInput={(e) => setRateLimit((e.target as HTMLInputElement).value)}
          />
        </div>
        <div>
          <label for="ep-channels">Channels</label>
          <input
            id="ep-channels"
            value={channels}
            placeholder="all; or a, b, c"
            onInput={(e) => setChannels((e.target as HTMLInputElement).value)}
          />
        </div>
        <div>
          <label class="check" for="ep-fifo">
            <input
              id="ep-fifo"
              type="checkbox"
              checked={fifo}
              onChange={(e) => setFifo((e.target as HTMLInputElement).checked)}
            />
            Strict order (FIFO)
          </label>
        </div>
        <div class="wide">
          <label for="ep-headers">Custom headers (one "Name: value" per line)</label>
          <textarea
            id="ep-headers"
            rows={3}
            spellcheck={false}
            value={headers}
            placeholder="X-Api-Key: ..."
            onInput={(e) => setHeaders((e.target as HTMLTextAreaElement).value)}
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
            {busy ? 'Saving…' : existing ? 'Save endpoint' : 'Create endpoint'}
          </button>
        </div>
      </form>
      <ErrorBox error={error ?? types.error} />
    </main>
  );
}
