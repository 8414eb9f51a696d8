import { type Attempt, api, enc, type ListResponse, type Message } from '../api.ts';
import { AppsCrumb, Code, ErrorBox, Loading, PageTitle, time, useLoad } from '../components.tsx';
import { AttemptTable } from './endpoint.tsx';

/** One message: its payload and every attempt to deliver it. */
export function MessagePage({ appId, msgId }: { appId: string; msgId: string }) {
  const msg = useLoad(() => api<Message>('GET', `/app/${enc(appId)}/msg/${enc(msgId)}`), [appId, msgId]);
  const attempts = useLoad(
    () => api<ListResponse<Attempt>>('GET', `/app/${enc(appId)}/attempt/msg/${enc(msgId)}?limit=100`),
    [appId, msgId],
  );
  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <AppsCrumb />
        <a href={`/apps/${enc(appId)}`}>{appId}</a> / <a href={`/apps/${enc(appId)}/messages`}>Messages</a>
      </nav>
      <PageTitle>Message {msgId}</PageTitle>
      <ErrorBox error={msg.error ?? attempts.error} />
      {msg.data && (
        <>
          <p>
            <code>{msg.data.eventType}</code> · {time(msg.data.timestamp)}
            {msg.data.eventId && (
              <>
                {' '}
                · event id <code>{msg.data.eventId}</code>
              </>
            )}
          </p>
          <Code text={JSON.stringify(msg.data.payload, null, 2)} label="Payload" />
        </>
      )}
      <h2>Attempts</h2>
      {!attempts.data && !attempts.error && <Loading what="attempts" />}
      {attempts.data && <AttemptTable appId={appId} attempts={attempts.data.data} />}
    </main>
  );
}
