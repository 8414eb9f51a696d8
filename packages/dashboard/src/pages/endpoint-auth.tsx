import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import {
  type ApiError,
  api,
  type CertificateConfig,
  enc,
  type OauthConfig,
  type OauthConfigIn,
} from '../api.ts';
import { asApiError, ConfirmButton, ErrorBox, Loading, useLoad, When } from '../components.tsx';

/** GET of a part that may not be set: the API answers 404, shown as "not set". */
async function getOptional<T>(path: string): Promise<T | null> {
  try {
    return await api<T>('GET', path);
  } catch (err) {
    if (asApiError(err).status === 404) return null;
    throw err;
  }
}

/** Runs a form's request with a busy flag, an error and a note of what happened. */
function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [note, setNote] = useState('');
  const submit = async (fn: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    setNote('');
    try {
      setNote(await fn());
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, note, submit };
}

/**
 * How Hookline proves itself to the endpoint beyond the signature: OAuth 2.0 client credentials
 * (a bearer token on each request), a client certificate (mutual TLS), and CA certificates it
 * trusts for the endpoint's TLS. Secrets (the client secret, the private key) can be set, never
 * read back.
 */
export function AuthenticationPanel({ appId, endpointId }: { appId: string; endpointId: string }) {
  const base = `/app/${enc(appId)}/endpoint/${enc(endpointId)}`;
  return (
    <section class="card" aria-labelledby="auth-h">
      <h2 id="auth-h">Authentication</h2>
      <p class="muted small">
        On top of the signature. The client secret and the private key are kept sealed and never shown again.
      </p>
      <OauthSection base={base} />
      <CertificateSection
        base={base}
        part="mtls"
        title="Client certificate (mutual TLS)"
        what="client certificate"
        none="No client certificate: Hookline connects without one."
      />
      <CertificateSection
        base={base}
        part="ca"
        title="Trusted CA"
        what="CA certificate"
        none="No custom CA: the endpoint's certificate is checked against the system's CAs."
      />
    </section>
  );
}

/** One part's heading, state and Change/Remove buttons; the form opens below. */
function Part(props: {
  id: string;
  title: string;
  state: ComponentChildren;
  isSet: boolean;
  editing: boolean;
  onEdit: () => void;
  removeTitle: string;
  onRemove: () => Promise<string>;
  /** What the last save did, announced. */
  note: string;
  children: ComponentChildren;
}) {
  return (
    <section aria-labelledby={`${props.id}-h`} data-testid={props.id}>
      <h3 id={`${props.id}-h`}>{props.title}</h3>
      {props.state}
      <div class="actions">
        {!props.editing && (
          <button type="button" class="secondary" onClick={props.onEdit}>
            {props.isSet ? 'Change' : 'Set up'}
            <span class="sr-only"> {props.title}</span>
          </button>
        )}
        {props.isSet && (
          <ConfirmButton
            label={`Remove ${props.title}`}
            title={props.removeTitle}
            confirmLabel="Remove"
            action={props.onRemove}
          >
            <p>Requests to this endpoint go without it from now on.</p>
          </ConfirmButton>
        )}
      </div>
      {props.editing && props.children}
      <span class="ok" role="status">
        {props.note}
      </span>
    </section>
  );
}

