/** Entry point: login gate (or app portal link), top bar and the page for the current path. */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  type ApiError,
  enc,
  getPortalApp,
  getToken,
  setToken,
  setUnauthorizedHandler,
  takePortalKey,
} from './api.ts';
import { ErrorBox } from './components.tsx';
import { LoginPage } from './pages/login.tsx';
import { match, navigate, onLinkClick, useLocation } from './router.ts';
import { NAV, PORTAL_NAV, ROUTES, visibleInPortal } from './routes.tsx';
import './style.css';

// An app portal link (`/apps/{app}#key=hl_app_...`) signs in before anything is shown.
takePortalKey();

/**
 * Signed in, or why not: `out` shows the admin login; `expired` and `signed-out` are the ends of
 * a portal session (its link is the only way back in).
 */
type Session = 'in' | 'out' | 'expired' | 'signed-out';

function Dashboard() {
  const [session, setSession] = useState<Session>(() => (getToken() !== null ? 'in' : 'out'));
  const [portalApp, setPortalApp] = useState(() => getPortalApp());
  const portalRef = useRef(portalApp);
  portalRef.current = portalApp;
  const [rejected, setRejected] = useState<ApiError | null>(null);
  /** Bumped when another token signs in, so every page loads again with it. */
  const [signIns, setSignIns] = useState(0);
  const loc = useLocation();
  useEffect(() => {
    // A portal link opened in a tab already on its page changes only the fragment: no reload.
    const onHash = () => {
      if (!takePortalKey()) return;
      setPortalApp(getPortalApp());
      setSession('in');
      setSignIns((n) => n + 1);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    setUnauthorizedHandler((err) => {
      setToken(null);
      setRejected(err);
      // From the state, not the storage: a page's other requests fail after the first cleared it.
      setSession(portalRef.current ? 'expired' : 'out');
    });
    document.addEventListener('click', onLinkClick);
    return () => document.removeEventListener('click', onLinkClick);
  }, []);
  // Move focus to the new page's heading, so keyboard and screen reader users land on it.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: true });
  }, [loc, session, signIns]);
  if (session === 'expired') return <PortalEnd expired error={rejected} />;
  if (session === 'signed-out') return <PortalEnd expired={false} error={null} />;
  if (session === 'out')
    return (
      <LoginPage
        onLogin={() => {
          setPortalApp(null);
          setSession('in');
        }}
      />
    );
  const url = new URL(loc, location.origin);
  // In portal mode the home page is the application's own page.
  const path =
    portalApp && (url.pathname === '/' || url.pathname === '/apps')
      ? `/apps/${enc(portalApp)}`
      : url.pathname;
  let page = null;
  for (const r of ROUTES) {
    const params = match(r.path, path);
    if (params) {
      page =
        portalApp && !visibleInPortal(r.path, params, portalApp) ? (
          <main>
            <h1 tabIndex={-1}>Not in this portal</h1>
            <p>
              This link opens one application only.{' '}
              <a href={`/apps/${enc(portalApp)}`}>Back to its endpoints</a>
            </p>
          </main>
        ) : (
          r.render(params, url.searchParams)
        );
      break;
    }
  }
  const nav = portalApp ? PORTAL_NAV(portalApp) : NAV;
  return (
    <>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={portalApp ? `/apps/${enc(portalApp)}` : '/'}>
          Hookline
        </a>
        <nav aria-label="Main">
          {nav.map((n) => (
            <a
              key={n.href}
              href={n.href}
              aria-current={url.pathname === new URL(n.href, location.origin).pathname ? 'page' : undefined}
            >
              {n.label}
            </a>
          ))}
        </nav>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            // Forgets the token in this tab only: the portal link keeps working until it expires.
            setToken(null);
            if (portalApp) setSession('signed-out');
            else {
              setSession('out');
              navigate('/', true);
            }
          }}
        >
          {portalApp ? 'Sign out' : 'Log out'}
        </button>
      </header>
      <div id="content" key={signIns}>
        {page ?? (
          <main>
            <h1 tabIndex={-1}>Not found</h1>
            <p>
              No page at <code>{url.pathname}</code>.{' '}
              <a href={portalApp ? `/apps/${enc(portalApp)}` : '/apps'}>
                Back to {portalApp ? 'endpoints' : 'applications'}
              </a>
            </p>
          </main>
        )}
      </div>
    </>
  );
}

/** The end of a portal session: its link expired or was revoked, or the user signed out. */
function PortalEnd({ expired, error }: { expired: boolean; error: ApiError | null }) {
  return (
    <main class="login">
      {expired ? (
        <>
          <h1 tabIndex={-1}>This link has expired</h1>
          <p>Ask for a new one from the service that gave it to you.</p>
          <ErrorBox error={error} />
        </>
      ) : (
        <>
          <h1 tabIndex={-1}>You signed out</h1>
          <p>Open your link again to come back.</p>
        </>
      )}
    </main>
  );
}

render(<Dashboard />, document.getElementById('app')!);
