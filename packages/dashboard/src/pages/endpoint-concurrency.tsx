import { useEffect } from 'preact/hooks';
import { api, type EndpointConcurrency, enc } from '../api.ts';
import { ErrorBox, Loading, time, useLoad, When } from '../components.tsx';

/** How often the panel asks again while the tab is visible (a pause ends without any attempt). */
const POLL_MS = 5000;

/** Times in the server's reason ("paused until 2026-…Z by …"), shown in the reader's local time. */
const ISO_TIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/g;

/** The badge's colour for each state: at full speed, growing back, cut, stopped. */
const STATE_CLASS: Record<EndpointConcurrency['state'], string> = {
  steady: 'success',
  increasing: 'pending',
  backed_off: 'warn',
  paused: 'fail',
};

/**
 * How many requests Hookline sends the endpoint at once right now, and why: the adaptive limit
 * (cut on 429/503/504, timeouts and rising latency, grown back while it answers fast), a pause
 * asked for by Retry-After, the requests in flight and waiting. It is what the process that
 * answered knows: each delivering process keeps its own view. Reloaded with the page's live
 * updates (`refresh`) and every few seconds while the tab is visible.
 */
export function ConcurrencyPanel({
  appId,
  endpointId,
  refresh,
}: {
  appId: string;
  endpointId: string;
  refresh: number;
}) {
  const c = useLoad(
    () => api<EndpointConcurrency>('GET', `/app/${enc(appId)}/endpoint/${enc(endpointId)}/concurrency`),
    [appId, endpointId, refresh],
  );
  const { reload } = c;
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [reload]);
  const d = c.data;
  return (
    <section class="card" aria-labelledby="concurrency-h" data-testid="concurrency">
      <h2 id="concurrency-h">Concurrency</h2>
      <ErrorBox error={c.error} />
      {!d && !c.error && <Loading what="concurrency" />}
      {d && !d.delivering && (
        <p data-testid="concurrency-reason">
          This API process does not deliver, so it does not know the endpoint's current concurrency: each
          worker keeps its own view. The most allowed is {d.max} requests at once.
        </p>
      )}
      {d?.delivering && (
        <>
          <dl class="stats">
            <div>
              <dt>Requests at once</dt>
              <dd data-testid="concurrency-limit">
                {d.limit} <span class="muted small">of {d.max}</span>
              </dd>
            </div>
            <div>
              <dt>State</dt>
              <dd>
                <span class={`badge ${STATE_CLASS[d.state]}`} data-testid="concurrency-state">
                  {d.state.replace('_', ' ')}
                </span>
              </dd>
            </div>
            <div>
              <dt>In flight</dt>
              <dd data-testid="concurrency-in-flight">{d.inFlight}</dd>
            </div>
            <div>
              <dt>Waiting</dt>
              <dd data-testid="concurrency-waiting">{d.waiting}</dd>
            </div>
            <div>
              <dt>Latency, recent</dt>
              <dd>
                {d.latencyMs ? (
                  <>
                    {d.latencyMs.recent} ms <span class="muted small">usual {d.latencyMs.usual} ms</span>
                  </>
                ) : (
                  <span class="muted small">no answers yet</span>
                )}
              </dd>
            </div>
            {d.pausedUntil && (
              <div>
                <dt>Paused until</dt>
                <dd>
                  <When iso={d.pausedUntil} />
                </dd>
              </div>
            )}
          </dl>
          <p data-testid="concurrency-reason">
            {d.reason.replace(ISO_TIME, (m) => time(m))}
            {d.changedAt && (
              <span class="muted">
                {' '}
                · changed <When iso={d.changedAt} />
              </span>
            )}
          </p>
          <p class="muted small">
            {d.adaptive
              ? `Adapts between ${d.min} and ${d.max} to the endpoint's answers. `
              : `Adaptive concurrency is off: a fixed limit of ${d.max}. `}
            What this process knows; with several workers, each keeps its own view.
          </p>
        </>
      )}
    </section>
  );
}