function OauthSection({ base }: { base: string }) {
  const cfg = useLoad(() => getOptional<OauthConfig>(`${base}/oauth`), [base]);
  const [editing, setEditing] = useState(false);
  const s = useSubmit();
  const [form, setForm] = useState({
    tokenUrl: '',
    clientId: '',
    clientSecret: '',
    scopes: '',
    authMethod: 'clientSecretBasic' as NonNullable<OauthConfigIn['authMethod']>,
  });
  const edit = () => {
    const c = cfg.data;
    setForm({
      tokenUrl: c?.tokenUrl ?? '',
      clientId: c?.clientId ?? '',
      // Never read back: it is entered again on every change.
      clientSecret: '',
      scopes: c?.scopes.join(' ') ?? '',
      authMethod: c?.authMethod ?? 'clientSecretBasic',
    });
    setEditing(true);
  };
  const field = (name: 'tokenUrl' | 'clientId' | 'clientSecret' | 'scopes') => ({
    value: form[name],
    onInput: (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value }),
  });
  const c = cfg.data;
  return (
    <Part
      id="oauth"
      title="OAuth 2.0 client credentials"
      isSet={!!c}
      note={s.note}
      editing={editing}
      onEdit={edit}
      removeTitle="Remove the OAuth configuration"
      onRemove={async () => {
        await api('DELETE', `${base}/oauth`);
        setEditing(false);
        cfg.reload();
        return 'OAuth removed';
      }}
      state={
        <>
          <ErrorBox error={cfg.error} />
          {cfg.loading && !c && !cfg.error && <Loading what="OAuth configuration" />}
          {!cfg.loading && !c && !cfg.error && <p class="muted">Not set: requests carry no bearer token.</p>}
          {c && (
            <table class="kv" data-testid="oauth-config">
              <caption>OAuth configuration</caption>
              <tbody>
                <tr>
                  <th scope="row">Token URL</th>
                  <td>
                    <code>{c.tokenUrl}</code>
                  </td>
                </tr>
                <tr>
                  <th scope="row">Client ID</th>
                  <td>
                    <code>{c.clientId}</code>
                  </td>
                </tr>
                <tr>
                  <th scope="row">Scopes</th>
                  <td>
                    {c.scopes.length ? <code>{c.scopes.join(' ')}</code> : <span class="muted">none</span>}
                  </td>
                </tr>
                <tr>
                  <th scope="row">Client authentication</th>
                  <td>{c.authMethod === 'clientSecretPost' ? 'in the request body' : 'HTTP Basic'}</td>
                </tr>
                <tr>
                  <th scope="row">Client secret</th>
                  <td class="muted">set (never shown)</td>
                </tr>
              </tbody>
            </table>
          )}
        </>
      }
    >
      <form
        class="grid"
        onSubmit={(e) => {
          e.preventDefault();
          void s.submit(async () => {
            const body: OauthConfigIn = {
              tokenUrl: form.tokenUrl.trim(),
              clientId: form.clientId.trim(),
              clientSecret: form.clientSecret,
              scopes: form.scopes.split(/[\s,]+/).filter(Boolean),
              authMethod: form.authMethod,
            };
            await api('PUT', `${base}/oauth`, body);
            setEditing(false);
            cfg.reload();
            return 'OAuth saved';
          });
        }}
      >
        <div class="wide">
          <label for="oauth-token-url">Token URL</label>
          <input id="oauth-token-url" type="url" required placeholder="https://" {...field('tokenUrl')} />
        </div>
        <div>
          <label for="oauth-client-id">Client ID</label>
          <input id="oauth-client-id" required autocomplete="off" {...field('clientId')} />
        </div>
        <div>
          <label for="oauth-client-secret">Client secret</label>
          <input
            id="oauth-client-secret"
            type="password"
            required
            autocomplete="new-password"
            aria-describedby="oauth-client-secret-help"
            {...field('clientSecret')}
          />
        </div>
        <p id="oauth-client-secret-help" class="muted small wide">
          Write-only: entered again on every change, never shown.
        </p>
        <div>
          <label for="oauth-scopes">Scopes (space-separated)</label>
          <input id="oauth-scopes" autocomplete="off" {...field('scopes')} />
        </div>
        <div>
          <label for="oauth-auth-method">Client authentication</label>
          <select
            id="oauth-auth-method"
            value={form.authMethod}
            onChange={(e) =>
              setForm({
                ...form,
                authMethod: (e.target as HTMLSelectElement).value as typeof form.authMethod,
              })
            }
          >
            <option value="clientSecretBasic">HTTP Basic (client_secret_basic)</option>
            <option value="clientSecretPost">In the request body (client_secret_post)</option>
          </select>
        </div>
        <div class="actions wide">
          <button type="submit" disabled={s.busy}>
            {s.busy ? 'Saving…' : 'Save OAuth'}
          </button>
          <button type="button" class="secondary" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </div>
        <div class="wide">
          <ErrorBox error={s.error} />
        </div>
      </form>
    </Part>
  );
}

