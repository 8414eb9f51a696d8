import { useEffect, useState } from 'preact/hooks';
import {
  ApiError,
  api,
  type Endpoint,
  type EventType,
  enc,
  type SimulateIn,
  type SimulateOut,
  type Transformation,
  type TransformationPatch,
} from '../api.ts';
import {
  asApiError,
  Code,
  ErrorBox,
  HeadersTable,
  Loading,
  prettyJson,
  useLoad,
  When,
} from '../components.tsx';
import { examplePayload } from './event-types.tsx';

/** What the editor starts with when the endpoint has no transformation yet. */
export const TEMPLATE = `function handler(webhook) {
  // webhook.payload is the message's JSON; webhook.eventType, .method, .url and .headers
  // may be read and changed. Set webhook.cancel = true to send nothing.
  return webhook;
}
`;

/**
 * The endpoint's transformation: JavaScript `handler(webhook)` run before each request (it may
 * change the body, method, URL and headers, or cancel the delivery). Edit it, turn it on or off,
 * save it, and try the code in the editor (saved or not) on a sample payload to see the request
 * it would make, or why it fails.
 */
export function TransformationPanel({ appId, endpoint }: { appId: string; endpoint: Endpoint }) {
  const base = `/app/${enc(appId)}/endpoint/${enc(endpoint.id)}/transformation`;
  const saved = useLoad(() => api<Transformation>('GET', base), [base]);
  const [code, setCode] = useState<string | null>(null);
  const [enabled, setEnabled] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [note, setNote] = useState('');
  // The editor starts from the saved code (or the template) once it has loaded.
  useEffect(() => {
    if (!saved.data || code !== null) return;
    setCode(saved.data.code ?? TEMPLATE);
    setEnabled(saved.data.code ? saved.data.enabled : true);
  }, [saved.data]);

  const save = async (patch: TransformationPatch, done: string) => {
    setBusy(true);
    setError(null);
    setNote('');
    try {
      await api('PATCH', base, patch);
      setNote(done);
      saved.reload();
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  const t = saved.data;
  return (
    <section class="card" aria-labelledby="transformation-h">
      <h2 id="transformation-h">Transformation</h2>
      <ErrorBox error={saved.error} />
      {!t && !saved.error && <Loading what="transformation" />}
      {t && (
        <p data-testid="transformation-state">
          {t.code === null ? (
            <span class="muted">No transformation: messages are sent as they are.</span>
          ) : (
            <>
              <span class={`badge ${t.enabled ? 'success' : 'warn'}`}>
                {t.enabled ? 'enabled' : 'disabled'}
              </span>{' '}
              {t.enabled
                ? 'Each request is made by this code before it is sent.'
                : 'Saved but not run: messages are sent as they are.'}
              {t.updatedAt && (
                <span class="muted">
                  {' '}
                  · saved <When iso={t.updatedAt} />
                </span>
              )}
            </>
          )}
        </p>
      )}
      {t && code !== null && (
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            const trimmed = code.trim();
            void save(
              trimmed === '' ? { code: null } : { code, enabled },
              trimmed === '' ? 'Transformation removed' : 'Transformation saved',
            );
          }}
        >
          <div>
            <label for="transformation-code">Handler code</label>
            <textarea
              id="transformation-code"
              class="code-editor"
              rows={14}
              spellcheck={false}
              autocapitalize="off"
              aria-describedby="transformation-code-help"
              value={code}
              onInput={(e) => setCode((e.target as HTMLTextAreaElement).value)}
            />
            <p id="transformation-code-help" class="muted small">
              JavaScript defining <code>function handler(webhook)</code> that returns the webhook. It runs in
              a sandbox with a time and memory budget; the request is signed after it. Saving empty code
              removes the transformation.
            </p>
          </div>
          <label class="check">
            <input
              type="checkbox"
              checked={enabled}
              onChange={(e) => setEnabled((e.target as HTMLInputElement).checked)}
            />
            Run it on every delivery (enabled)
          </label>
          <div class="actions">
            <button type="submit" disabled={busy}>
              {busy ? 'Saving…' : 'Save transformation'}
            </button>
            {t.code !== null && (
              <button
                type="button"
                class="secondary"
                disabled={busy}
                onClick={() => {
                  setCode(TEMPLATE);
                  void save({ code: null }, 'Transformation removed');
                }}
              >
                Remove transformation
              </button>
            )}
            <span class="ok" role="status">
              {note}
            </span>
          </div>
          <ErrorBox error={error} />
        </form>
      )}
      {code !== null && <Simulate appId={appId} endpoint={endpoint} code={code} />}
    </section>
  );
}

