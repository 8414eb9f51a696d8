import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { api, enc, getPortalApp, type Overview, qs, STATUS_TEXT } from '../api.ts';
import { Code, Empty, ErrorBox, Loading, PageTitle, useLoad, When } from '../components.tsx';
import { Chart } from '../health.tsx';
import { type LiveAttempt, type LiveInbound, LiveIndicator, useLive } from '../live.tsx';

type Window = '1h' | '24h';

const SERIES: uPlot.Series[] = [
  { label: 'deliveries / min', stroke: '#3b82f6', fill: 'rgba(59,130,246,0.15)', points: { show: false } },
  { label: 'success %', stroke: '#16a34a', scale: '%', points: { show: true, size: 4 } },
];

/** The home page: how things are going across every application. */
export function OverviewPage() {
  return (
    <main>
      <PageTitle>Overview</PageTitle>
      <OverviewPanel appId={null} />
    </main>
  );
}

type Activity = { kind: 'attempt'; a: LiveAttempt } | { kind: 'inbound'; e: LiveInbound };

/**
 * Deliveries per minute and success rate, endpoints in trouble, the undelivered backlog, recent
 * failures and inbound sources; kept current by the live feed. `appId` null: every application.
 */
export function OverviewPanel({ appId }: { appId: string | null }) {
  const [window, setWindow] = useState<Window>('1h');
  const [tick, setTick] = useState(0);
  const base = appId === null ? '' : `/app/${enc(appId)}`;
  const ov = useLoad(() => api<Overview>('GET', `${base}/overview${qs({ window })}`), [base, window, tick]);
  const [activity, setActivity] = useState<Activity[]>([]);
  // Reload the numbers at most once a second while events arrive.
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const soon = () => {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      setTick((t) => t + 1);
    }, 1000);
  };
  useEffect(() => () => void (pending.current && clearTimeout(pending.current)), []);
  const push = (x: Activity) => {
    setActivity((list) => [x, ...list].slice(0, 8));
    soon();
  };
  const live = useLive(`${base}/live`, {
    attempt: (a) => push({ kind: 'attempt', a }),
    inbound: (e) => push({ kind: 'inbound', e }),
  });
  const o = ov.data;
  const perMinute = o ? o.bucketSeconds / 60 : 1;
  const chart = useMemo<uPlot.AlignedData | null>(
    () =>
      o
        ? [
            o.series.map((b) => Date.parse(b.start) / 1000),
            o.series.map((b) => +(b.attempts / perMinute).toFixed(2)),
            o.series.map((b) => (b.attempts ? (100 * b.successes) / b.attempts : null)),
          ]
        : null,
    [o],
  );
  const rate =
    o && o.totals.attempts > 0 ? `${((100 * o.totals.successes) / o.totals.attempts).toFixed(1)}%` : '–';
  const appLink = (id: string) => `/apps/${enc(id)}`;
  return (
    <div class="overview">
      <div class="actions">
        <LiveIndicator state={live} />
        <fieldset class="segmented">
          <legend>Window</legend>
          {(['1h', '24h'] as Window[]).map((w) => (
            <label key={w}>
              <input type="radio" name="ov-window" checked={window === w} onChange={() => setWindow(w)} />
              {w === '1h' ? 'Last hour' : 'Last 24 hours'}
            </label>
          ))}
        </fieldset>
      </div>
      <ErrorBox error={ov.error} />
      {!o && !ov.error && <Loading what="the overview" />}
      {o && (
        <>
          <dl class="stats cards-row" data-testid="overview-totals">
            <div class="card">
              <dt>Attempts</dt>
              <dd data-testid="ov-attempts">{o.totals.attempts}</dd>
            </div>
            <div class="card">
              <dt>Success rate</dt>
              <dd data-testid="ov-rate">{rate}</dd>
            </div>
            <div class="card">
              <dt>Endpoints in trouble</dt>
              <dd data-testid="ov-troubled" class={o.troubledEndpoints.length ? 'bad' : 'good'}>
                {o.troubledEndpoints.length}
              </dd>
            </div>
            <div class="card">
              <dt>Undelivered</dt>
              <dd data-testid="ov-undelivered">{o.undelivered.reduce((n, u) => n + u.count, 0)}</dd>
            </div>
          </dl>
          {o.totals.attempts === 0 && o.undelivered.length === 0 && activity.length === 0 && (
            <FirstMessage appId={appId} />
          )}
          {chart && <Chart title="Deliveries per minute and success rate" data={chart} series={SERIES} />}
          <div class="split">
            <section aria-labelledby="trouble-h" class="card">
              <h2 id="trouble-h">Failing or disabled endpoints</h2>
              {o.troubledEndpoints.length === 0 ? (
                <p class="good">Every endpoint is healthy.</p>
              ) : (
                <ul class="plain" data-testid="troubled">
                  {o.troubledEndpoints.map((e) => (
                    <li key={e.id}>
                      <a class="url" href={`${appLink(e.appId)}/endpoints/${enc(e.id)}`}>
                        {e.url}
                      </a>
                      <span class="row">
                        {e.disabled ? (
                          <span class="badge fail">disabled</span>
                        ) : (
                          <span class="badge warn">failing</span>
                        )}
                        <span class="muted">
                          since <When iso={e.disabled ? e.updatedAt : (e.failingSince ?? e.updatedAt)} />
                          {appId === null && <> · {e.appName}</>}
                        </span>
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <section aria-labelledby="undelivered-h" class="card">
              <h2 id="undelivered-h">Undelivered right now</h2>
              {o.undelivered.length === 0 ? (
                <p class="good">Nothing waiting.</p>
              ) : (
                <table data-testid="undelivered">
                  <thead>
                    <tr>
                      <th scope="col">Endpoint</th>
                      <th scope="col">Waiting</th>
                      <th scope="col">Oldest</th>
                      <th scope="col">Next try</th>
                    </tr>
                  </thead>
                  <tbody>
                    {o.undelivered.map((u) => (
                      <tr key={u.endpointId}>
                        <td class="url">
                          <a href={`${appLink(u.appId)}/endpoints/${enc(u.endpointId)}`}>{u.url}</a>
                        </td>
                        <td>{u.count}</td>
                        <td>
                          <When iso={u.oldestAt} />
                        </td>
                        <td>
                          <When iso={u.nextAttemptAt} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          </div>
          <div class="split">
            <section aria-labelledby="activity-h" class="card">
              <h2 id="activity-h">Live activity</h2>
              {activity.length === 0 ? (
                <p class="muted">New attempts and received requests appear here as they happen.</p>
              ) : (
                <ul class="plain" data-testid="activity">
                  {activity.map((x) =>
                    x.kind === 'attempt' ? (
                      <li key={x.a.id}>
                        <span class={`badge ${STATUS_TEXT[x.a.status] ?? ''}`}>
                          {x.a.responseStatusCode || 'no response'}
                        </span>{' '}
                        <code>{x.a.eventType}</code> →{' '}
                        <a href={`${appLink(x.a.appId)}/msg/${enc(x.a.msgId)}`}>{x.a.msgId}</a>{' '}
                        <span class="muted">
                          <When iso={x.a.timestamp} />
                        </span>
                      </li>
                    ) : (
                      <li key={x.e.id}>
                        <span class={`badge ${x.e.status}`}>{x.e.status}</span> {x.e.sourceName}:{' '}
                        <a href={`/sources/${enc(x.e.sourceId)}/events/${enc(x.e.id)}`}>{x.e.id}</a>{' '}
                        <span class="muted">
                          <When iso={x.e.receivedAt} />
                        </span>
                      </li>
                    ),
                  )}
                </ul>
              )}
            </section>
            <section aria-labelledby="failures-h" class="card">
              <h2 id="failures-h">Recent failures</h2>
              {o.recentFailures.length === 0 ? (
                <p class="good">No failed attempts in this window.</p>
              ) : (
                <ul class="plain" data-testid="failures">
                  {o.recentFailures.map((f) => (
                    <li key={f.id}>
                      <span class="badge fail">{f.responseStatusCode || 'no response'}</span>{' '}
                      <code>{f.eventType}</code> to <span class="url">{f.url}</span>{' '}
                      <a href={`${appLink(f.appId)}/msg/${enc(f.msgId)}/attempt/${enc(f.id)}`}>
                        Inspect<span class="sr-only"> attempt {f.id}</span>
                      </a>{' '}
                      <span class="muted">
                        <When iso={f.timestamp} />
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </section>
          </div>
          {!getPortalApp() && (
            <section aria-labelledby="sources-h" class="card">
              <h2 id="sources-h">Inbound sources</h2>
              {o.sources.length === 0 ? (
                <Empty title="No sources yet">
                  <p>
                    A source receives webhooks from a provider, verifies them and forwards them.{' '}
                    <a href="/sources/new">Create a source</a>
                  </p>
                </Empty>
              ) : (
                <table data-testid="sources">
                  <thead>
                    <tr>
                      <th scope="col">Source</th>
                      <th scope="col">Accepted</th>
                      <th scope="col">Rejected</th>
                      <th scope="col">Accept rate</th>
                    </tr>
                  </thead>
                  <tbody>
                    {o.sources.map((s) => {
                      const n = s.accepted + s.rejected;
                      return (
                        <tr key={s.id}>
                          <td>
                            <a href={`/sources/${enc(s.id)}`}>{s.name}</a>
                          </td>
                          <td>{s.accepted}</td>
                          <td>
                            {s.rejected > 0 ? (
                              <a href={`/sources/${enc(s.id)}/events?status=rejected`}>{s.rejected}</a>
                            ) : (
                              0
                            )}
                          </td>
                          <td>{n ? `${((100 * s.accepted) / n).toFixed(0)}%` : '–'}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              )}
            </section>
          )}
          <p class="muted small">
            Window from <When iso={o.since} />, {o.bucketSeconds / 60}-minute buckets.
          </p>
        </>
      )}
    </div>
  );
}

/**
 * Nothing delivered in the window: the next step, a first message (with the admin token; an
 * application token cannot publish, so the portal only says where messages will show).
 */
function FirstMessage({ appId }: { appId: string | null }) {
  if (getPortalApp())
    return (
      <Empty title="No deliveries in this window">
        <p>Messages this application sends to your endpoints appear here as they are delivered.</p>
      </Empty>
    );
  const app = appId === null ? '$APP_ID' : appId;
  return (
    <Empty title="No deliveries in this window">
      <p>
        {appId === null ? (
          <>
            <a href="/apps">Create an application</a> with an endpoint, then{' '}
          </>
        ) : (
          <>
            <a href={`/apps/${enc(appId)}/endpoints/new`}>Create an endpoint</a> if there is none yet, then{' '}
          </>
        )}
        <a href={`/event-types${appId === null ? '' : qs({ app: appId })}`}>send a test event</a>, or send a
        first message from your code:
      </p>
      <Code
        label="Send a first message with curl"
        text={`curl -X POST ${location.origin}/api/v1/app/${app}/msg \\\n  -H "authorization: Bearer $HOOKLINE_ADMIN_TOKEN" \\\n  -H 'content-type: application/json' \\\n  -d '{"eventType": "invoice.paid", "payload": {"invoiceId": "inv_1"}}'`}
      />
    </Empty>
  );
}
