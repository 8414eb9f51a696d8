import { type Attempt, api, enc, type ListResponse, type Message, type MessageDestination } from '../api.ts';
import {
  AppsCrumb,
  Code,
  CopyButton,
  ErrorBox,
  Id,
  Loading,
  PageTitle,
  StatusBadge,
  useLoad,
  When,
} from '../components.tsx';
import { LiveIndicator, useLive } from '../live.tsx';
import { AttemptTable } from './endpoint.tsx';

/**
 * One message: its payload, one row per endpoint (where its delivery stands: status, attempts,
 * next try; Svix's listAttemptedDestinations, with the attempt count taken from the attempts
 * listed below), then each endpoint's attempts. New attempts arrive live.
 */
export function MessagePage({ appId, msgId }: { appId: string; msgId: string }) {
  const msg = useLoad(() => api<Message>('GET', `/app/${enc(appId)}/msg/${enc(msgId)}`), [appId, msgId]);
  const deliveries = useLoad(
    () =>
      api<ListResponse<MessageDestination>>('GET', `/app/${enc(appId)}/msg/${enc(msgId)}/endpoint?limit=250`),
    [appId, msgId],
  );
  const attempts = useLoad(
    () => api<ListResponse<Attempt>>('GET', `/app/${enc(appId)}/attempt/msg/${enc(msgId)}?limit=250`),
    [appId, msgId],
  );
  const live = useLive(msg.data ? `/app/${enc(appId)}/live?msg=${enc(msg.data.id)}` : null, {
    attempt: () => {
      deliveries.reload();
      attempts.reload();
    },
  });
  // One row per endpoint, where its newest delivery (a resend adds another) stands.
  const byEndpoint = new Map<string, MessageDestination>();
  for (const d of deliveries.data?.data ?? []) byEndpoint.set(d.id, d);
  const all = attempts.data?.data ?? [];
  const attemptCount = (endpointId: string) => all.filter((a) => a.endpointId === endpointId).length;
  // Attempts to endpoints deleted since: the destinations list only existing endpoints.
  const gone = [...new Set(all.map((a) => a.endpointId))].filter((id) => !byEndpoint.has(id));
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <AppsCrumb />
        <a href={`/apps/${enc(appId)}`}>{appId}</a> / <a href={`/apps/${enc(appId)}/messages`}>Messages</a>
      </nav>
      <div class="title-row">
        <PageTitle>Message {msgId}</PageTitle>
        <CopyButton text={msgId} label="message id" />
        <LiveIndicator state={live} />
      </div>
      <ErrorBox error={msg.error ?? deliveries.error ?? attempts.error} />
      {msg.data && (
        <>
          <dl class="stats">
            <div>
              <dt>Event type</dt>
              <dd>
                <code>{msg.data.eventType}</code>
              </dd>
            </div>
            <div>
              <dt>Created</dt>
              <dd>
                <When iso={msg.data.timestamp} />
              </dd>
            </div>
            {msg.data.eventId && (
              <div>
                <dt>Event id</dt>
                <dd>
                  <Id value={msg.data.eventId} label="event id" />
                </dd>
              </div>
            )}
          </dl>
          <details>
            <summary>Payload</summary>
            <Code text={JSON.stringify(msg.data.payload, null, 2)} label="Payload" />
          </details>
        </>
      )}
      <h2>Endpoints</h2>
      {!deliveries.data && !deliveries.error && <Loading what="deliveries" />}
      {deliveries.data && byEndpoint.size === 0 && (
        <p class="muted">No endpoint was subscribed to this message's event type when it was sent.</p>
      )}
      {byEndpoint.size > 0 && (
        <div class="scroll">
          <table data-testid="deliveries">
            <thead>
              <tr>
                <th scope="col">Endpoint</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Next try</th>
              </tr>
            </thead>
            <tbody>
              {[...byEndpoint.values()].map((d) => (
                <tr key={d.id}>
                  <td class="url">
                    <a href={`/apps/${enc(appId)}/endpoints/${enc(d.id)}`}>{d.url}</a>
                    {d.disabled && <span class="muted"> (disabled)</span>}
                  </td>
                  <td>
                    <StatusBadge status={d.status} />
                  </td>
                  <td>{attemptCount(d.id)}</td>
                  <td>{d.nextAttempt ? <When iso={d.nextAttempt} /> : <span class="muted">–</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {[...byEndpoint.values()].map((d) => (
        <section key={d.id} aria-label={`Attempts to ${d.url}`}>
          <h3 class="url">Attempts to {d.url}</h3>
          <AttemptTable
            appId={appId}
            attempts={all.filter((a) => a.endpointId === d.id)}
            showMessage={false}
          />
        </section>
      ))}
      {gone.map((id) => (
        <section key={id} aria-label={`Attempts to deleted endpoint ${id}`}>
          <h3>
            Attempts to deleted endpoint <code>{id}</code>
          </h3>
          <AttemptTable appId={appId} attempts={all.filter((a) => a.endpointId === id)} showMessage={false} />
        </section>
      ))}
    </main>
  );
}
