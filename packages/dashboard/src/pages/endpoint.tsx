import { useEffect, useRef, useState } from 'preact/hooks';
import {
  type Attempt,
  api,
  type BackgroundTask,
  type Endpoint,
  type EndpointMessage,
  type EndpointStats,
  enc,
  type ListResponse,
  type Message,
  qs,
} from '../api.ts';
import {
  AppsCrumb,
  asApiError,
  ConfirmButton,
  ErrorBox,
  Id,
  Loading,
  PageTitle,
  StatusBadge,
  StatusOptions,
  useLoad,
  When,
} from '../components.tsx';
import { HealthPanel, WINDOWS, type WindowName } from '../health.tsx';
import { LiveIndicator, useLive } from '../live.tsx';
import { AuthenticationPanel } from './endpoint-auth.tsx';
import { ConcurrencyPanel } from './endpoint-concurrency.tsx';
import { EndpointManage } from './endpoint-manage.tsx';
import { TransformationPanel } from './endpoint-transformation.tsx';

/**
 * One endpoint: health charts, its current concurrency, recent attempts (filterable by status),
 * bulk recover, replay of the messages it never got, its transformation and how Hookline
 * authenticates to it.
 */
export function EndpointPage({ appId, endpointId }: { appId: string; endpointId: string }) {
  // The window, status filter and page start from the URL and go back into it (a shareable view).
  const initial = new URLSearchParams(location.search);
  const [window, setWindow] = useState<WindowName>(() => {
    const w = initial.get('window');
    return w && w in WINDOWS ? (w as WindowName) : '1h';
  });
  const [refresh, setRefresh] = useState(0);
  const [status, setStatus] = useState(initial.get('status') ?? '');
  // New attempts to this endpoint refresh the attempts and the health panel (at most once a second).
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (pending.current && clearTimeout(pending.current)), []);
  const live = useLive(`/app/${enc(appId)}/live?endpoint=${enc(endpointId)}`, {
    attempt: () => {
      if (pending.current) return;
      pending.current = setTimeout(() => {
        pending.current = null;
        setRefresh((r) => r + 1);
      }, 1000);
    },
  });
  const ep = useLoad(
    () => api<Endpoint>('GET', `/app/${enc(appId)}/endpoint/${enc(endpointId)}`),
    [appId, endpointId],
  );
  /** Null: the newest page; otherwise the list iterator of an older page. */
  const [iterator, setIterator] = useState<string | null>(initial.get('iterator'));
  useEffect(() => {
    const q = qs({ window: window === '1h' ? '' : window, status, iterator });
    if (q !== location.search) history.replaceState(null, '', `${location.pathname}${q}`);
  }, [window, status, iterator]);
  const attempts = useLoad(
    () =>
      api<ListResponse<Attempt>>(
        'GET',
        `/app/${enc(appId)}/attempt/endpoint/${enc(endpointId)}${qs({ limit: 50, status, iterator, with_msg: true, with_content: false })}`,
      ),
    [appId, endpointId, status, iterator, refresh],
  );
  const [recoverSince, setRecoverSince] = useState(() => toLocalInput(Date.now() - 86_400_000));
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <AppsCrumb />
        <a href={`/apps/${enc(appId)}`}>{appId}</a>
      </nav>
      <PageTitle>Endpoint</PageTitle>
      <ErrorBox error={ep.error} />
      {ep.data && (
        <p class="url">
          <code>{ep.data.url}</code>
          {ep.data.description && <span class="muted"> · {ep.data.description}</span>}
          {ep.data.kind && ep.data.kind !== 'http' && <span class="muted"> · {ep.data.kind}</span>}
          {ep.data.timeout !== null && <span class="muted"> · timeout {ep.data.timeout} s</span>}
          <span class="muted"> · events: {ep.data.filterTypes?.join(', ') ?? 'all'} · id </span>
          <Id value={ep.data.id} label="endpoint id" />
        </p>
      )}
      {ep.data && (
        <EndpointManage
          appId={appId}
          endpoint={ep.data}
          onChange={() => {
            // The health panel's state badge shows disabled too.
            ep.reload();
            setRefresh((x) => x + 1);
          }}
        />
      )}
      <div class="actions">
        <fieldset class="segmented">
          <legend>Window</legend>
          {(Object.keys(WINDOWS) as WindowName[]).map((w) => (
            <label key={w}>
              <input
                type="radio"
                name="window"
                value={w}
                checked={window === w}
                onChange={() => setWindow(w)}
              />
              {w}
            </label>
          ))}
        </fieldset>
        <button type="button" class="secondary" onClick={() => setRefresh((r) => r + 1)}>
          Refresh
        </button>
        <LiveIndicator state={live} />
        <ConfirmButton
          label="Recover failed messages"
          title="Recover failed messages"
          confirmLabel="Recover"
          action={async () => {
            let task = await api<BackgroundTask>(
              'POST',
              `/app/${enc(appId)}/endpoint/${enc(endpointId)}/recover`,
              { since: new Date(recoverSince).toISOString() },
            );
            // A background task: follow it for a while (a long window takes a few seconds).
            for (let i = 0; task.status === 'running' && i < 60; i++) {
              await new Promise((r) => setTimeout(r, 250));
              task = await api<BackgroundTask>('GET', `/background-task/${enc(task.id)}`);
            }
            setRefresh((x) => x + 1);
            const queued = Number(task.data.messagesQueued ?? 0);
            if (task.status === 'failed')
              throw new Error(`recovery failed: ${String(task.data.error ?? '')}`);
            if (task.status === 'running')
              return `recovery still running: ${queued} messages queued again so far`;
            return `${queued} messages queued again`;
          }}
        >
          <p>
            Every failed or canceled delivery to this endpoint since the time below (at most 14 days ago), and
            every message it missed while disabled, is sent again.
          </p>
          <RecoverPreview appId={appId} endpointId={endpointId} since={recoverSince} />
          <label for="recover-since">Since</label>
          <input
            id="recover-since"
            type="datetime-local"
            min={toLocalInput(Date.now() - 14 * 86_400_000)}
            value={recoverSince}
            onInput={(e) => setRecoverSince((e.target as HTMLInputElement).value)}
          />
        </ConfirmButton>
        <ReplayMissing
          appId={appId}
          endpointId={endpointId}
          endpoint={ep.data}
          onDone={() => setRefresh((x) => x + 1)}
        />
      </div>
      <HealthPanel appId={appId} endpointId={endpointId} window={window} refresh={refresh} />
      {/* Nothing is sent to a polling endpoint: no concurrency to show. */}
      {ep.data && ep.data.kind !== 'poller' && (
        <ConcurrencyPanel appId={appId} endpointId={endpointId} refresh={refresh} />
      )}
      <h2>Recent attempts</h2>
      <label for="attempt-status">Status</label>{' '}
      <select
        id="attempt-status"
        value={status}
        onChange={(e) => {
          setStatus((e.target as HTMLSelectElement).value);
          setIterator(null);
        }}
      >
        <option value="">any</option>
        <StatusOptions names={['success', 'fail', 'pending']} />
      </select>
      <ErrorBox error={attempts.error} />
      {!attempts.data && !attempts.error && <Loading what="attempts" />}
      {attempts.data && <AttemptTable appId={appId} attempts={attempts.data.data} />}
      <div class="actions">
        {iterator !== null && (
          <button type="button" class="secondary" onClick={() => setIterator(null)}>
            Newest attempts
          </button>
        )}
        {attempts.data && !attempts.data.done && (
          <button
            type="button"
            class="secondary"
            onClick={() => setIterator(attempts.data?.iterator ?? null)}
          >
            Older attempts
          </button>
        )}
      </div>
      {/* Transformations and authentication shape HTTP requests; chat and polling endpoints have none. */}
      {ep.data?.kind === 'http' && (
        <>
          <TransformationPanel appId={appId} endpoint={ep.data} />
          <AuthenticationPanel appId={appId} endpointId={endpointId} />
        </>
      )}
    </main>
  );
}

