import { useState } from 'preact/hooks';
import {
  type Attempt,
  api,
  type Endpoint,
  enc,
  getPortalApp,
  type ListResponse,
  type Message,
  qs,
} from '../api.ts';
import {
  AppsCrumb,
  asApiError,
  Empty,
  ErrorBox,
  Loading,
  PageTitle,
  StatusOptions,
  useLoad,
  When,
} from '../components.tsx';
import { navigate } from '../router.ts';
import { AttemptTable, toLocalInput } from './endpoint.tsx';

/** The filters, exactly as they stand in the URL (so a view can be shared). */
const FILTERS = ['id', 'event_types', 'endpoint', 'status', 'after', 'before', 'iterator'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

const iso = (local: string) => (local ? new Date(local).toISOString() : undefined);
const local = (isoText: string) => (isoText ? toLocalInput(Date.parse(isoText)) : '');

/**
 * The newest messages of an application, or, with an endpoint (and optionally a status), that
 * endpoint's attempts; filtered by event type and time. Filters and the page cursor live in the
 * URL. A message id or eventId opens the message.
 */
export function MessagesPage({ appId, query }: { appId: string; query: URLSearchParams }) {
  const f = Object.fromEntries(FILTERS.map((k) => [k, query.get(k) ?? ''])) as Filters;
  const endpoints = useLoad(
    () => api<ListResponse<Endpoint>>('GET', `/app/${enc(appId)}/endpoint?limit=250`),
    [appId],
  );
  const key = query.toString();
  const list = useLoad(async () => {
    const common = {
      event_types: f.event_types,
      after: f.after,
      before: f.before,
      limit: 50,
      iterator: f.iterator,
    };
    if (f.endpoint) {
      const r = await api<ListResponse<Attempt>>(
        'GET',
        `/app/${enc(appId)}/attempt/endpoint/${enc(f.endpoint)}${qs({ ...common, status: f.status, with_msg: true, with_content: false })}`,
      );
      return { kind: 'attempts' as const, r };
    }
    const r = await api<ListResponse<Message>>(
      'GET',
      `/app/${enc(appId)}/msg${qs({ ...common, with_content: false })}`,
    );
    return { kind: 'messages' as const, r };
  }, [appId, key]);
  const [form, setForm] = useState({ ...f, after: local(f.after), before: local(f.before) });
  const [idError, setIdError] = useState<ReturnType<typeof asApiError> | null>(null);
  const set = (k: keyof Filters) => (e: Event) =>
    setForm({ ...form, [k]: (e.target as HTMLInputElement | HTMLSelectElement).value });
  const base = `/apps/${enc(appId)}/messages`;
  const search = async (e: Event) => {
    e.preventDefault();
    setIdError(null);
    if (form.id.trim()) {
      try {
        const m = await api<Message>('GET', `/app/${enc(appId)}/msg/${enc(form.id.trim())}`);
        navigate(`/apps/${enc(appId)}/msg/${enc(m.id)}`);
      } catch (err) {
        setIdError(asApiError(err));
      }
      return;
    }
    navigate(
      base +
        qs({
          event_types: form.event_types.trim(),
          endpoint: form.endpoint,
          status: form.endpoint ? form.status : '',
          after: iso(form.after),
          before: iso(form.before),
        }),
    );
  };
  const r = list.data?.r;
  const filtered = FILTERS.some((k) => k !== 'iterator' && f[k]);
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <AppsCrumb />
        <a href={`/apps/${enc(appId)}`}>{appId}</a>
      </nav>
      <PageTitle>Messages and attempts</PageTitle>
      <form class="grid filters" onSubmit={search}>
        <div>
          <label for="s-id">Message id or event id</label>
          <input id="s-id" value={form.id} onInput={set('id')} placeholder="msg_… or your eventId" />
        </div>
        <div>
          <label for="s-type">Event types</label>
          <input
            id="s-type"
            value={form.event_types}
            onInput={set('event_types')}
            placeholder="invoice.paid, user.created"
          />
        </div>
        <div>
          <label for="s-ep">Endpoint (lists attempts)</label>
          <select id="s-ep" value={form.endpoint} onChange={set('endpoint')}>
            <option value="">all (list messages)</option>
            {endpoints.data?.data.map((e) => (
              <option key={e.id} value={e.id}>
                {e.url}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="s-status">Attempt status</label>
          <select id="s-status" value={form.status} onChange={set('status')} disabled={!form.endpoint}>
            <option value="">any</option>
            <StatusOptions names={['success', 'fail']} />
          </select>
        </div>
        <div>
          <label for="s-after">After</label>
          <input id="s-after" type="datetime-local" value={form.after} onInput={set('after')} />
        </div>
        <div>
          <label for="s-before">Before</label>
          <input id="s-before" type="datetime-local" value={form.before} onInput={set('before')} />
        </div>
        <div class="actions wide">
          <button type="submit">Search</button>
          {filtered && (
            <a class="button secondary" href={base}>
              Clear filters
            </a>
          )}
        </div>
      </form>
      <ErrorBox error={idError ?? list.error ?? endpoints.error} />
      {!list.data && !list.error && <Loading what="messages" />}
      {list.data?.kind === 'messages' &&
        (list.data.r.data.length === 0 ? (
          filtered ? (
            <p class="muted">No messages match.</p>
          ) : (
            <Empty title="No messages yet">
              {getPortalApp() ? (
                <p>Messages this application sends you appear here.</p>
              ) : (
                <p>
                  <a href={`/event-types?app=${enc(appId)}`}>Send a test event</a>, or publish one with{' '}
                  <code>POST /api/v1/app/{appId}/msg</code>.
                </p>
              )}
            </Empty>
          )
        ) : (
          <div class="scroll">
            <table data-testid="messages">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Event type</th>
                  <th scope="col">Message</th>
                </tr>
              </thead>
              <tbody>
                {list.data.r.data.map((m) => (
                  <tr key={m.id}>
                    <td>
                      <When iso={m.timestamp} />
                    </td>
                    <td>
                      <code>{m.eventType}</code>
                    </td>
                    <td>
                      <a href={`/apps/${enc(appId)}/msg/${enc(m.id)}`}>
                        <code>{m.id}</code>
                      </a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      {list.data?.kind === 'attempts' && <AttemptTable appId={appId} attempts={list.data.r.data} />}
      <div class="actions">
        {f.iterator && (
          <a class="button secondary" href={base + qs({ ...f, iterator: '' })}>
            Newest
          </a>
        )}
        {r && !r.done && r.iterator && (
          <a class="button secondary" href={base + qs({ ...f, iterator: r.iterator })}>
            Older
          </a>
        )}
      </div>
    </main>
  );
}
