import { useEffect, useState } from 'preact/hooks';
import { api, type BackgroundTask, enc, type ListResponse, qs } from '../api.ts';
import { AppsCrumb, ErrorBox, Id, Loading, PageTitle, useLoad, When } from '../components.tsx';

/** How often the list is read again while a task on it is running. */
const POLL_MS = 1000;

/** A task's progress and result (`data`) in a line: its counts and dates, then an error if any. */
function progressText(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(
      ([k, v]) => k !== 'error' && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean'),
    )
    .map(([k, v]) => `${k.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()}: ${String(v)}`)
    .join(' · ');
}

const BADGE: Record<BackgroundTask['status'], string> = {
  running: 'pending',
  finished: 'success',
  failed: 'fail',
};

/**
 * Background tasks (Svix's `GET /background-task`): recoveries, replays, purges, exports and the
 * like, newest first, with their status and progress. Followed live while one is running. With
 * `appId`, one application's (what its portal token sees); without, every task (admin).
 */
export function TasksPage({ appId }: { appId: string | null }) {
  const [iterator, setIterator] = useState<string | null>(null);
  const tasks = useLoad(
    () =>
      api<ListResponse<BackgroundTask>>(
        'GET',
        `/background-task${qs({ limit: 50, iterator, app_id: appId })}`,
      ),
    [appId, iterator],
  );
  const running = tasks.data?.data.some((t) => t.status === 'running') ?? false;
  useEffect(() => {
    if (!running) return;
    const timer = setTimeout(() => tasks.reload(), POLL_MS);
    return () => clearTimeout(timer);
  }, [running, tasks.data]);
  return (
    <main>
      {appId && (
        <nav aria-label="Breadcrumb" class="crumbs">
          <AppsCrumb />
          <a href={`/apps/${enc(appId)}`}>{appId}</a>
        </nav>
      )}
      <PageTitle>Tasks</PageTitle>
      <p class="muted">
        Work started from the API or this dashboard that runs in the background: endpoint recoveries and
        replays, payload purges, statistics. Kept for a week.
      </p>
      <ErrorBox error={tasks.error} />
      {!tasks.data && !tasks.error && <Loading what="tasks" />}
      {tasks.data && tasks.data.data.length === 0 && <p class="muted">No background tasks yet.</p>}
      {tasks.data && tasks.data.data.length > 0 && (
        <div class="scroll">
          <table data-testid="tasks">
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {tasks.data.data.map((t) => (
                <tr key={t.id}>
                  <td>
                    <Id value={t.id} label="task id" />
                  </td>
                  <td>
                    <code>{t.task}</code>
                  </td>
                  <td>
                    <span class={`badge ${BADGE[t.status]}`}>{t.status}</span>
                  </td>
                  <td>
                    {progressText(t.data)}
                    {t.status === 'failed' && t.data.error !== undefined && (
                      <span class="error"> {String(t.data.error)}</span>
                    )}
                  </td>
                  <td>
                    <When iso={t.updatedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="actions">
        {iterator !== null && (
          <button type="button" class="secondary" onClick={() => setIterator(null)}>
            Newest tasks
          </button>
        )}
        {tasks.data && !tasks.data.done && (
          <button type="button" class="secondary" onClick={() => setIterator(tasks.data?.iterator ?? null)}>
            Older tasks
          </button>
        )}
      </div>
    </main>
  );
}
