import { useState } from 'preact/hooks';
import { type ApiError, api, setToken } from '../api.ts';
import { asApiError, ErrorBox } from '../components.tsx';

/** Asks for the admin token, checks it against the API, and keeps it for this browser tab. */
export function LoginPage({ onLogin }: { onLogin: () => void }) {
  const [token, setValue] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('GET', '/app?limit=1', undefined, token.trim());
      setToken(token.trim());
      onLogin();
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>Hookline</h1>
      <form onSubmit={submit}>
        <label for="token">Admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          value={token}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
        <p class="muted">
          The token set in <code>HOOKLINE_ADMIN_TOKEN</code>, or printed by the server on its first start. It
          is kept in this tab only (sessionStorage).
        </p>
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
