import { useState } from 'preact/hooks';
import { type Attempt, api, enc, type InboundEventDetail, type InboundReplay, type Source } from '../api.ts';
import { BodyView } from '../body-view.tsx';
import {
  Code,
  ConfirmButton,
  CopyButton,
  CurlBlock,
  curlCommand,
  ErrorBox,
  HeaderPairs,
  InboundBadge,
  Loading,
  PageTitle,
  prettyJson,
  preview,
  StatusBadge,
  useLoad,
  When,
} from '../components.tsx';

/**
 * One received request: the raw headers (original order) and body, the verification verdict, the
 * event it duplicates, its forwards to each destination (each attempt opens in the attempt
 * inspector), and replay.
 */
export function SourceEventPage({ sourceId, eventId }: { sourceId: string; eventId: string }) {
  const source = useLoad(() => api<Source>('GET', `/source/${enc(sourceId)}`), [sourceId]);
  const event = useLoad(
    () => api<InboundEventDetail>('GET', `/source/${enc(sourceId)}/event/${enc(eventId)}`),
    [sourceId, eventId],
  );
  const [only, setOnly] = useState('');
  const e = event.data;
  const s = source.data;
  const name = s?.name ?? sourceId;
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="/sources">Sources</a> / <a href={`/sources/${enc(sourceId)}`}>{name}</a> /{' '}
        <a href={`/sources/${enc(sourceId)}/events`}>events</a>
      </nav>
      <div class="title-row">
        <PageTitle>Event {eventId}</PageTitle>
        <CopyButton text={eventId} label="event id" />
      </div>
      <ErrorBox error={event.error ?? source.error} />
      {!e && !event.error && <Loading what="event" />}
      {e && (
        <>
          <dl class="stats">
            <div>
              <dt>Status</dt>
              <dd>
                <InboundBadge status={e.status} />
              </dd>
            </div>
            <div>
              <dt>Received</dt>
              <dd>
                <When iso={e.receivedAt} />
              </dd>
            </div>
            <div>
              <dt>Event type</dt>
              <dd>
                <code>{e.eventType}</code>
              </dd>
            </div>
            <div>
              <dt>Body</dt>
              <dd>{e.bodySize} bytes</dd>
            </div>
          </dl>
          <Verdict event={e} sourceId={sourceId} scheme={s?.verification.scheme ?? null} />
          {e.status !== 'rejected' && e.status !== 'handshake' && (
            <div class="actions">
              <ConfirmButton
                label="Replay"
                title="Replay this event"
                confirmLabel="Replay now"
                class="primary"
                action={async () => {
                  const r = await api<InboundReplay>(
                    'POST',
                    `/source/${enc(sourceId)}/event/${enc(eventId)}/replay`,
                    { destinationId: only || null },
                  );
                  event.reload();
                  return `Queued ${r.deliveries} ${r.deliveries === 1 ? 'delivery' : 'deliveries'}`;
                }}
              >
                <p>
                  Forwards {e.status === 'duplicate' ? 'the event this request repeats' : 'this event'} again,
                  with the same <code>webhook-id</code>, so destinations that dedupe will recognise it.
                </p>
                {e.bodyEncoding !== 'base64' && (
                  <Code text={preview(prettyJson(e.body))} label="Body to replay" />
                )}
                {s && (
                  <>
                    <label for="replay-to">To</label>
                    <select
                      id="replay-to"
                      value={only}
                      onChange={(x) => setOnly((x.target as HTMLSelectElement).value)}
                    >
                      <option value="">every destination that matches its event type</option>
                      {s.destinations.map((d) => (
                        <option key={d.id} value={d.id}>
                          {d.url}
                        </option>
                      ))}
                    </select>
                  </>
                )}
              </ConfirmButton>
              <button type="button" class="secondary" onClick={event.reload}>
                Refresh
              </button>
            </div>
          )}
          {e.status === 'accepted' && s && (
            <Forwards source={s} eventType={e.messageIds ? null : e.eventType} attempts={e.attempts} />
          )}
          <h2>Request</h2>
          <p class="url">
            <code>
              {e.method} {s?.ingestPath ?? '/in/…'}
              {e.contentType && ` · ${e.contentType}`}
            </code>
          </p>
          {s && e.bodyEncoding !== 'base64' && (
            <CurlBlock
              command={curlCommand(
                e.method,
                location.origin + s.ingestPath,
                e.headers,
                e.method === 'GET' ? null : e.body,
              )}
            />
          )}
          <div class="split">
            <section aria-labelledby="hdr-h">
              <h3 id="hdr-h">Headers</h3>
              <HeaderPairs headers={e.headers} caption="Request headers" />
            </section>
            <section aria-labelledby="body-h">
              <h3 id="body-h">Body</h3>
              <BodyView key={e.id} body={e.body} encoding={e.bodyEncoding} label="Request body" />
            </section>
          </div>
        </>
      )}
    </main>
  );
}

