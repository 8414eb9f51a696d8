import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import {
  type ApiError,
  api,
  enc,
  type InboundEvent,
  type ListResponse,
  type RequestField,
  type Source,
  type SourceSecret,
} from '../api.ts';
import {
  asApiError,
  ConfirmButton,
  CopyField,
  ErrorBox,
  Id,
  InboundBadge,
  Loading,
  PageTitle,
  time,
  useLoad,
  When,
} from '../components.tsx';
import { LiveIndicator, useLive } from '../live.tsx';
import { navigate } from '../router.ts';

export function describeField(f: RequestField | null, fallback: string): string {
  if (!f || (!f.header && !f.jsonPath)) return fallback;
  return f.header ? `header ${f.header}` : `JSON field ${f.jsonPath}`;
}

/** The handshakes a source answers itself, in a few words. */
function describeHandshake(h: Source['handshake']): string {
  const parts = [h.provider ? "the provider's own (when its scheme has one)" : 'no provider handshakes'];
  const c = h.challenge;
  if (c) {
    const where = c.query ? `query ${c.query}` : `JSON field ${c.jsonPath}`;
    parts.push(`${c.preset ?? 'custom'} challenge (${c.method}, ${where}, answered as ${c.respond})`);
  }
  return parts.join('; ');
}

/**
 * One source: where the provider posts, how requests are verified (the secrets themselves are never
 * returned by the API), duplicates, destinations, and the secret forwarded requests are signed with.
 */
export function SourcePage({ sourceId }: { sourceId: string }) {
  const source = useLoad(() => api<Source>('GET', `/source/${enc(sourceId)}`), [sourceId]);
  const s = source.data;
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="/sources">Sources</a>
      </nav>
      <PageTitle>{s ? `Source ${s.name}` : 'Source'}</PageTitle>
      <ErrorBox error={source.error} />
      {!s && !source.error && <Loading what="source" />}
      {s && (
        <>
          {s.description && <p>{s.description}</p>}
          <CopyField id="ingest-url" label="Provider posts to" value={location.origin + s.ingestPath} />
          <div class="actions">
            <a class="button" href={`/sources/${enc(s.id)}/events`}>
              Events
            </a>
            <a class="button secondary" href={`/sources/${enc(s.id)}/events?status=rejected`}>
              Rejected requests
            </a>
            <EditSource source={s} onSaved={source.reload} />
            <ConfirmButton
              label="Delete source"
              title={`Delete source ${s.name}`}
              confirmLabel="Delete"
              class="danger"
              action={async () => {
                await api('DELETE', `/source/${enc(s.id)}`);
                navigate('/sources');
                return 'Deleted';
              }}
            >
              <p>
                Requests to <code>{s.ingestPath}</code> will be refused from now on. Its received requests and
                their forwards are deleted with it.
              </p>
            </ConfirmButton>
          </div>
          <LatestRequests source={s} />
          <h2>Definition</h2>
          <table class="kv" data-testid="source-definition">
            <tbody>
              <Row name="Id">
                <Id value={s.id} label="source id" />
              </Row>
              <Row name="Scheme">
                <code>{s.verification.scheme}</code>
              </Row>
              <Row name="Verification secrets">
                {s.verification.scheme === 'none'
                  ? 'none (every request is accepted)'
                  : `${s.verification.secretCount} stored (never shown)`}
              </Row>
              <Row name="Timestamp tolerance">
                {s.verification.tolerance === null ? "scheme's default" : `${s.verification.tolerance} s`}
              </Row>
              {s.verification.url && (
                <Row name="Public URL">
                  <code>{s.verification.url}</code>
                </Row>
              )}
              {s.verification.hmac && (
                <Row name="HMAC settings">
                  <code>{JSON.stringify(s.verification.hmac)}</code>
                </Row>
              )}
              <Row name="Duplicates">
                {s.dedupe
                  ? `same ${describeField(s.dedupe, "provider's event id")} within ${s.dedupe.windowSeconds} s`
                  : 'not checked'}
              </Row>
              <Row name="Event type from">{describeField(s.eventType, "the provider's usual place")}</Row>
              <Row name="Allowed clients">
                {s.allowedIps ? s.allowedIps.join(', ') : 'anyone (no IP allowlist)'}
              </Row>
              <Row name="Handshakes">{describeHandshake(s.handshake)}</Row>
              <Row name="Largest body">
                {s.maxBodyBytes === null ? "the server's limit" : `${s.maxBodyBytes} bytes`}
              </Row>
              <Row name="Forwards signed with">{s.forwardSecretType}</Row>
              <Row name="Application">
                <a href={`/apps/${enc(s.appId)}`}>{s.appId}</a>
              </Row>
              <Row name="Created">{time(s.createdAt)}</Row>
              <Row name="Updated">{time(s.updatedAt)}</Row>
            </tbody>
          </table>
          <h2>Destinations</h2>
          <div class="scroll">
            <table data-testid="destinations">
              <thead>
                <tr>
                  <th scope="col">URL</th>
                  <th scope="col">Event types</th>
                  <th scope="col">Extra headers</th>
                  <th scope="col">Health</th>
                </tr>
              </thead>
              <tbody>
                {s.destinations.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <code class="url">{d.url}</code>
                      {d.kind !== 'http' && <span class="muted"> · {d.kind}</span>}
                      {d.disabled && <span class="badge fail">disabled</span>}
                    </td>
                    <td>{d.eventTypes?.join(', ') ?? 'all'}</td>
                    {/* Header values may be credentials: only their names are shown. */}
                    <td>{Object.keys(d.headers).join(', ') || '—'}</td>
                    <td>
                      <a href={`/apps/${enc(s.appId)}/endpoints/${enc(d.id)}`}>
                        Attempts<span class="sr-only"> to {d.url}</span>
                      </a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ForwardSecret sourceId={s.id} />
        </>
      )}
    </main>
  );
}

