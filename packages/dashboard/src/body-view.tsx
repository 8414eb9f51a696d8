/**
 * A received request body, shown the way it is best read: JSON pretty-printed, other text as is,
 * binary bytes as a hex dump or base64. The "Raw" view is the exact text received.
 */
import { useMemo, useState } from 'preact/hooks';
import { Code } from './components.tsx';

type View = 'pretty' | 'raw' | 'hex' | 'base64';

/** A hex dump of this many bytes at most; the base64 view always has the whole body. */
const HEX_LIMIT = 16 * 1024;

function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** `00000000  7b 22 61 22 ...  |{"a"...|`, 16 bytes a line. */
export function hexDump(bytes: Uint8Array, limit = HEX_LIMIT): string {
  const lines: string[] = [];
  const end = Math.min(bytes.length, limit);
  for (let off = 0; off < end; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, end));
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  return lines.join('\n');
}

function prettyOrNull(text: string): string | null {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return null;
  }
}

export function BodyView({
  body,
  encoding,
  label,
}: {
  body: string;
  encoding: 'utf8' | 'base64';
  label: string;
}) {
  // Bodies go up to 64 MiB: parse and convert once per body and view, not on every render.
  const pretty = useMemo(() => (encoding === 'utf8' ? prettyOrNull(body) : null), [body, encoding]);
  const views: { view: View; label: string }[] =
    encoding === 'utf8'
      ? [
          ...(pretty !== null ? [{ view: 'pretty' as const, label: 'Pretty JSON' }] : []),
          { view: 'raw', label: 'Raw' },
          { view: 'hex', label: 'Hex' },
        ]
      : [
          { view: 'hex', label: 'Hex' },
          { view: 'base64', label: 'Base64' },
        ];
  const [view, setView] = useState<View>(views[0]!.view);
  const bytes = useMemo(
    () =>
      view === 'hex' || view === 'base64'
        ? encoding === 'base64'
          ? base64ToBytes(body)
          : new TextEncoder().encode(body)
        : null,
    [body, encoding, view],
  );
  const text = useMemo(() => {
    if (view === 'pretty') return pretty ?? body;
    if (view === 'raw') return body;
    if (view === 'base64') return encoding === 'base64' ? body : bytesToBase64(bytes!);
    return hexDump(bytes!);
  }, [body, encoding, view, pretty, bytes]);
  const name = `body-view-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div>
      <fieldset class="segmented">
        <legend>Show the body as</legend>
        {views.map((v) => (
          <label key={v.view}>
            <input
              type="radio"
              name={name}
              value={v.view}
              checked={view === v.view}
              onChange={() => setView(v.view)}
            />
            {v.label}
          </label>
        ))}
      </fieldset>
      {encoding === 'base64' && <p class="muted">Binary body (not UTF-8 text).</p>}
      {view === 'hex' && bytes!.length > HEX_LIMIT && (
        <p class="muted">
          The first {HEX_LIMIT / 1024} KiB of {bytes!.length} bytes; the{' '}
          {encoding === 'utf8' ? 'Raw' : 'Base64'} view has all of them.
        </p>
      )}
      {body === '' ? <p class="muted">Empty body.</p> : <Code text={text} label={label} />}
    </div>
  );
}
