import { useState } from 'preact/hooks';
import { type ApiError, api, enc, SOURCE_SCHEMES, type Source, type SourceScheme } from '../api.ts';
import { asApiError, ErrorBox, PageTitle } from '../components.tsx';
import { navigate } from '../router.ts';

/**
 * A word on each verification scheme the server knows (`verification.scheme`). Keyed by the
 * server's list, so a scheme added there does not compile here until it has a label.
 */
const SCHEME_LABELS: Record<SourceScheme, string> = {
  'standard-webhooks': 'Standard Webhooks (webhook-signature)',
  svix: 'Svix (svix-signature)',
  stripe: 'Stripe',
  github: 'GitHub',
  shopify: 'Shopify',
  slack: 'Slack',
  twilio: 'Twilio (needs the public URL)',
  paddle: 'Paddle',
  discord: "Discord (the application's public key)",
  hubspot: "HubSpot (the app's client secret; needs the public URL)",
  salesforce: 'Salesforce Outbound Messages (the organization id)',
  hmac: 'Generic HMAC (configure below)',
  none: 'None: accept every request',
};
/** Schemes whose signature covers the URL the provider calls, so the source needs its public URL. */
const SIGNS_URL: string[] = ['twilio', 'hubspot'] satisfies SourceScheme[];

interface DestinationForm {
  key: number;
  url: string;
  eventTypes: string;
}

type DedupeMode = 'provider' | 'header' | 'jsonPath' | 'off';

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * Creates a source: its name (the provider posts to /in/{name}), how requests are verified, how
 * duplicates are spotted, and where accepted events are forwarded.
 */
