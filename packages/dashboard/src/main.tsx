/** Entry point: login gate, top bar and the page for the current path. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getToken, setToken, setUnauthorizedHandler } from './api.ts';
import { LoginPage } from './pages/login.tsx';
import { match, navigate, onLinkClick, useLocation } from './router.ts';
import { NAV, ROUTES } from './routes.tsx';
import './style.css';

function Dashboard() {
  const [loggedIn, setLoggedIn] = useState(() => getToken() !== null);
  const loc = useLocation();
  useEffect(() => {
    setUnauthorizedHandler(() => {
      setToken(null);
      setLoggedIn(false);
    });
    document.addEventListener('click', onLinkClick);
    return () => document.removeEventListener('click', onLinkClick);
  }, []);
  // Move focus to the new page's heading, so keyboard and screen reader users land on it.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: true });
  }, [loc]);
  if (!loggedIn) return <LoginPage onLogin={() => setLoggedIn(true)} />;
  const url = new URL(loc, location.origin);
  let page = null;
  for (const r of ROUTES) {
    const params = match(r.path, url.pathname);
    if (params) {
      page = r.render(params, url.searchParams);
      break;
    }
  }
  return (
    <>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/">
          Hookline
        </a>
        <nav aria-label="Main">
          {NAV.map((n) => (
            <a key={n.href} href={n.href} aria-current={url.pathname === n.href ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            setToken(null);
            setLoggedIn(false);
            navigate('/', true);
          }}
        >
          Log out
        </button>
      </header>
      <div id="content">
        {page ?? (
          <main>
            <h1 tabIndex={-1}>Not found</h1>
            <p>
              No page at <code>{url.pathname}</code>. <a href="/">Back to applications</a>
            </p>
          </main>
        )}
      </div>
    </>
  );
}

render(<Dashboard />, document.getElementById('app')!);
