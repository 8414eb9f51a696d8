/**
 * Every page of the dashboard: a path pattern and what it renders. To add a page, write it in
 * `pages/` and add one line here (and a link in `NAV` if it belongs in the top bar).
 */
import type { VNode } from 'preact';
import { AppPage } from './pages/app.tsx';
import { AppsPage } from './pages/apps.tsx';
import { AttemptPage } from './pages/attempt.tsx';
import { EndpointPage } from './pages/endpoint.tsx';
import { EditEndpointPage, NewEndpointPage } from './pages/endpoint-new.tsx';
import { EventTypesPage } from './pages/event-types.tsx';
import { MessagePage } from './pages/message.tsx';
import { MessagesPage } from './pages/messages.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { SourcePage } from './pages/source.tsx';
import { SourceEventPage } from './pages/source-event.tsx';
import { SourceEventsPage } from './pages/source-events.tsx';
import { NewSourcePage } from './pages/source-new.tsx';
import { SourcesPage } from './pages/sources.tsx';
import { TailPage } from './pages/tail.tsx';
import { TasksPage } from './pages/tasks.tsx';

type Params = Record<string, string>;

export const ROUTES: { path: string; render: (p: Params, query: URLSearchParams) => VNode }[] = [
  { path: '/', render: () => <OverviewPage /> },
  { path: '/tail', render: () => <TailPage appId={null} /> },
  { path: '/apps', render: (_p, q) => <AppsPage key={q.toString()} iterator={q.get('iterator')} /> },
  { path: '/apps/:appId/tail', render: (p) => <TailPage appId={p.appId!} /> },
  { path: '/tasks', render: () => <TasksPage appId={null} /> },
  { path: '/apps/:appId/tasks', render: (p) => <TasksPage appId={p.appId!} /> },
  { path: '/apps/:appId', render: (p) => <AppPage appId={p.appId!} /> },
  { path: '/apps/:appId/endpoints/new', render: (p) => <NewEndpointPage appId={p.appId!} /> },
  {
    path: '/apps/:appId/endpoints/:endpointId',
    render: (p) => <EndpointPage appId={p.appId!} endpointId={p.endpointId!} />,
  },
  {
    path: '/apps/:appId/endpoints/:endpointId/edit',
    render: (p) => <EditEndpointPage appId={p.appId!} endpointId={p.endpointId!} />,
  },
  {
    path: '/apps/:appId/messages',
    // Keyed by the query: a new search or page starts from the URL's filters.
    render: (p, q) => <MessagesPage key={q.toString()} appId={p.appId!} query={q} />,
  },
  { path: '/apps/:appId/msg/:msgId', render: (p) => <MessagePage appId={p.appId!} msgId={p.msgId!} /> },
  {
    path: '/apps/:appId/msg/:msgId/attempt/:attemptId',
    // `?source=` marks an inbound event's forward: its body is the raw request, not a JSON payload.
    render: (p, q) => (
      <AttemptPage appId={p.appId!} msgId={p.msgId!} attemptId={p.attemptId!} sourceId={q.get('source')} />
    ),
  },
  { path: '/event-types', render: (_p, q) => <EventTypesPage presetApp={q.get('app') ?? ''} /> },
  // Sources are addressed by id in the dashboard: a name may contain dots, which the server takes
  // for a file name on reload.
  { path: '/sources', render: () => <SourcesPage /> },
  { path: '/sources/new', render: () => <NewSourcePage /> },
  { path: '/sources/:sourceId', render: (p) => <SourcePage sourceId={p.sourceId!} /> },
  {
    path: '/sources/:sourceId/events',
    // Keyed by the status in the URL, so a link to ?status=rejected starts with that filter.
    render: (p, q) => (
      <SourceEventsPage
        key={`${p.sourceId}?${q.get('status') ?? ''}`}
        sourceId={p.sourceId!}
        presetStatus={q.get('status') ?? ''}
      />
    ),
  },
  {
    path: '/sources/:sourceId/events/:eventId',
    render: (p) => <SourceEventPage key={p.eventId} sourceId={p.sourceId!} eventId={p.eventId!} />,
  },
];

export const NAV: { href: string; label: string }[] = [
  { href: '/', label: 'Overview' },
  { href: '/apps', label: 'Applications' },
  { href: '/event-types', label: 'Event types' },
  { href: '/sources', label: 'Sources' },
  { href: '/tail', label: 'Tail' },
  { href: '/tasks', label: 'Tasks' },
];

/** The top bar in portal mode: one application's pages and the event type catalog. */
export const PORTAL_NAV = (appId: string): { href: string; label: string }[] => [
  { href: `/apps/${encodeURIComponent(appId)}`, label: 'Endpoints' },
  { href: `/apps/${encodeURIComponent(appId)}/messages`, label: 'Messages' },
  { href: `/event-types?app=${encodeURIComponent(appId)}`, label: 'Event types' },
  { href: `/apps/${encodeURIComponent(appId)}/tail`, label: 'Tail' },
  { href: `/apps/${encodeURIComponent(appId)}/tasks`, label: 'Tasks' },
];

/**
 * What an application token can open (the server refuses the rest with 403
 * `insufficient_access`): its own application's pages and the event type catalog.
 */
export function visibleInPortal(path: string, params: Params, appId: string): boolean {
  if (path === '/event-types') return true;
  return path.startsWith('/apps/:appId') && params.appId === appId;
}