export function NewSourcePage() {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [scheme, setScheme] = useState<string>('standard-webhooks');
  const [secret, setSecret] = useState('');
  const [tolerance, setTolerance] = useState('');
  const [publicUrl, setPublicUrl] = useState('');
  const [hmac, setHmac] = useState({ header: '', algorithm: 'sha256', encoding: 'hex', prefix: '' });
  const [dedupe, setDedupe] = useState<DedupeMode>('provider');
  const [dedupeField, setDedupeField] = useState('');
  const [dedupeWindow, setDedupeWindow] = useState('86400');
  const [destinations, setDestinations] = useState<DestinationForm[]>([{ key: 0, url: '', eventTypes: '' }]);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const setDest = (key: number, patch: Partial<DestinationForm>) =>
    setDestinations(destinations.map((d) => (d.key === key ? { ...d, ...patch } : d)));

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const window = dedupeWindow ? Number(dedupeWindow) : undefined;
      const body = {
        name: name.trim(),
        description,
        verification: {
          scheme,
          ...(scheme !== 'none' && secret.trim() ? { secrets: [secret.trim()] } : {}),
          ...(tolerance !== '' ? { tolerance: Number(tolerance) } : {}),
          ...(SIGNS_URL.includes(scheme) && publicUrl.trim() ? { url: publicUrl.trim() } : {}),
          ...(scheme === 'hmac'
            ? {
                hmac: {
                  header: hmac.header.trim(),
                  algorithm: hmac.algorithm,
                  encoding: hmac.encoding,
                  ...(hmac.prefix ? { prefix: hmac.prefix } : {}),
                },
              }
            : {}),
        },
        dedupe:
          dedupe === 'off'
            ? null
            : {
                ...(dedupe === 'header' ? { header: dedupeField.trim() } : {}),
                ...(dedupe === 'jsonPath' ? { jsonPath: dedupeField.trim() } : {}),
                ...(window !== undefined ? { windowSeconds: window } : {}),
              },
        destinations: destinations.map((d) => ({
          url: d.url.trim(),
          ...(list(d.eventTypes).length ? { eventTypes: list(d.eventTypes) } : {}),
        })),
      };
      const created = await api<Source>('POST', '/source', body);
      navigate(`/sources/${enc(created.id)}`);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="/sources">Sources</a>
      </nav>
      <PageTitle>Create source</PageTitle>
      <form onSubmit={submit} class="grid">
        <div>
          <label for="src-name">Name</label>
          <input
            id="src-name"
            required
            value={name}
            placeholder="stripe-live"
            aria-describedby="src-name-help"
            autocomplete="off"
            spellcheck={false}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
          <small id="src-name-help" class="muted">
            Letters, digits, <code>_ . -</code>; the provider posts to <code>/in/{name || '{name}'}</code>
          </small>
        </div>
        <div>
          <label for="src-desc">Description</label>
          <input
            id="src-desc"
            value={description}
            onInput={(e) => setDescription((e.target as HTMLInputElement).value)}
          />
        </div>
        <fieldset class="wide destination">
          <legend>Verification</legend>
          <div>
            <label for="src-scheme">Scheme</label>
            <select
              id="src-scheme"
              value={scheme}
              onChange={(e) => setScheme((e.target as HTMLSelectElement).value)}
            >
              {SOURCE_SCHEMES.map((name) => (
                <option key={name} value={name}>
                  {SCHEME_LABELS[name]}
                </option>
              ))}
            </select>
          </div>
          {scheme !== 'none' && (
            <div>
              <label for="src-secret">Signing secret</label>
              <input
                id="src-secret"
                value={secret}
                required
                autocomplete="off"
                spellcheck={false}
                placeholder="the secret the provider shows you"
                onInput={(e) => setSecret((e.target as HTMLInputElement).value)}
              />
            </div>
          )}
          {scheme !== 'none' && (
            <div>
              <label for="src-tolerance">Timestamp tolerance (seconds)</label>
              <input
                id="src-tolerance"
                type="number"
                min={0}
                value={tolerance}
                placeholder="scheme default"
                onInput={(e) => setTolerance((e.target as HTMLInputElement).value)}
              />
            </div>
          )}
          {SIGNS_URL.includes(scheme) && (
            <div class="wide">
              <label for="src-url">Public URL the provider calls</label>
              <input
                id="src-url"
                type="url"
                required
                value={publicUrl}
                onInput={(e) => setPublicUrl((e.target as HTMLInputElement).value)}
              />
            </div>
          )}
          {scheme === 'hmac' && (
            <>
              <div>
                <label for="hmac-header">Signature header</label>
                <input
                  id="hmac-header"
                  required
                  value={hmac.header}
                  placeholder="X-Signature"
                  onInput={(e) => setHmac({ ...hmac, header: (e.target as HTMLInputElement).value })}
                />
              </div>
              <div>
                <label for="hmac-alg">Algorithm</label>
                <select
                  id="hmac-alg"
                  value={hmac.algorithm}
                  onChange={(e) => setHmac({ ...hmac, algorithm: (e.target as HTMLSelectElement).value })}
                >
                  <option value="sha256">SHA-256</option>
                  <option value="sha512">SHA-512</option>
                  <option value="sha1">SHA-1</option>
                </select>
              </div>
              <div>
                <label for="hmac-enc">Encoding</label>
                <select
                  id="hmac-enc"
                  value={hmac.encoding}
                  onChange={(e) => setHmac({ ...hmac, encoding: (e.target as HTMLSelectElement).value })}
                >
                  <option value="hex">hex</option>
                  <option value="base64">base64</option>
                </select>
              </div>
              <div>
                <label for="hmac-prefix">Prefix</label>
                <input
                  id="hmac-prefix"
                  value={hmac.prefix}
                  placeholder="sha256="
                  onInput={(e) => setHmac({ ...hmac, prefix: (e.target as HTMLInputElement).value })}
                />
              </div>
            </>
          )}
        </fieldset>
        <fieldset class="wide destination">
          <legend>Duplicates</legend>
          <div>
            <label for="src-dedupe">Drop repeats of</label>
            <select
              id="src-dedupe"
              value={dedupe}
              onChange={(e) => setDedupe((e.target as HTMLSelectElement).value as DedupeMode)}
            >
              <option value="provider">the provider's event id</option>
              <option value="header">a header</option>
              <option value="jsonPath">a JSON field</option>
              <option value="off">nothing (deduplication off)</option>
            </select>
          </div>
          {(dedupe === 'header' || dedupe === 'jsonPath') && (
            <div>
              <label for="src-dedupe-field">{dedupe === 'header' ? 'Header name' : 'JSON path'}</label>
              <input
                id="src-dedupe-field"
                required
                value={dedupeField}
                placeholder={dedupe === 'header' ? 'X-Delivery-Id' : 'data.id'}
                onInput={(e) => setDedupeField((e.target as HTMLInputElement).value)}
              />
            </div>
          )}
          {dedupe !== 'off' && (
            <div>
              <label for="src-dedupe-window">Window (seconds)</label>
              <input
                id="src-dedupe-window"
                type="number"
                min={1}
                value={dedupeWindow}
                onInput={(e) => setDedupeWindow((e.target as HTMLInputElement).value)}
              />
            </div>
          )}
        </fieldset>
        {destinations.map((d, i) => (
          <fieldset key={d.key} class="wide destination">
            <legend>Destination {i + 1}</legend>
            <div>
              <label for={`dest-url-${d.key}`}>Destination URL</label>
              <input
                id={`dest-url-${d.key}`}
                type="url"
                required
                value={d.url}
                placeholder="https://app.internal/webhooks"
                onInput={(e) => setDest(d.key, { url: (e.target as HTMLInputElement).value })}
              />
            </div>
            <div>
              <label for={`dest-types-${d.key}`}>Event types (comma-separated; empty: all)</label>
              <input
                id={`dest-types-${d.key}`}
                value={d.eventTypes}
                placeholder="invoice.paid, charge.refunded"
                onInput={(e) => setDest(d.key, { eventTypes: (e.target as HTMLInputElement).value })}
              />
            </div>
            {destinations.length > 1 && (
              <div>
                <button
                  type="button"
                  class="secondary"
                  onClick={() => setDestinations(destinations.filter((x) => x.key !== d.key))}
                >
                  Remove destination {i + 1}
                </button>
              </div>
            )}
          </fieldset>
        ))}
        <div class="actions wide">
          <button
            type="button"
            class="secondary"
            onClick={() =>
              setDestinations([
                ...destinations,
                { key: Math.max(...destinations.map((d) => d.key)) + 1, url: '', eventTypes: '' },
              ])
            }
          >
            Add destination
          </button>
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create source'}
          </button>
        </div>
      </form>
      <ErrorBox error={error} />
    </main>
  );
}
