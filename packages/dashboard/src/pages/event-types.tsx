import { useRef, useState } from 'preact/hooks';
import {
  ApiError,
  type App,
  api,
  type EventType,
  enc,
  getPortalApp,
  type ListResponse,
  type Message,
  type RetrySchedule,
} from '../api.ts';
import {
  asApiError,
  Code,
  ConfirmButton,
  Empty,
  ErrorBox,
  Loading,
  PageTitle,
  useLoad,
} from '../components.tsx';
import { checkAgainstSchema } from '../schema-check.ts';

/** An example payload from the newest schema version: its `examples[0]`, or an empty object. */
export function examplePayload(t: EventType | undefined): Record<string, unknown> {
  if (!t?.schemas) return {};
  const versions = Object.keys(t.schemas).sort();
  const schema = t.schemas[versions[versions.length - 1] ?? ''] as { examples?: unknown[] } | undefined;
  const ex = schema?.examples?.[0];
  return ex && typeof ex === 'object' && !Array.isArray(ex) ? (ex as Record<string, unknown>) : {};
}

/** The event type catalog (schemas and examples) and a form that sends a test event to an app. */
export function EventTypesPage({ presetApp }: { presetApp: string }) {
  const types = useLoad(
    () => api<ListResponse<EventType>>('GET', '/event-type?limit=250&with_content=true'),
    [],
  );
  // An application token reads the catalog but cannot list applications nor publish messages.
  const portal = getPortalApp() !== null;
  const apps = useLoad(
    () => (portal ? Promise.resolve(null) : api<ListResponse<App>>('GET', '/app?limit=250')),
    [],
  );
  return (
    <main>
      {portal && (
        <nav aria-label="Breadcrumb" class="crumbs">
          <a href={`/apps/${enc(presetApp)}`}>{presetApp}</a>
        </nav>
      )}
      <div class="title-row">
        <PageTitle>Event types</PageTitle>
        {!portal && <EventTypeEditor existing={null} onSaved={types.reload} />}
      </div>
      <ErrorBox error={types.error ?? apps.error} />
      {portal && (
        <p class="muted">
          The events this application can send you. Subscribe an endpoint to some of them when you create or
          edit it.
        </p>
      )}
      {types.data && apps.data && (
        <SendTestEvent
          key={types.data.data.map((t) => t.name).join()}
          types={types.data.data}
          apps={apps.data.data}
          presetApp={presetApp}
        />
      )}
      <h2>Catalog</h2>
      {!types.data && !types.error && <Loading what="event types" />}
      {types.data?.data.length === 0 && (
        <Empty title="No event types yet">
          <p>
            Event types name what your messages are about (<code>invoice.paid</code>) and describe their
            payload. {!portal && 'Press Create event type, or use POST /api/v1/event-type.'}
          </p>
        </Empty>
      )}
      <ul class="cards">
        {types.data?.data.map((t) => (
          <li key={t.name}>
            <h3 id={`et-${t.name}`}>
              <code>{t.name}</code>
              {t.deprecated && <span class="badge warn">deprecated</span>}
              {t.archived && <span class="badge fail">archived</span>}
            </h3>
            {t.description && <p>{t.description}</p>}
            {t.validatePayload === true && <p class="muted">Payloads are checked against the schema.</p>}
            {!portal && (
              <div class="actions">
                <EventTypeEditor existing={t} onSaved={types.reload} />
                {!t.archived && (
                  <ConfirmButton
                    label={`Archive ${t.name}`}
                    title={`Archive ${t.name}`}
                    confirmLabel="Archive"
                    class="danger"
                    action={async () => {
                      await api('DELETE', `/event-type/${enc(t.name)}`);
                      types.reload();
                      return 'Archived';
                    }}
                  >
                    <p>
                      An archived event type stays readable but is no longer offered for new subscriptions.
                    </p>
                  </ConfirmButton>
                )}
              </div>
            )}
            {t.schemas && Object.keys(t.schemas).length > 0 ? (
              <>
                <details>
                  <summary>Schema</summary>
                  <Code text={JSON.stringify(t.schemas, null, 2)} label={`Schema of ${t.name}`} />
                </details>
                <details>
                  <summary>Example payload</summary>
                  <Code text={JSON.stringify(examplePayload(t), null, 2)} label={`Example of ${t.name}`} />
                </details>
              </>
            ) : (
              <p class="muted">No schema.</p>
            )}
          </li>
        ))}
      </ul>
    </main>
  );
}

