import { useState } from 'preact/hooks';
import { type ApiError, api, type Endpoint, type EndpointSecret, enc } from '../api.ts';
import { asApiError, ConfirmButton, CopyField, ErrorBox } from '../components.tsx';
import { navigate } from '../router.ts';

/**
 * Managing one endpoint: its signing secret (shown on request, rotated after asking), pause and
 * resume deliveries, and delete. Works with the admin token and with an application's portal link;
 * a read-only link gets the API's `403 insufficient_access` shown with its detail.
 */
export function EndpointManage({
  appId,
  endpoint,
  onChange,
}: {
  appId: string;
  endpoint: Endpoint;
  onChange: () => void;
}) {
  const base = `/app/${enc(appId)}/endpoint/${enc(endpoint.id)}`;
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="manage-h">
      <h2 id="manage-h">Manage</h2>
      <div class="actions">
        <a class="button secondary" href={`/apps/${enc(appId)}/endpoints/${enc(endpoint.id)}/edit`}>
          Edit endpoint
        </a>
        {endpoint.kind === 'http' && secret === null && (
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={() =>
              run(async () => setSecret((await api<EndpointSecret>('GET', `${base}/secret`)).key))
            }
          >
            Show signing secret
          </button>
        )}
        <button
          type="button"
          class="secondary"
          disabled={busy}
          onClick={() =>
            run(async () => {
              await api('PATCH', base, { disabled: !endpoint.disabled });
              onChange();
            })
          }
        >
          {endpoint.disabled ? 'Enable' : 'Disable'}
        </button>
        {endpoint.kind === 'http' && (
          <ConfirmButton
            label="Rotate secret"
            title="Rotate the signing secret"
            confirmLabel="Rotate"
            action={async () => {
              await api('POST', `${base}/secret/rotate`, {});
              if (secret !== null) setSecret((await api<EndpointSecret>('GET', `${base}/secret`)).key);
              return 'Secret rotated; the previous one keeps signing for a grace period (24 h by default)';
            }}
          >
            <p>A new signing secret is made. Update your receiver to verify with it.</p>
          </ConfirmButton>
        )}
        <ConfirmButton
          label="Delete endpoint"
          title="Delete this endpoint"
          confirmLabel="Delete"
          action={async () => {
            await api('DELETE', base);
            navigate(`/apps/${enc(appId)}`);
            return 'Deleted';
          }}
        >
          <p>Deliveries to this endpoint stop for good.</p>
        </ConfirmButton>
      </div>
      {secret !== null && <CopyField id="ep-secret" label="Signing secret" value={secret} />}
      <ErrorBox error={error} />
    </section>
  );
}