function CertificateSection({
  base,
  part,
  title,
  what,
  none,
}: {
  base: string;
  part: 'mtls' | 'ca';
  title: string;
  what: string;
  none: string;
}) {
  const cfg = useLoad(() => getOptional<CertificateConfig>(`${base}/${part}`), [base, part]);
  const [editing, setEditing] = useState(false);
  const [certificate, setCertificate] = useState('');
  const [key, setKey] = useState('');
  const s = useSubmit();
  const c = cfg.data;
  return (
    <Part
      id={part}
      title={title}
      isSet={!!c}
      note={s.note}
      editing={editing}
      onEdit={() => {
        setCertificate(c?.certificate ?? '');
        setKey('');
        setEditing(true);
      }}
      removeTitle={`Remove the ${what}`}
      onRemove={async () => {
        await api('DELETE', `${base}/${part}`);
        setEditing(false);
        cfg.reload();
        return `${title} removed`;
      }}
      state={
        <>
          <ErrorBox error={cfg.error} />
          {cfg.loading && !c && !cfg.error && <Loading what={what} />}
          {!cfg.loading && !c && !cfg.error && <p class="muted">{none}</p>}
          {c && (
            <table class="kv" data-testid={`${part}-config`}>
              <caption>{part === 'mtls' ? 'Client certificate' : 'First CA certificate'}</caption>
              <tbody>
                <tr>
                  <th scope="row">Subject</th>
                  <td>
                    <code>{c.subject}</code>
                  </td>
                </tr>
                <tr>
                  <th scope="row">Issuer</th>
                  <td>
                    <code>{c.issuer}</code>
                  </td>
                </tr>
                <tr>
                  <th scope="row">{Date.parse(c.validTo) < Date.now() ? 'Expired' : 'Expires'}</th>
                  <td>
                    <When iso={c.validTo} />
                  </td>
                </tr>
                <tr>
                  <th scope="row">SHA-256 fingerprint</th>
                  <td>
                    <code>{c.fingerprint256}</code>
                  </td>
                </tr>
                {part === 'mtls' && (
                  <tr>
                    <th scope="row">Private key</th>
                    <td class="muted">set (never shown)</td>
                  </tr>
                )}
              </tbody>
            </table>
          )}
        </>
      }
    >
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void s.submit(async () => {
            await api('PUT', `${base}/${part}`, part === 'mtls' ? { certificate, key } : { certificate });
            setEditing(false);
            setKey('');
            cfg.reload();
            return `${title} saved`;
          });
        }}
      >
        <div>
          <label for={`${part}-certificate`}>
            {part === 'mtls' ? 'Certificate (PEM, optionally with its chain)' : 'CA certificates (PEM)'}
          </label>
          <textarea
            id={`${part}-certificate`}
            class="code-editor"
            rows={6}
            required
            spellcheck={false}
            placeholder="-----BEGIN CERTIFICATE-----"
            value={certificate}
            onInput={(e) => setCertificate((e.target as HTMLTextAreaElement).value)}
          />
        </div>
        {part === 'mtls' && (
          <div>
            <label for="mtls-key">Private key (PEM, unencrypted; write-only)</label>
            <textarea
              id="mtls-key"
              class="code-editor"
              rows={6}
              required
              spellcheck={false}
              autocomplete="off"
              placeholder="-----BEGIN PRIVATE KEY-----"
              value={key}
              onInput={(e) => setKey((e.target as HTMLTextAreaElement).value)}
            />
          </div>
        )}
        <div class="actions">
          <button type="submit" disabled={s.busy}>
            {s.busy ? 'Saving…' : `Save ${what}`}
          </button>
          <button type="button" class="secondary" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </div>
        <ErrorBox error={s.error} />
      </form>
    </Part>
  );
}