function SendTestEvent({ types, apps, presetApp }: { types: EventType[]; apps: App[]; presetApp: string }) {
  const live = types.filter((t) => !t.archived);
  // The link may name the application by uid: select it by id, which the options carry.
  const preset = apps.find((a) => a.id === presetApp || a.uid === presetApp);
  const [appId, setAppId] = useState(preset?.id ?? apps[0]?.id ?? '');
  const [eventType, setEventType] = useState(live[0]?.name ?? '');
  const [payload, setPayload] = useState(() => JSON.stringify(examplePayload(live[0]), null, 2));
  const [error, setError] = useState<ApiError | null>(null);
  const [sent, setSent] = useState<Message | null>(null);
  const [busy, setBusy] = useState(false);
  const pickType = (name: string) => {
    setEventType(name);
    setPayload(JSON.stringify(examplePayload(live.find((t) => t.name === name)), null, 2));
  };
  const send = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSent(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch (err) {
      setError(asApiError(new Error(`the payload is not valid JSON: ${(err as Error).message}`)));
      return;
    }
    setBusy(true);
    try {
      setSent(await api<Message>('POST', `/app/${enc(appId)}/msg`, { eventType, payload: parsed }));
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  if (apps.length === 0) return <p class="muted">Create an application to send test events.</p>;
  return (
    <section aria-labelledby="send-h" class="panel">
      <h2 id="send-h">Send test event</h2>
      <form onSubmit={send} class="grid">
        <div>
          <label for="t-app">Application</label>
          <select id="t-app" value={appId} onChange={(e) => setAppId((e.target as HTMLSelectElement).value)}>
            {apps.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name} ({a.id})
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="t-type">Event type</label>
          {live.length > 0 ? (
            <select
              id="t-type"
              value={eventType}
              onChange={(e) => pickType((e.target as HTMLSelectElement).value)}
            >
              {live.map((t) => (
                <option key={t.name} value={t.name}>
                  {t.name}
                </option>
              ))}
            </select>
          ) : (
            <input
              id="t-type"
              required
              value={eventType}
              onInput={(e) => setEventType((e.target as HTMLInputElement).value)}
            />
          )}
        </div>
        <div class="wide">
          <label for="t-payload">Payload (JSON object)</label>
          <textarea
            id="t-payload"
            rows={8}
            spellcheck={false}
            value={payload}
            onInput={(e) => setPayload((e.target as HTMLTextAreaElement).value)}
          />
        </div>
        <div class="actions wide">
          <button type="submit" disabled={busy || !appId}>
            {busy ? 'Sending…' : 'Send test event'}
          </button>
        </div>
      </form>
      <ErrorBox error={error} />
      {sent && (
        <p class="ok" role="status">
          Sent <a href={`/apps/${enc(appId)}/msg/${enc(sent.id)}`}>{sent.id}</a>
        </p>
      )}
    </section>
  );
}

/** The newest schema version of an event type, and its first example. */
function latest(t: EventType | null): { schema: Record<string, unknown>; example: unknown } {
  if (!t?.schemas) return { schema: {}, example: {} };
  const v = Object.keys(t.schemas).sort().pop();
  const schema = { ...((v ? t.schemas[v] : {}) as Record<string, unknown>) };
  const examples = schema.examples as unknown[] | undefined;
  delete schema.examples;
  return { schema, example: examples?.[0] ?? {} };
}

/** Svix's retry schedule wire form: a delay as whole seconds and nanoseconds. */
type Duration = NonNullable<RetrySchedule['retrySchedule']>[number];

/** "5, 300, 1800" (seconds) as Svix durations; empty: null (the server's schedule). */
export function parseSchedule(text: string): Duration[] | null {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) return null;
  return parts.map((p) => {
    const n = Number(p);
    if (!/^\d+(\.\d+)?$/.test(p) || !Number.isFinite(n))
      throw new ApiError(
        422,
        'validation',
        `the retry schedule is seconds separated by commas: "${p}" is not`,
      );
    const ms = Math.round(n * 1000);
    return { secs: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
  });
}

const formatSchedule = (d: Duration[] | null | undefined): string =>
  (d ?? []).map((x) => String(x.secs + x.nanos / 1e9)).join(', ');

/** validatePayload as the editor's select shows it: null is the server's default. */
const VALIDATE = { default: null, on: true, off: false } as const;
type ValidateChoice = keyof typeof VALIDATE;
const validateChoice = (v: boolean | null | undefined): ValidateChoice =>
  v === true ? 'on' : v === false ? 'off' : 'default';

/**
 * Creates or edits an event type: name, description, its payload's JSON Schema and an example
 * payload (kept as the schema's `examples[0]`, which Send test event prefills), whether payloads
 * are checked against the schema on publish, and its own retry schedule. Schema and example must
 * be JSON objects, and the example must fit the schema, before anything is sent.
 */
function EventTypeEditor({ existing, onSaved }: { existing: EventType | null; onSaved: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const init = latest(existing);
  const [name, setName] = useState(existing?.name ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [schema, setSchema] = useState(JSON.stringify(init.schema, null, 2));
  const [example, setExample] = useState(JSON.stringify(init.example, null, 2));
  const [validate, setValidate] = useState<ValidateChoice>(validateChoice(existing?.validatePayload));
  const [schedule, setSchedule] = useState('');
  // An existing type's schedule is read when the dialog opens; until then it is not rewritten.
  const [scheduleKnown, setScheduleKnown] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const idp = existing ? `et-edit-${existing.name}` : 'et-new';
  const parse = (text: string, what: string): Record<string, unknown> => {
    let v: unknown;
    try {
      v = JSON.parse(text || '{}');
    } catch (err) {
      throw new ApiError(422, 'validation', `the ${what} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new ApiError(422, 'validation', `the ${what} must be a JSON object`);
    return v as Record<string, unknown>;
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const s = parse(schema, 'schema');
      const ex = parse(example, 'example');
      const problems = checkAgainstSchema(s, ex);
      if (problems.length)
        throw new ApiError(422, 'validation', `the example does not fit the schema: ${problems.join('; ')}`);
      const retrySchedule = parseSchedule(schedule);
      const hasSchema = Object.keys(s).length > 0;
      const body = {
        description,
        schemas: hasSchema || Object.keys(ex).length ? { '1': { ...s, examples: [ex] } } : null,
        validatePayload: VALIDATE[validate],
      };
      setBusy(true);
      const typeName = existing?.name ?? name.trim();
      if (existing) await api('PUT', `/event-type/${enc(typeName)}`, { ...body, archived: false });
      else await api('POST', '/event-type', { name: typeName, ...body });
      if (existing ? scheduleKnown : retrySchedule)
        await api('PUT', `/event-type/${enc(typeName)}/retry-schedule`, { retrySchedule });
      dialog.current?.close();
      onSaved();
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        class={existing ? 'secondary' : undefined}
        onClick={async () => {
          setError(null);
          dialog.current?.showModal();
          if (!existing) return;
          setValidate(validateChoice(existing.validatePayload));
          setScheduleKnown(false);
          try {
            const r = await api<RetrySchedule>('GET', `/event-type/${enc(existing.name)}/retry-schedule`);
            setSchedule(formatSchedule(r.retrySchedule));
            setScheduleKnown(true);
          } catch (err) {
            setError(asApiError(err));
          }
        }}
      >
        {existing ? `Edit ${existing.name}` : 'Create event type'}
      </button>
      <dialog ref={dialog} aria-labelledby={`${idp}-h`} class="wide-dialog">
        <h2 id={`${idp}-h`}>{existing ? `Edit ${existing.name}` : 'Create event type'}</h2>
        <form onSubmit={submit} class="stack">
          {!existing && (
            <div>
              <label for={`${idp}-name`}>Name</label>
              <input
                id={`${idp}-name`}
                required
                pattern="[a-zA-Z0-9\-_.]{1,256}"
                placeholder="invoice.paid"
                value={name}
                onInput={(e) => setName((e.target as HTMLInputElement).value)}
              />
            </div>
          )}
          <div>
            <label for={`${idp}-desc`}>Description</label>
            <input
              id={`${idp}-desc`}
              value={description}
              onInput={(e) => setDescription((e.target as HTMLInputElement).value)}
            />
          </div>
          <div>
            <label for={`${idp}-schema`}>Payload JSON Schema</label>
            <textarea
              id={`${idp}-schema`}
              rows={8}
              spellcheck={false}
              value={schema}
              onInput={(e) => setSchema((e.target as HTMLTextAreaElement).value)}
            />
          </div>
          <div>
            <label for={`${idp}-example`}>Example payload</label>
            <textarea
              id={`${idp}-example`}
              rows={5}
              spellcheck={false}
              value={example}
              onInput={(e) => setExample((e.target as HTMLTextAreaElement).value)}
            />
          </div>
          <div>
            <label for={`${idp}-validate`}>Check payloads against the schema</label>
            <select
              id={`${idp}-validate`}
              value={validate}
              onChange={(e) => setValidate((e.target as HTMLSelectElement).value as ValidateChoice)}
            >
              <option value="default">server default (HOOKLINE_VALIDATE_PAYLOADS)</option>
              <option value="on">on: refuse a message that does not fit (422)</option>
              <option value="off">off</option>
            </select>
          </div>
          <div>
            <label for={`${idp}-retry`}>Retry schedule (seconds between tries)</label>
            <input
              id={`${idp}-retry`}
              inputMode="decimal"
              placeholder="empty: the server's schedule, such as 5, 300, 1800"
              value={schedule}
              disabled={existing !== null && !scheduleKnown}
              onInput={(e) => setSchedule((e.target as HTMLInputElement).value)}
            />
          </div>
          <ErrorBox error={error} />
          <div class="actions">
            <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
            <button type="submit" disabled={busy}>
              {busy ? 'Saving…' : existing ? 'Save' : 'Create'}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