function Row({ name, children }: { name: string; children: ComponentChildren }) {
  return (
    <tr>
      <th scope="row">{name}</th>
      <td>{children}</td>
    </tr>
  );
}

/** The forwarding secret is shown only on request. */
function ForwardSecret({ sourceId }: { sourceId: string }) {
  const [secret, setSecret] = useState<SourceSecret | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const reveal = async () => {
    setError(null);
    try {
      setSecret(await api<SourceSecret>('GET', `/source/${enc(sourceId)}/secret`));
    } catch (err) {
      setError(asApiError(err));
    }
  };
  return (
    <section aria-labelledby="fwd-h">
      <h2 id="fwd-h">Forwarding signature</h2>
      <p class="muted">
        Destinations verify the <code>webhook-signature</code> Hookline adds to every forwarded request with
        this secret (Standard Webhooks), whatever the provider's own scheme.
      </p>
      {secret ? (
        <>
          <CopyField id="fwd-secret" label="Forwarding secret" value={secret.key} />
          {secret.publicKey && (
            <CopyField
              id="fwd-public"
              label="Public key (destinations verify with it)"
              value={secret.publicKey}
            />
          )}
          <button type="button" class="secondary" onClick={() => setSecret(null)}>
            Hide secret
          </button>
        </>
      ) : (
        <button type="button" class="secondary" onClick={reveal}>
          Reveal forwarding secret
        </button>
      )}
      <ErrorBox error={error} />
    </section>
  );
}

/**
 * Edits what changes most often: the description and the destinations, one per line as
 * `URL [event.type, other.type]`. A destination whose URL stays keeps its id and its history.
 */
function EditSource({ source, onSaved }: { source: Source; onSaved: () => void }) {
  const [description, setDescription] = useState(source.description);
  const [dests, setDests] = useState(
    source.destinations
      .map((d) => (d.eventTypes?.length ? `${d.url} ${d.eventTypes.join(', ')}` : d.url))
      .join('\n'),
  );
  return (
    <ConfirmButton
      label="Edit source"
      title={`Edit source ${source.name}`}
      confirmLabel="Save"
      action={async () => {
        const destinations = dests
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
          .map((line) => {
            const [url = '', ...rest] = line.split(/\s+/);
            const types = rest
              .join(' ')
              .split(',')
              .map((t) => t.trim())
              .filter(Boolean);
            const existing = source.destinations.find((d) => d.url === url);
            // An existing destination keeps its other settings (headers, kind, template).
            const kept = existing
              ? {
                  id: existing.id,
                  headers: existing.headers,
                  disabled: existing.disabled,
                  kind: existing.kind,
                  template: existing.template,
                }
              : {};
            return { ...kept, url, eventTypes: types.length ? types : null };
          });
        await api('PATCH', `/source/${enc(source.id)}`, { description, destinations });
        onSaved();
        return 'Saved';
      }}
    >
      <div class="stack">
        <div>
          <label for="src-edit-desc">Description</label>
          <input
            id="src-edit-desc"
            value={description}
            onInput={(e) => setDescription((e.target as HTMLInputElement).value)}
          />
        </div>
        <div>
          <label for="src-edit-dests">Destinations (one per line: URL, then optional event types)</label>
          <textarea
            id="src-edit-dests"
            rows={4}
            spellcheck={false}
            value={dests}
            onInput={(e) => setDests((e.target as HTMLTextAreaElement).value)}
          />
        </div>
      </div>
    </ConfirmButton>
  );
}

/** The newest requests to the source, kept current by the live feed. */
function LatestRequests({ source }: { source: Source }) {
  const latest = useLoad(
    () => api<ListResponse<InboundEvent>>('GET', `/source/${enc(source.id)}/event?limit=5`),
    [source.id],
  );
  const live = useLive(`/live?source=${enc(source.id)}`, { inbound: () => latest.reload() });
  const events = latest.data?.data ?? [];
  return (
    <section aria-labelledby="latest-h" class="card">
      <div class="title-row">
        <h2 id="latest-h">Latest requests</h2>
        <LiveIndicator state={live} />
      </div>
      <ErrorBox error={latest.error} />
      {latest.data && events.length === 0 && (
        <p class="muted">
          Nothing received yet. Point the provider at the URL above, or try it:{' '}
          <code>
            curl -X POST {location.origin + source.ingestPath} -d {"'{}'"}
          </code>
        </p>
      )}
      {events.length > 0 && (
        <ul class="plain" data-testid="latest-requests">
          {events.map((e) => (
            <li key={e.id}>
              <InboundBadge status={e.status} /> <code>{e.eventType}</code>{' '}
              <a href={`/sources/${enc(source.id)}/events/${enc(e.id)}`}>
                <code>{e.id}</code>
              </a>{' '}
              <span class="muted">
                <When iso={e.receivedAt} />
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