function Verdict({
  event: e,
  sourceId,
  scheme,
}: {
  event: InboundEventDetail;
  sourceId: string;
  scheme: string | null;
}) {
  if (e.status === 'rejected') {
    return (
      <div class="verdict rejected" data-testid="verdict">
        <strong>Rejected: failed verification</strong> <code>{e.verification?.code}</code>
        <p>{e.verification?.detail}</p>
        <p class="muted">A rejected request is kept for inspection and never forwarded.</p>
      </div>
    );
  }
  if (e.status === 'handshake') {
    return (
      <div class="verdict handshake" data-testid="verdict">
        <strong>Handshake</strong>
        <p>
          The provider checked this URL (a challenge, a PING or a URL verification); Hookline answered it at
          once. A handshake is kept for inspection and never forwarded.
        </p>
      </div>
    );
  }
  const verified =
    scheme === 'none'
      ? 'Accepted without verification (scheme none)'
      : `Signature verified (${scheme ?? '…'})`;
  return (
    <div class={`verdict ${e.status}`} data-testid="verdict">
      <strong>{verified}</strong>
      {e.dedupeKey && (
        <p>
          Dedupe key <code>{e.dedupeKey}</code>
        </p>
      )}
      {e.messageIds && (
        <p>
          Split into {e.messageIds.length} {e.messageIds.length === 1 ? 'message' : 'messages'} (one per
          notification), each forwarded on its own.
        </p>
      )}
      {e.status === 'duplicate' && e.duplicateOf && (
        <p>
          Duplicate of <a href={`/sources/${enc(sourceId)}/events/${enc(e.duplicateOf)}`}>{e.duplicateOf}</a>:
          not forwarded again.
        </p>
      )}
    </div>
  );
}

/** The forwarding attempts grouped by destination, in the source's destination order. */
function Forwards({
  source,
  eventType,
  attempts,
}: {
  source: Source;
  /** Null for a split request, whose messages have event types of their own. */
  eventType: string | null;
  attempts: Attempt[];
}) {
  const byDest = new Map<string, Attempt[]>();
  for (const a of attempts) byDest.set(a.endpointId, [...(byDest.get(a.endpointId) ?? []), a]);
  const known = new Set(source.destinations.map((d) => d.id));
  const rows = [
    ...source.destinations.map((d) => ({ id: d.id, url: d.url, filter: d.eventTypes })),
    // A destination removed since keeps its attempts.
    ...[...byDest.keys()]
      .filter((id) => !known.has(id))
      .map((id) => ({ id, url: byDest.get(id)![0]!.url, filter: null })),
  ];
  return (
    <section aria-labelledby="fwd-h">
      <h2 id="fwd-h">Forwards</h2>
      {attempts.length >= 50 && (
        <p class="muted">The latest 50 attempts; each destination's page has all of them.</p>
      )}
      {rows.map((d) => {
        const list = byDest.get(d.id) ?? [];
        return (
          <div key={d.id} class="panel forward" data-testid="forward">
            <p class="url">
              <code>{d.url}</code>
            </p>
            {list.length === 0 ? (
              <p class="muted">
                {d.filter && eventType !== null && !d.filter.includes(eventType)
                  ? `Not forwarded: this destination takes only ${d.filter.join(', ')}.`
                  : 'No attempts yet.'}
              </p>
            ) : (
              <div class="scroll">
                <table class="attempts">
                  <caption class="sr-only">Attempts to {d.url}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Time</th>
                      <th scope="col">Status</th>
                      <th scope="col">Duration</th>
                      <th scope="col">Attempt</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((a) => (
                      <tr key={a.id}>
                        <td>
                          <When iso={a.timestamp} />
                        </td>
                        <td>
                          <StatusBadge status={a.status} code={a.responseStatusCode} />
                          {a.triggerType === 1 && <span class="muted"> manual</span>}
                        </td>
                        <td>{a.responseDurationMs} ms</td>
                        <td>
                          <a
                            href={`/apps/${enc(source.appId)}/msg/${enc(a.msgId)}/attempt/${enc(a.id)}?source=${enc(source.id)}`}
                          >
                            Inspect<span class="sr-only"> attempt {a.id}</span>
                          </a>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
        );
      })}
    </section>
  );
}