/**
 * Svix's replay-missing: every message since a time that this endpoint never had a delivery of
 * (it did not exist yet, was disabled or filtered them out) goes to it. It runs as a background
 * task; its progress (messages queued so far) shows until it is done.
 */
function ReplayMissing({
  appId,
  endpointId,
  endpoint,
  onDone,
}: {
  appId: string;
  endpointId: string;
  endpoint: Endpoint | null;
  onDone: () => void;
}) {
  const [since, setSince] = useState(() => toLocalInput(Date.now() - 86_400_000));
  const [task, setTask] = useState<BackgroundTask | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!task) return;
    if (task.status !== 'running') {
      onDone();
      return;
    }
    const timer = setTimeout(async () => {
      try {
        setTask(await api<BackgroundTask>('GET', `/background-task/${enc(task.id)}`));
      } catch (err) {
        setError(asApiError(err).message);
      }
    }, 300);
    return () => clearTimeout(timer);
  }, [task]);
  /** Bumped each time the dialog opens: the preview is read then, not with the page. */
  const [opened, setOpened] = useState(0);
  const queued = Number(task?.data.messagesQueued ?? 0);
  return (
    <>
      <ConfirmButton
        label="Replay missing messages"
        title="Replay missing messages"
        confirmLabel="Replay"
        onOpen={() => setOpened((n) => n + 1)}
        action={async () => {
          setError(null);
          setTask(
            await api<BackgroundTask>(
              'POST',
              `/app/${enc(appId)}/endpoint/${enc(endpointId)}/replay-missing`,
              {
                since: new Date(since).toISOString(),
              },
            ),
          );
          return '';
        }}
      >
        <p>
          Every message since the time below that this endpoint never got (it did not exist yet, was disabled
          or did not subscribe to its event type then) is sent to it now, if it matches its filters today.
        </p>
        {endpoint && opened > 0 && (
          <ReplayPreview appId={appId} endpoint={endpoint} since={since} opened={opened} />
        )}
        <label for="replay-since">Since</label>
        <input
          id="replay-since"
          type="datetime-local"
          value={since}
          onInput={(e) => setSince((e.target as HTMLInputElement).value)}
        />
      </ConfirmButton>
      {task && (
        <span class={task.status === 'failed' ? 'error' : 'ok'} role="status" data-testid="replay-task">
          {task.status === 'running' && <progress aria-label="Replay progress" />}
          Replay {task.status}: {queued} {queued === 1 ? 'message' : 'messages'} queued
          {task.status === 'failed' && task.data.error ? ` (${String(task.data.error)})` : ''}
          {error && ` (${error})`}
        </span>
      )}
    </>
  );
}

