import { useRef, useState } from 'preact/hooks';
import { api, enc, INBOUND_STATUSES, type InboundEvent, type ListResponse, qs, type Source } from '../api.ts';
import { ErrorBox, InboundBadge, Loading, PageTitle, time, useLoad } from '../components.tsx';
import { LiveIndicator, useLive } from '../live.tsx';
import { toLocalInput } from './endpoint.tsx';

const iso = (local: string) => (local ? new Date(local).toISOString() : undefined);

interface Filter {
  status: string;
  after: string;
  before: string;
}

/** The requests a source received, newest first, filtered by status and time, 50 a page. */
export function SourceEventsPage({ sourceId, presetStatus }: { sourceId: string; presetStatus: string }) {
  const source = useLoad(() => api<Source>('GET', `/source/${enc(sourceId)}`), [sourceId]);
  // The filters start from the URL (a shared link), and go back into it when applied.
  const [form, setForm] = useState<Filter>(() => {
    const q = new URLSearchParams(location.search);
    const local = (v: string | null) =>
      v && !Number.isNaN(Date.parse(v)) ? toLocalInput(Date.parse(v)) : '';
    return { status: presetStatus, after: local(q.get('after')), before: local(q.get('before')) };
  });
  const [applied, setApplied] = useState<Filter>(form);
  /** Null: the newest page; otherwise the iterator of an older page. */
  const [iterator, setIterator] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);
  const events = useLoad(
    () =>
      api<ListResponse<InboundEvent>>(
        'GET',
        `/source/${enc(sourceId)}/event${qs({
          limit: 50,
          iterator,
          status: applied.status,
          after: iso(applied.after),
          before: iso(applied.before),
        })}`,
      ),
    [sourceId, applied, iterator, refresh],
  );
  const apply = (f: Filter) => {
    history.replaceState(
      null,
      '',
      `${location.pathname}${qs({ status: f.status, after: iso(f.after), before: iso(f.before) })}`,
    );
    setApplied(f);
    setIterator(null);
    setRefresh((r) => r + 1);
  };
  // New requests refresh the newest page (at most once a second).
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const live = useLive(source.data ? `/live?source=${enc(source.data.id)}` : null, {
    inbound: () => {
      if (iterator !== null || pending.current) return;
      pending.current = setTimeout(() => {
        pending.current = null;
        setRefresh((r) => r + 1);
      }, 1000);
    },
  });
  const name = source.data?.name ?? sourceId;
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="/sources">Sources</a> / <a href={`/sources/${enc(sourceId)}`}>{name}</a>
      </nav>
      <div class="title-row">
        <PageTitle>Events of {name}</PageTitle>
        <LiveIndicator state={live} />
      </div>
      <form
        class="grid"
        onSubmit={(e) => {
          e.preventDefault();
          apply(form);
        }}
      >
        <div>
          <label for="ev-status">Status</label>
          <select
            id="ev-status"
            value={form.status}
            onChange={(e) => {
              const f = { ...form, status: (e.target as HTMLSelectElement).value };
              setForm(f);
              apply(f);
            }}
          >
            <option value="">any</option>
            {INBOUND_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="ev-after">Received after</label>
          <input
            id="ev-after"
            type="datetime-local"
            value={form.after}
            onInput={(e) => setForm({ ...form, after: (e.target as HTMLInputElement).value })}
          />
        </div>
        <div>
          <label for="ev-before">Received before</label>
          <input
            id="ev-before"
            type="datetime-local"
            value={form.before}
            onInput={(e) => setForm({ ...form, before: (e.target as HTMLInputElement).value })}
          />
        </div>
        <div class="actions">
          <button type="submit">Filter</button>
          <button type="button" class="secondary" onClick={() => setRefresh((r) => r + 1)}>
            Refresh
          </button>
        </div>
      </form>
      <ErrorBox error={source.error ?? events.error} />
      {!events.data && !events.error && <Loading what="events" />}
      {events.data && events.data.data.length === 0 && <p class="muted">No events match.</p>}
      {events.data && events.data.data.length > 0 && (
        <div class="scroll">
          <table data-testid="events">
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Status</th>
                <th scope="col">Event type</th>
                <th scope="col" class="wide-only">
                  Size
                </th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {events.data.data.map((e) => (
                <tr key={e.id}>
                  <td>
                    <a href={`/sources/${enc(sourceId)}/events/${enc(e.id)}`}>
                      {time(e.receivedAt)}
                      <span class="sr-only"> event {e.id}</span>
                    </a>
                  </td>
                  <td>
                    <InboundBadge status={e.status} />
                  </td>
                  <td>
                    <code>{e.eventType}</code>
                  </td>
                  <td class="wide-only">{e.bodySize} B</td>
                  <td>
                    {e.verification && <code>{e.verification.code}</code>}
                    {e.status === 'handshake' && <span class="muted">answered, not forwarded</span>}
                    {e.messageIds && <span class="muted">{e.messageIds.length} forwarded</span>}
                    {e.duplicateOf && (
                      <a
                        href={`/sources/${enc(sourceId)}/events/${enc(e.duplicateOf)}`}
                        title={e.duplicateOf}
                      >
                        original<span class="sr-only"> event {e.duplicateOf}</span>
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="actions">
        {iterator !== null && (
          <button type="button" class="secondary" onClick={() => setIterator(null)}>
            Newest events
          </button>
        )}
        {events.data && !events.data.done && (
          <button type="button" class="secondary" onClick={() => setIterator(events.data?.iterator ?? null)}>
            Older events
          </button>
        )}
      </div>
    </main>
  );
}
