import { useState } from 'preact/hooks';
import {
  type ApiError,
  type Attempt,
  api,
  type Endpoint,
  enc,
  type ListResponse,
  type Message,
  qs,
} from '../api.ts';
import { AppsCrumb, asApiError, ErrorBox, PageTitle, StatusOptions, time, useLoad } from '../components.tsx';
import { navigate } from '../router.ts';
import { AttemptTable, toLocalInput } from './endpoint.tsx';

interface Search {
  id: string;
  eventType: string;
  endpoint: string;
  status: string;
  after: string;
  before: string;
}

const iso = (local: string) => (local ? new Date(local).toISOString() : undefined);

/**
 * Search: by message id or event id (opens the message), or by event type and time; with an
 * endpoint (and optionally a status) it lists that endpoint's attempts instead of messages.
 */
export function MessagesPage({ appId }: { appId: string }) {
  const endpoints = useLoad(
    () => api<ListResponse<Endpoint>>('GET', `/app/${enc(appId)}/endpoint?limit=250`),
    [appId],
  );
  const [form, setForm] = useState<Search>({
    id: '',
    eventType: '',
    endpoint: '',
    status: '',
    after: toLocalInput(Date.now() - 7 * 86_400_000),
    before: '',
  });
  const [messages, setMessages] = useState<Message[] | null>(null);
  const [attempts, setAttempts] = useState<Attempt[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  /** Iterator of the next page of the current search; null when it has been read to the end. */
  const [next, setNext] = useState<string | null>(null);
  const set = (k: keyof Search) => (e: Event) =>
    setForm({ ...form, [k]: (e.target as HTMLInputElement | HTMLSelectElement).value });

  const search = async (e?: Event, iterator: string | null = null) => {
    e?.preventDefault();
    setError(null);
    try {
      if (form.id.trim()) {
        const m = await api<Message>('GET', `/app/${enc(appId)}/msg/${enc(form.id.trim())}`);
        navigate(`/apps/${enc(appId)}/msg/${enc(m.id)}`);
        return;
      }
      const common = {
        event_types: form.eventType.trim(),
        after: iso(form.after),
        before: iso(form.before),
        limit: 100,
      };
      if (form.endpoint) {
        const r = await api<ListResponse<Attempt>>(
          'GET',
          `/app/${enc(appId)}/attempt/endpoint/${enc(form.endpoint)}${qs({ ...common, status: form.status, with_msg: true, with_content: false })}`,
        );
        setAttempts(iterator ? [...(attempts ?? []), ...r.data] : r.data);
        setMessages(null);
        setNext(r.done ? null : r.iterator);
      } else {
        const r = await api<ListResponse<Message>>(
          'GET',
          `/app/${enc(appId)}/msg${qs({ ...common, with_content: false })}`,
        );
        setMessages(iterator ? [...(messages ?? []), ...r.data] : r.data);
        setAttempts(null);
        setNext(r.done ? null : r.iterator);
      }
    } catch (err) {
      setError(asApiError(err));
    }
  };

  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <AppsCrumb />
        <a href={`/apps/${enc(appId)}`}>{appId}</a>
      </nav>
      <PageTitle>Messages and attempts</PageTitle>
      <form class="grid" onSubmit={search}>
        <div>
          <label for="s-id">Message id or event id</label>
          <input id="s-id" value={form.id} onInput={set('id')} placeholder="msg_… or your eventId" />
        </div>
        <div>
          <label for="s-type">Event types</label>
          <input
            id="s-type"
            value={form.eventType}
            onInput={set('eventType')}
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
        <div class="actions">
          <button type="submit">Search</button>
        </div>
      </form>
      <ErrorBox error={error ?? endpoints.error} />
      {messages && messages.length === 0 && <p class="muted">No messages match.</p>}
      {messages && messages.length > 0 && (
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
              {messages.map((m) => (
                <tr key={m.id}>
                  <td>{time(m.timestamp)}</td>
                  <td>
                    <code>{m.eventType}</code>
                  </td>
                  <td>
                    <a href={`/apps/${enc(appId)}/msg/${enc(m.id)}`}>{m.id}</a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {attempts && <AttemptTable appId={appId} attempts={attempts} />}
      {next && (
        <button type="button" class="secondary" onClick={() => search(undefined, next)}>
          Load more
        </button>
      )}
    </main>
  );
}