/** Runs the editor's code on a sample payload: the request it would make, or its error. */
function Simulate({ appId, endpoint, code }: { appId: string; endpoint: Endpoint; code: string }) {
  const [eventType, setEventType] = useState(endpoint.filterTypes?.[0] ?? '');
  const [payload, setPayload] = useState('{}');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<SimulateOut | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  // A result shown is the result of the code in the editor: edited, it is gone.
  useEffect(() => {
    setResult(null);
    setError(null);
  }, [code]);
  // The event type's example payload, while the payload has not been edited.
  useEffect(() => {
    if (touched || !eventType.trim()) return;
    let live = true;
    const timer = setTimeout(() => {
      api<EventType>('GET', `/event-type/${enc(eventType.trim())}`).then(
        (t) => live && setPayload(JSON.stringify(examplePayload(t), null, 2)),
        // No such event type (or not readable with this token): the payload stays as it is.
        () => {},
      );
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [eventType, touched]);

  const run = async () => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload);
      } catch (err) {
        throw new ApiError(0, 'invalid_json', `the payload is not JSON: ${(err as Error).message}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new ApiError(0, 'invalid_json', 'the payload must be a JSON object');
      const body: SimulateIn = {
        eventType: eventType.trim(),
        payload: parsed as Record<string, unknown>,
        ...(code.trim() ? { code } : {}),
      };
      setResult(
        await api<SimulateOut>(
          'POST',
          `/app/${enc(appId)}/endpoint/${enc(endpoint.id)}/transformation/simulate`,
          body,
        ),
      );
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="simulate-h" class="stack">
      <h3 id="simulate-h">Simulate</h3>
      <p class="muted small">
        Runs the code in the editor (saved or not) on a sample message and shows the request it would make.
        Nothing is sent.
      </p>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <div>
          <label for="simulate-event-type">Event type</label>
          <input
            id="simulate-event-type"
            required
            value={eventType}
            onInput={(e) => setEventType((e.target as HTMLInputElement).value)}
          />
        </div>
        <div>
          <label for="simulate-payload">Payload (JSON object)</label>
          <textarea
            id="simulate-payload"
            class="code-editor"
            rows={8}
            spellcheck={false}
            value={payload}
            onInput={(e) => {
              setTouched(true);
              setPayload((e.target as HTMLTextAreaElement).value);
            }}
          />
        </div>
        <div class="actions">
          <button type="submit" class="secondary" disabled={busy}>
            {busy ? 'Running…' : 'Simulate'}
          </button>
        </div>
      </form>
      <div aria-live="polite" data-testid="simulate-result">
        <ErrorBox error={error} />
        {result?.cancel && (
          <p>
            <span class="badge warn">canceled</span> The code cancels this delivery: nothing would be sent.
          </p>
        )}
        {result && !result.cancel && (
          <>
            <p class="url">
              <strong>{result.method}</strong> <code>{result.url}</code>
            </p>
            <HeadersTable headers={result.headers} caption="Headers added" />
            <Code text={prettyJson(result.payload)} label="Body that would be sent" />
          </>
        )}
      </div>
    </section>
  );
}
