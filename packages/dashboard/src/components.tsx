/** Building blocks every page uses: data loading, error display, confirmation, code blocks. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError, DeliveryStatus, type DeliveryStatusName, getPortalApp, STATUS_TEXT } from './api.ts';

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on `reload()`); keeps the last data while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (err: unknown) => live && setState((s) => ({ data: s.data, error: asApiError(err), loading: false })),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function asApiError(err: unknown): ApiError {
  return err instanceof ApiError
    ? err
    : new ApiError(0, 'client_error', String((err as Error)?.message ?? err));
}

/** An API error as the server sent it: its code and its detail. */
export function ErrorBox({ error }: { error: ApiError | null }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      <strong>{error.status ? `Error ${error.status}` : 'Error'}</strong> <code>{error.code}</code>
      <p>{error.message}</p>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** A button that asks first, in a modal dialog, then runs `action` and shows its result. */
export function ConfirmButton(props: {
  label: string;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  action: () => Promise<string>;
  class?: string;
  /** Called as the dialog opens (to load a fresh preview of what the action will do). */
  onOpen?: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await props.action());
      dialog.current?.close();
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
        class={props.class ?? 'secondary'}
        onClick={() => {
          setResult(null);
          setError(null);
          props.onOpen?.();
          dialog.current?.showModal();
        }}
      >
        {props.label}
      </button>
      {result && (
        <span class="ok" role="status">
          {result}
        </span>
      )}
      <dialog ref={dialog} aria-labelledby={titleId}>
        <h2 id={titleId}>{props.title}</h2>
        {props.children}
        <ErrorBox error={error} />
        <div class="actions">
          <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="button" disabled={busy} onClick={run}>
            {busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </dialog>
    </>
  );
}

/** Text that may be long (bodies, headers): wraps and scrolls inside its box. */
export function Code({ text, label }: { text: string; label: string }) {
  return (
    // A scrolling box must be focusable, or keyboard users cannot scroll a long body.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: see above
    <pre class="code" title={label} tabIndex={0}>
      {text}
    </pre>
  );
}

export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function HeadersTable({ headers, caption }: { headers: Record<string, string>; caption: string }) {
  const entries = Object.entries(headers);
  if (entries.length === 0) return <p class="muted">No {caption.toLowerCase()}.</p>;
  return (
    <table class="kv">
      <caption>{caption}</caption>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td>
              <code>{v}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** `<option>`s of an attempt-status filter: the server's status codes, under their names. */
export function StatusOptions({ names }: { names: DeliveryStatusName[] }) {
  return (
    <>
      {names.map((n) => (
        <option key={n} value={String(DeliveryStatus[n])}>
          {n}
        </option>
      ))}
    </>
  );
}

export function StatusBadge({ status, code }: { status: number; code?: number }) {
  const name = STATUS_TEXT[status] ?? 'unknown';
  return (
    <span class={`badge ${name}`}>
      {name}
      {code !== undefined && code !== 0 ? ` ${code}` : ''}
    </span>
  );
}

export function time(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function PageTitle({ children }: { children: ComponentChildren }) {
  const h = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${h.current?.textContent ?? ''} · Hookline`;
  });
  return (
    <h1 ref={h} tabIndex={-1}>
      {children}
    </h1>
  );
}

/**
 * Headers as a list of pairs (inbound requests keep their original order, case and repeats,
 * which a `Record` would lose).
 */
export function HeaderPairs({ headers, caption }: { headers: [string, string][]; caption: string }) {
  if (headers.length === 0) return <p class="muted">No {caption.toLowerCase()}.</p>;
  return (
    <table class="kv">
      <caption>{caption}</caption>
      <tbody>
        {headers.map(([k, v], i) => (
          // Names repeat (two Set-Cookie headers); the position is the identity.
          <tr key={i}>
            <th scope="row">{k}</th>
            <td>
              <code>{v}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A read-only value (a URL, a secret) with a Copy button; selecting it works without clipboard access. */
export function CopyField({ value, label, id }: { value: string; label: string; id: string }) {
  const input = useRef<HTMLInputElement>(null);
  const [note, setNote] = useState('');
  const copy = async () => {
    input.current?.select();
    try {
      await navigator.clipboard.writeText(value);
      setNote('Copied');
    } catch {
      // Browsers refuse clipboard access on plain-http origins other than localhost.
      setNote('Selected: press Ctrl+C (⌘C) to copy');
    }
  };
  return (
    <div class="copy">
      <label for={id}>{label}</label>
      <div class="copy-row">
        <input
          id={id}
          ref={input}
          readOnly
          value={value}
          spellcheck={false}
          onFocus={(e) => (e.target as HTMLInputElement).select()}
        />
        <button type="button" class="secondary" onClick={copy}>
          Copy<span class="sr-only"> {label}</span>
        </button>
      </div>
      <span class="muted" aria-live="polite">
        {note}
      </span>
    </div>
  );
}

/** The state of a received request: accepted (verified, forwarded), rejected, duplicate or handshake (answered, never forwarded). */
export function InboundBadge({ status }: { status: string }) {
  return <span class={`badge ${status}`}>{status}</span>;
}

/** The breadcrumb's first step, "Applications /"; left out in portal mode (one application only). */
export function AppsCrumb() {
  if (getPortalApp()) return null;
  return (
    <>
      <a href="/apps">Applications</a> /{' '}
    </>
  );
}

/** Copies `text`; falls back to a prompt-free note when the clipboard is refused (plain http). */
export function CopyButton({ text, label, visible }: { text: string; label: string; visible?: string }) {
  const [note, setNote] = useState('');
  return (
    <>
      <button
        type="button"
        class={visible ? 'secondary' : 'icon'}
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(text);
            setNote('Copied');
          } catch {
            setNote('Copy refused by the browser');
          }
          setTimeout(() => setNote(''), 2000);
        }}
      >
        {visible ?? (
          <>
            <svg aria-hidden="true" width="14" height="14" viewBox="0 0 16 16" class="glyph">
              <rect
                x="5"
                y="5"
                width="9"
                height="9"
                rx="1.5"
                fill="none"
                stroke="currentColor"
                stroke-width="1.5"
              />
              <path
                d="M11 3.5V3a1 1 0 0 0-1-1H3a1 1 0 0 0-1 1v7a1 1 0 0 0 1 1h.5"
                fill="none"
                stroke="currentColor"
                stroke-width="1.5"
              />
            </svg>
            <span class="sr-only">Copy {label}</span>
          </>
        )}
      </button>
      <span class="copied" aria-live="polite">
        {note}
      </span>
    </>
  );
}

/** An id in a monospace face (`I` and `l` differ) with a copy button; a link when `href` is given. */
export function Id({ value, href, label = 'id' }: { value: string; href?: string; label?: string }) {
  return (
    <span class="id">
      {href ? (
        <a href={href}>
          <code>{value}</code>
        </a>
      ) : (
        <code>{value}</code>
      )}
      <CopyButton text={value} label={`${label} ${value}`} />
    </span>
  );
}

/** "3 min ago" / "in 5 s", from `now`. */
export function relative(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((t - now) / 1000);
  const a = Math.abs(s);
  const [n, unit] =
    a < 60
      ? [a, 's']
      : a < 3600
        ? [Math.round(a / 60), 'min']
        : a < 86_400
          ? [Math.round(a / 3600), 'h']
          : [Math.round(a / 86_400), 'd'];
  if (a < 5) return 'just now';
  return s < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

/** A relative time, with the exact local time on hover and for assistive technology. */
export function When({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={time(iso)}>
      {relative(iso)}
    </time>
  );
}

/** An empty list that says what to do next. */
export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p>
        <strong>{title}</strong>
      </p>
      {children}
    </div>
  );
}

/** A shell-quoted string for a `curl` command line. */
const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The `curl` command that makes the same request again (headers in order, body as sent). */
export function curlCommand(
  method: string,
  url: string,
  headers: [string, string][],
  body: string | null,
): string {
  const parts = [`curl -X ${method} ${sh(url)}`];
  for (const [k, v] of headers) {
    // Set by curl itself from the URL and body.
    if (/^(host|content-length|connection|transfer-encoding)$/i.test(k)) continue;
    parts.push(`-H ${sh(`${k}: ${v}`)}`);
  }
  if (body !== null && body !== '') parts.push(`--data-binary ${sh(body)}`);
  return parts.join(' \\\n  ');
}

/** A "Copy as curl" button with the command shown in a disclosure. */
export function CurlBlock({ command }: { command: string }) {
  // Drawn only once opened: a big body would otherwise sit in the page twice.
  const [open, setOpen] = useState(false);
  return (
    <div class="curl">
      <CopyButton text={command} label="as curl" visible="Copy as curl" />
      <details onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
        <summary>Show the curl command</summary>
        {open && <Code text={command} label="curl command" />}
      </details>
    </div>
  );
}

/** The start of a long text, to preview what an action will send. */
export function preview(text: string, max = 4000): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n… (${text.length - max} more characters)`;
}
