/**
 * Background tasks, as Svix has them (`qtask_...`): work that an API call starts and answers at
 * once with `202` and the task, such as recovering or replaying an endpoint or purging an
 * application's payloads. `GET /api/v1/background-task[/{id}]` reports each one's status
 * (`running`, `finished`, `failed`) and progress (`data`).
 *
 * A task runs in the API process that started it, a batch at a time, yielding to other requests
 * between batches. It is a row of the `background_task` table, so every API process answers for
 * it and it outlives a restart; progress is written after each batch, which doubles as a
 * heartbeat: a task that stopped reporting (its process died) reads as failed. Ended tasks are
 * kept for a week (at most the newest thousand).
 */
import Type from 'typebox';
import { coerceError, HooklineError, notFound } from '../core/errors.ts';
import type { BackgroundTask, BackgroundTaskKind } from '../core/types.ts';
import { loadApp } from './application.ts';
import type { ApiContext, Routes } from './context.ts';
import { listOut, pageQuery } from './pagination.ts';
import { BackgroundTaskListQuery, BackgroundTaskOut, ErrorOut, listOf } from './schemas.ts';
import { iso } from './wire.ts';

export type TaskKind = BackgroundTaskKind;

/** A running task reports after every batch; one silent this long has died with its process. */
const STALE_MS = 2 * 60_000;
const KEEP_MS = 7 * 86_400_000;
/** The most ended tasks kept, whatever their age. */
const KEEP_MAX = 1000;

/** Reports progress (merged into `data`); throws when the server is stopping. */
export type Progress = (data: Record<string, unknown>) => Promise<void>;

class Stopping extends Error {}

export interface BackgroundTasks {
  /**
   * Records a running task and starts `run` in the background; resolves once the task is
   * recorded, with what the API answers. `run` returns the task's final `data`. `appId` is null
   * for a task across applications (only the admin reads it).
   */
  start(
    kind: TaskKind,
    appId: string | null,
    data: Record<string, unknown>,
    run: (progress: Progress) => Promise<Record<string, unknown>>,
  ): Promise<ReturnType<typeof taskOut>>;
  /** The task as the caller may see it (only its own application's, for an app token). */
  get(id: string, appId: string | null): Promise<ReturnType<typeof taskOut> | null>;
  /** This process runs the task now. */
  runningHere(id: string): boolean;
  /** Resolves when the task started by this process has ended (at once for others). */
  settled(id: string): Promise<void>;
  /** Stops the tasks of this process between batches (they read as failed) and waits for them. */
  close(): Promise<void>;
}

export function taskOut(t: BackgroundTask) {
  return { id: t.id, status: t.status, task: t.kind, data: t.data, updatedAt: iso(t.updatedAt) };
}

/** A running task that stopped reporting, not run by this process, is shown as failed. */
function asSeen(t: BackgroundTask, runningHere: boolean, now: number): BackgroundTask {
  if (t.status !== 'running' || runningHere || now - t.updatedAt <= STALE_MS) return t;
  return {
    ...t,
    status: 'failed',
    data: { ...t.data, error: 'the task stopped reporting (its server process ended); start it again' },
  };
}

export function createBackgroundTasks(ctx: ApiContext): BackgroundTasks {
  const running = new Map<string, Promise<void>>();
  let stopping = false;

  return {
    async start(kind, appId, data, run) {
      const now = ctx.clock.now();
      const task: BackgroundTask = {
        id: ctx.ids('task'),
        appId,
        kind,
        status: 'running',
        data,
        createdAt: now,
        updatedAt: now,
      };
      await ctx.store.insertBackgroundTask(task);
      await ctx.store
        .pruneBackgroundTasks(now - KEEP_MS, KEEP_MAX)
        .catch((err) => ctx.logger.warn({ err }, 'could not prune old background tasks'));
      const progress: Progress = async (more) => {
        if (stopping) throw new Stopping();
        Object.assign(task.data, more);
        task.updatedAt = ctx.clock.now();
        await ctx.store.updateBackgroundTask(task);
        // Other requests go first: a long task never holds the event loop between batches.
        await new Promise((r) => setImmediate(r));
      };
      const answer = taskOut({ ...task, data: { ...task.data } });
      const done = (async () => {
        // Answer the request first.
        await new Promise((r) => setImmediate(r));
        try {
          Object.assign(task.data, await run(progress));
          task.status = 'finished';
        } catch (err) {
          task.status = 'failed';
          if (err instanceof Stopping) {
            task.data.error = 'the server stopped before the task finished; start it again';
          } else {
            ctx.logger.warn({ err: coerceError(err), taskId: task.id, task: kind }, 'background task failed');
            task.data.error = 'the task failed; see the server log';
          }
        }
        task.updatedAt = ctx.clock.now();
        await ctx.store
          .updateBackgroundTask(task)
          .catch((err) =>
            ctx.logger.warn({ err, taskId: task.id }, 'could not record the end of a background task'),
          );
      })().finally(() => running.delete(task.id));
      running.set(task.id, done);
      return answer;
    },

    async get(id, appId) {
      const t = await ctx.store.getBackgroundTask(id);
      if (!t) return null;
      if (appId !== null && t.appId !== appId) return null;
      return taskOut(asSeen(t, running.has(id), ctx.clock.now()));
    },

    runningHere: (id) => running.has(id),

    async settled(id) {
      await running.get(id);
    },

    async close() {
      stopping = true;
      await Promise.allSettled([...running.values()]);
    },
  };
}

export function backgroundTaskRoutes(api: Routes, ctx: ApiContext, tasks: BackgroundTasks): void {
  const tags = ['Background Task'];
  api.get(
    '/background-task',
    {
      schema: {
        tags,
        summary: 'List background tasks, newest first (an application token sees its application’s)',
        querystring: BackgroundTaskListQuery,
        response: { 200: listOf(BackgroundTaskOut, 'BackgroundTaskOut'), 403: ErrorOut, 404: ErrorOut },
      },
    },
    async (req) => {
      const p = req.principal;
      const q = pageQuery(req.query, 'desc');
      const asked = req.query.app_id ? (await loadApp(ctx, req.query.app_id)).id : null;
      if (p?.kind === 'app' && asked !== null && asked !== p.token.appId)
        throw new HooklineError('insufficient_access', `this token belongs to application ${p.token.appId}`);
      const appId = p?.kind === 'app' ? p.token.appId : asked;
      const page = await ctx.store.listBackgroundTasks(
        {
          ...(appId !== null ? { appId } : {}),
          ...(req.query.status ? { status: req.query.status } : {}),
          ...(req.query.task ? { kind: req.query.task } : {}),
        },
        q,
      );
      const now = ctx.clock.now();
      return listOut(
        page,
        q,
        (t) => t.id,
        (t) => taskOut(asSeen(t, tasks.runningHere(t.id), now)),
      );
    },
  );

  api.get(
    '/background-task/:task_id',
    {
      schema: {
        tags,
        summary: 'Get a background task (such as an endpoint recovery): its status and progress',
        params: Type.Object({ task_id: Type.String() }),
        response: { 200: BackgroundTaskOut, 404: ErrorOut },
      },
    },
    async (req) => {
      // An application token reads only its application's tasks; others do not exist for it.
      const p = req.principal;
      const t = await tasks.get(req.params.task_id, p?.kind === 'app' ? p.token.appId : null);
      if (!t) throw notFound('background task');
      return t;
    },
  );
}