/**
 * Attempts, newest first. `showMessage` adds the message each went with (its event type and id);
 * a message's own page leaves it out.
 */
export function AttemptTable({
  appId,
  attempts,
  showMessage = true,
}: {
  appId: string;
  attempts: Attempt[];
  showMessage?: boolean;
}) {
  if (attempts.length === 0) return <p class="muted">No attempts.</p>;
  return (
    <div class="scroll">
      <table data-testid="attempts" class="attempts">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Status</th>
            {showMessage && <th scope="col">Message</th>}
            <th scope="col">Duration</th>
            <th scope="col">Attempt</th>
          </tr>
        </thead>
        <tbody>
          {attempts.map((a) => (
            <tr key={a.id}>
              <td>
                <When iso={a.timestamp} />
              </td>
              <td>
                <StatusBadge status={a.status} code={a.responseStatusCode} />
                {a.triggerType === 1 && <span class="muted"> manual</span>}
              </td>
              {showMessage && (
                <td>
                  {a.msg && (
                    <>
                      <code>{a.msg.eventType}</code>{' '}
                    </>
                  )}
                  <a class="id-link" href={`/apps/${enc(appId)}/msg/${enc(a.msgId)}`}>
                    <code>{a.msgId}</code>
                  </a>
                </td>
              )}
              <td>{a.responseDurationMs} ms</td>
              <td>
                <a href={`/apps/${enc(appId)}/msg/${enc(a.msgId)}/attempt/${enc(a.id)}`}>
                  Inspect<span class="sr-only"> attempt {a.id}</span>
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** `Date` as the value of a `datetime-local` input (local time, minutes). */
export function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** What a recover would send again: the failed and canceled deliveries since the chosen time. */
function RecoverPreview({ appId, endpointId, since }: { appId: string; endpointId: string; since: string }) {
  const stats = useLoad(
    () =>
      api<EndpointStats>(
        'GET',
        `/app/${enc(appId)}/endpoint/${enc(endpointId)}/stats${qs({ since: since ? new Date(since).toISOString() : '' })}`,
      ),
    [appId, endpointId, since],
  );
  if (!stats.data) return null;
  const n = stats.data.fail + stats.data.canceled;
  return (
    <p data-testid="recover-preview">
      <strong>
        {n} {n === 1 ? 'delivery' : 'deliveries'}
      </strong>{' '}
      failed or canceled since then ({stats.data.fail} failed, {stats.data.canceled} canceled).
    </p>
  );
}

/** How many of the previewed messages a replay preview lists by name. */
const REPLAY_PREVIEW_SHOWN = 5;

/**
 * What a replay of missing messages would send: the application's messages since the chosen time
 * that match the endpoint's event types and channels today, less those it already had a delivery
 * of (the newest 250 of each; beyond that the count says "more than").
 */
function ReplayPreview({
  appId,
  endpoint,
  since,
  opened,
}: {
  appId: string;
  endpoint: Endpoint;
  since: string;
  opened: number;
}) {
  const found = useLoad(async () => {
    const after = since ? new Date(since).toISOString() : '';
    const [sent, had] = await Promise.all([
      api<ListResponse<Message>>(
        'GET',
        `/app/${enc(appId)}/msg${qs({ after, limit: 250, with_content: false })}`,
      ),
      api<ListResponse<EndpointMessage>>(
        'GET',
        `/app/${enc(appId)}/endpoint/${enc(endpoint.id)}/msg${qs({ after, limit: 250, with_content: false })}`,
      ),
    ]);
    const got = new Set(had.data.map((m) => m.id));
    const types = endpoint.filterTypes?.length ? endpoint.filterTypes : null;
    const channels = endpoint.channels?.length ? endpoint.channels : null;
    const missing = sent.data.filter(
      (m) =>
        !got.has(m.id) &&
        (!types || types.includes(m.eventType)) &&
        (!channels || (m.channels ?? []).some((c) => channels.includes(c))),
    );
    return { missing, more: !sent.done || !had.done };
  }, [appId, endpoint, since, opened]);
  if (found.error) return <ErrorBox error={found.error} />;
  if (!found.data) return null;
  const { missing, more } = found.data;
  const n = `${more ? 'more than ' : ''}${missing.length}`;
  return (
    <div data-testid="replay-preview">
      <p>
        <strong>
          {n} {missing.length === 1 && !more ? 'message' : 'messages'}
        </strong>{' '}
        since then {missing.length === 1 && !more ? 'is' : 'are'} missing here
        {missing.length > 0 ? ':' : '.'}
      </p>
      {missing.length > 0 && (
        <ul class="plain small">
          {missing.slice(0, REPLAY_PREVIEW_SHOWN).map((m) => (
            <li key={m.id}>
              <code>{m.eventType}</code> <code>{m.id}</code> <When iso={m.timestamp} />
            </li>
          ))}
          {missing.length > REPLAY_PREVIEW_SHOWN && (
            <li class="muted">and {missing.length - REPLAY_PREVIEW_SHOWN} more</li>
          )}
        </ul>
      )}
    </div>
  );
}
