/**
 * The live feed (`/api/v1/live`, `/api/v1/app/{app}/live`, server-sent events) as a hook, and
 * the "live" indicator every live page shows. `EventSource` cannot send the Bearer token, so the
 * stream is read with `fetch`; it reconnects after a drop (the server also ends streams after a
 * while), and stops while the tab is hidden.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { getToken, type LiveAttempt, type LiveInbound } from './api.ts';

export type { LiveAttempt, LiveInbound };
export type LiveState = 'connecting' | 'live' | 'offline';

export interface LiveHandlers {
  attempt?: (a: LiveAttempt) => void;
  inbound?: (e: LiveInbound) => void;
}

/** Follows `path` (under /api/v1; null: nothing) and calls the handlers for each event. */
export function useLive(path: string | null, handlers: LiveHandlers): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const h = useRef(handlers);
  h.current = handlers;
  useEffect(() => {
    if (!path) return;
    let stopped = false;
    let abort: AbortController | null = null;
    let retry: ReturnType<typeof setTimeout> | null = null;
    const connect = async () => {
      if (stopped) return;
      abort = new AbortController();
      setState('connecting');
      try {
        const res = await fetch(`/api/v1${path}`, {
          headers: { authorization: `Bearer ${getToken() ?? ''}`, accept: 'text/event-stream' },
          signal: abort.signal,
        });
        // Refused (token expired, page gone): trying again would only be refused again.
        if (res.status >= 400 && res.status < 500) {
          setState('offline');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut = buf.indexOf('\n\n');
          while (cut >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            cut = buf.indexOf('\n\n');
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (!event || !data) continue;
            if (event === 'hello') setState('live');
            else if (event === 'attempt') h.current.attempt?.(JSON.parse(data) as LiveAttempt);
            else if (event === 'inbound') h.current.inbound?.(JSON.parse(data) as LiveInbound);
          }
        }
      } catch {
        // Aborted, refused or dropped: shown as offline, tried again below.
      }
      if (stopped) return;
      setState('offline');
      retry = setTimeout(connect, 3000);
    };
    void connect();
    return () => {
      stopped = true;
      abort?.abort();
      if (retry) clearTimeout(retry);
    };
  }, [path]);
  return state;
}

/** "Live", "Connecting…" or "Offline": a dot and a word, announced politely (not a `status` role: pages keep that for the result of an action). */
export function LiveIndicator({ state }: { state: LiveState }) {
  const text = state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Offline, retrying';
  return (
    <span class={`live is-${state}`} aria-live="polite" data-testid="live">
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}
