import { useState } from 'preact/hooks';
import { enc, getPortalApp, STATUS_TEXT } from '../api.ts';
import { PageTitle, When } from '../components.tsx';
import { type LiveAttempt, type LiveInbound, LiveIndicator, useLive } from '../live.tsx';

type Line = { kind: 'attempt'; a: LiveAttempt } | { kind: 'inbound'; e: LiveInbound };
/** Lines kept on screen; older ones scroll off. */
const KEEP = 200;
/** The lines of this tab's tail, kept while the user opens one and comes back. */
const kept = new Map<string, Line[]>();

/**
 * `hookline tail` in the browser: every attempt and every received request as it happens,
 * newest first, for every application (or the portal's one).
 */
export function TailPage({ appId }: { appId: string | null }) {
  const feed = appId ?? '';
  const [lines, setLinesState] = useState<Line[]>(() => kept.get(feed) ?? []);
  const setLines = (next: Line[] | ((all: Line[]) => Line[])) =>
    setLinesState((all) => {
      const value = typeof next === 'function' ? next(all) : next;
      kept.set(feed, value);
      return value;
    });
  const [paused, setPaused] = useState(false);
  const [show, setShow] = useState({ attempt: true, inbound: appId === null });
  const add = (l: Line) => {
    if (!paused) setLines((all) => [l, ...all].slice(0, KEEP));
  };
  const state = useLive(appId === null ? '/live' : `/app/${enc(appId)}/live`, {
    attempt: (a) => add({ kind: 'attempt', a }),
    inbound: (e) => add({ kind: 'inbound', e }),
  });
  const visible = lines.filter((l) => show[l.kind]);
  const portal = getPortalApp() !== null;
  return (
    <main>
      <div class="title-row">
        <PageTitle>Tail</PageTitle>
        <LiveIndicator state={state} />
      </div>
      <p class="muted">
        Attempts{portal ? '' : ' and received requests'} as they happen, like <code>hookline tail</code>.
      </p>
      <div class="actions">
        <label class="check">
          <input
            type="checkbox"
            checked={show.attempt}
            onChange={(e) => setShow({ ...show, attempt: (e.target as HTMLInputElement).checked })}
          />
          Attempts
        </label>
        {!portal && (
          <label class="check">
            <input
              type="checkbox"
              checked={show.inbound}
              onChange={(e) => setShow({ ...show, inbound: (e.target as HTMLInputElement).checked })}
            />
            Received requests
          </label>
        )}
        <button type="button" class="secondary" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button type="button" class="secondary" onClick={() => setLines([])}>
          Clear
        </button>
      </div>
      {visible.length === 0 ? (
        <p class="muted">Waiting for activity…</p>
      ) : (
        <div class="scroll">
          <table data-testid="tail" class="tail">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Result</th>
                <th scope="col">What</th>
                <th scope="col">Where</th>
              </tr>
            </thead>
            <tbody>
              {visible.map((l) =>
                l.kind === 'attempt' ? (
                  <tr key={l.a.id}>
                    <td>
                      <When iso={l.a.timestamp} />
                    </td>
                    <td>
                      <span class={`badge ${STATUS_TEXT[l.a.status] ?? ''}`}>
                        {l.a.responseStatusCode || 'no response'}
                      </span>{' '}
                      <span class="muted">{l.a.responseDurationMs} ms</span>
                    </td>
                    <td>
                      <code>{l.a.eventType}</code>{' '}
                      <a href={`/apps/${enc(l.a.appId)}/msg/${enc(l.a.msgId)}/attempt/${enc(l.a.id)}`}>
                        <code>{l.a.msgId}</code>
                      </a>
                    </td>
                    <td class="url">{l.a.url}</td>
                  </tr>
                ) : (
                  <tr key={l.e.id}>
                    <td>
                      <When iso={l.e.receivedAt} />
                    </td>
                    <td>
                      <span class={`badge ${l.e.status}`}>{l.e.status}</span>
                    </td>
                    <td>
                      <code>{l.e.eventType}</code>{' '}
                      <a href={`/sources/${enc(l.e.sourceId)}/events/${enc(l.e.id)}`}>
                        <code>{l.e.id}</code>
                      </a>
                      {l.e.verification && <span class="muted"> {l.e.verification.code}</span>}
                    </td>
                    <td>
                      {l.e.method} /in/{l.e.sourceName}
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
