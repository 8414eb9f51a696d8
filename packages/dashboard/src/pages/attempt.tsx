import { type AttemptDetail, api, enc, type InboundEventDetail, type Message, TriggerType } from '../api.ts';
import { BodyView } from '../body-view.tsx';
import {
  AppsCrumb,
  Code,
  ConfirmButton,
  CopyButton,
  CurlBlock,
  curlCommand,
  ErrorBox,
  HeadersTable,
  Loading,
  PageTitle,
  prettyJson,
  preview,
  StatusBadge,
  useLoad,
  When,
} from '../components.tsx';

/**
 * The attempt inspector: the request exactly as Hookline sent it (URL, headers, body) and the
 * response that came back. The body is the message payload: Hookline stores it as the compact
 * JSON it sends, byte for byte. For the forward of an inbound event (`sourceId` given) the body
 * sent is the request the provider posted, kept byte for byte with the event. A chat destination
 * was sent the rendered chat message instead, which the attempt keeps as `requestBody`.
 */
export function AttemptPage({
  appId,
  msgId,
  attemptId,
  sourceId = null,
}: {
  appId: string;
  msgId: string;
  attemptId: string;
  sourceId?: string | null;
}) {
  const attempt = useLoad(
    () => api<AttemptDetail>('GET', `/app/${enc(appId)}/msg/${enc(msgId)}/attempt/${enc(attemptId)}`),
    [appId, msgId, attemptId],
  );
  const msg = useLoad<Message | InboundEventDetail>(
    () =>
      sourceId
        ? api<InboundEventDetail>('GET', `/source/${enc(sourceId)}/event/${enc(msgId)}`)
        : api<Message>('GET', `/app/${enc(appId)}/msg/${enc(msgId)}`),
    [appId, msgId, sourceId],
  );
  const a = attempt.data;
  const inbound = sourceId && msg.data ? (msg.data as InboundEventDetail) : null;
  const body = msg.data && !sourceId ? JSON.stringify((msg.data as Message).payload) : null;
  return (
    <main>
      {sourceId ? (
        <nav aria-label="Breadcrumb" class="crumbs">
          <a href="/sources">Sources</a> / <a href={`/sources/${enc(sourceId)}`}>source</a> /{' '}
          <a href={`/sources/${enc(sourceId)}/events/${enc(msgId)}`}>{msgId}</a>
        </nav>
      ) : (
        <nav aria-label="Breadcrumb" class="crumbs">
          <AppsCrumb />
          <a href={`/apps/${enc(appId)}`}>{appId}</a> /{' '}
          <a href={`/apps/${enc(appId)}/msg/${enc(msgId)}`}>{msgId}</a>
        </nav>
      )}
      <div class="title-row">
        <PageTitle>Attempt {attemptId}</PageTitle>
        <CopyButton text={attemptId} label="attempt id" />
      </div>
      <ErrorBox error={attempt.error ?? msg.error} />
      {!a && !attempt.error && <Loading what="attempt" />}
      {a && (
        <>
          <dl class="stats">
            <div>
              <dt>Result</dt>
              <dd>
                <StatusBadge status={a.status} code={a.responseStatusCode} />
              </dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{a.responseDurationMs} ms</dd>
            </div>
            <div>
              <dt>Time</dt>
              <dd>
                <When iso={a.timestamp} />
              </dd>
            </div>
            <div>
              <dt>Trigger</dt>
              <dd>{a.triggerType === TriggerType.manual ? 'manual' : 'scheduled'}</dd>
            </div>
          </dl>
          <div class="actions">
            <ConfirmButton
              label="Resend"
              title="Resend this message"
              confirmLabel="Resend now"
              class="primary"
              action={async () => {
                await api(
                  'POST',
                  `/app/${enc(appId)}/msg/${enc(msgId)}/endpoint/${enc(a.endpointId)}/resend`,
                );
                return 'Queued: a new attempt will appear on the endpoint page';
              }}
            >
              <p>
                Sends message <code>{msgId}</code> to <code class="url">{a.url}</code> again, with the same{' '}
                <code>webhook-id</code>, freshly signed. The body:
              </p>
              {a.requestBody !== null || body !== null ? (
                <Code text={preview(prettyJson(a.requestBody ?? body ?? ''))} label="Body to resend" />
              ) : (
                <p class="muted">The request the provider posted, byte for byte.</p>
              )}
            </ConfirmButton>
            <a class="button secondary" href={`/apps/${enc(appId)}/endpoints/${enc(a.endpointId)}`}>
              Endpoint health
            </a>
          </div>
          <div class="split">
            <section aria-labelledby="req-h">
              <h2 id="req-h">Request</h2>
              <p class="url">
                <code>POST {a.url}</code>
              </p>
              <HeadersTable headers={a.requestHeaders} caption="Request headers" />
              {(a.requestBody !== null ||
                body !== null ||
                (inbound && inbound.bodyEncoding !== 'base64')) && (
                <CurlBlock
                  command={curlCommand(
                    'POST',
                    a.url,
                    Object.entries(a.requestHeaders),
                    a.requestBody ?? body ?? inbound?.body ?? null,
                  )}
                />
              )}
              <h3>Body</h3>
              {a.requestBody !== null ? (
                <Code text={a.requestBody} label="Request body" />
              ) : inbound ? (
                <BodyView body={inbound.body} encoding={inbound.bodyEncoding} label="Request body" />
              ) : body === null ? (
                <Loading what="body" />
              ) : (
                <Code text={body} label="Request body" />
              )}
            </section>
            <section aria-labelledby="res-h">
              <h2 id="res-h">Response</h2>
              <p>{a.responseStatusCode === 0 ? 'No response' : `HTTP ${a.responseStatusCode}`}</p>
              <HeadersTable headers={a.responseHeaders} caption="Response headers" />
              <h3>Body</h3>
              <Code text={prettyJson(a.response)} label="Response body" />
            </section>
          </div>
        </>
      )}
    </main>
  );
}
