import { useRef, useState } from 'preact/hooks';
import { type ApiError, type App, api, enc, type ListResponse, qs } from '../api.ts';
import { asApiError, Code, Empty, ErrorBox, Id, Loading, PageTitle, useLoad, When } from '../components.tsx';
import { navigate } from '../router.ts';

/** Every application, newest first, with pages of 50 (the page cursor is in the URL). */
export function AppsPage({ iterator }: { iterator: string | null }) {
  const apps = useLoad(() => api<ListResponse<App>>('GET', `/app${qs({ limit: 50, iterator })}`), [iterator]);
  return (
    <main>
      <div class="title-row">
        <PageTitle>Applications</PageTitle>
        <CreateApp />
      </div>
      <ErrorBox error={apps.error} />
      {!apps.data && !apps.error && <Loading what="applications" />}
      {apps.data && apps.data.data.length === 0 && (
        <Empty title="No applications yet">
          <p>
            An application is one of your customers: its endpoints receive its messages. Press{' '}
            <strong>Create application</strong>, or:
          </p>
          <Code
            label="Create an application with curl"
            text={`curl -X POST ${location.origin}/api/v1/app \\\n  -H "authorization: Bearer $HOOKLINE_ADMIN_TOKEN" \\\n  -H 'content-type: application/json' \\\n  -d '{"name": "Acme"}'`}
          />
        </Empty>
      )}
      {apps.data && apps.data.data.length > 0 && (
        <div class="scroll">
          <table data-testid="apps">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col" class="wide-only">
                  uid
                </th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {apps.data.data.map((a) => (
                <tr key={a.id}>
                  <td>
                    <a href={`/apps/${enc(a.id)}`}>{a.name}</a>
                  </td>
                  <td>
                    <Id value={a.id} label="application id" />
                  </td>
                  <td class="wide-only">{a.uid && <code>{a.uid}</code>}</td>
                  <td>
                    <When iso={a.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="actions">
        {iterator && (
          <a class="button secondary" href="/apps">
            Newest
          </a>
        )}
        {apps.data && !apps.data.done && apps.data.iterator && (
          <a class="button secondary" href={`/apps${qs({ iterator: apps.data.iterator })}`}>
            Next page
          </a>
        )}
      </div>
    </main>
  );
}

/** "Create application": a dialog with its name and optional uid; opens the new application. */
function CreateApp() {
  const dialog = useRef<HTMLDialogElement>(null);
  const [name, setName] = useState('');
  const [uid, setUid] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const app = await api<App>('POST', '/app', {
        name: name.trim(),
        ...(uid.trim() ? { uid: uid.trim() } : {}),
      });
      dialog.current?.close();
      navigate(`/apps/${enc(app.id)}`);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" onClick={() => dialog.current?.showModal()}>
        Create application
      </button>
      <dialog ref={dialog} aria-labelledby="new-app-h">
        <h2 id="new-app-h">Create application</h2>
        <form onSubmit={submit} class="stack">
          <div>
            <label for="app-name">Name</label>
            <input
              id="app-name"
              required
              value={name}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
            />
          </div>
          <div>
            <label for="app-uid">Your id for it (optional)</label>
            <input
              id="app-uid"
              value={uid}
              pattern="[a-zA-Z0-9\-_.]{1,256}"
              aria-describedby="app-uid-hint"
              onInput={(e) => setUid((e.target as HTMLInputElement).value)}
            />
            <p id="app-uid-hint" class="muted small">
              Letters, digits, <code>-</code>, <code>_</code> and <code>.</code>; the API then accepts it in
              place of the id.
            </p>
          </div>
          <ErrorBox error={error} />
          <div class="actions">
            <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
            <button type="submit" disabled={busy}>
              {busy ? 'Creating…' : 'Create'}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
