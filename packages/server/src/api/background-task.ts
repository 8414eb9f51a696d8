/**
 * Background tasks, as Svix has them (`qtask_...`): work that an API call starts and answers at
 * once with `202` and the task, such as recovering an endpoint. `GET /api/v1/background-task/{id}`
 * reports its status (`running`, `finished`, `failed`) and progress (`data`).
 *
 * A task runs in the API process that started it, a batch at a time, yielding to other requests
 * between batches. Its state is kept in the `setting` table (under `background_task:{id}`), so
 * every API process answers for it; progress is written after each batch, which doubles as a
 * heartbeat: a task that stopped reporting (its process died) reads as failed. Finished tasks
 * are kept for a week.
 */
import Type from 'typebox';
import { coerceError, notFound } from '../core/errors.ts';
import type { ApiContext, Routes } from './context.ts';
import { BackgroundTaskOut, ErrorOut } from './schemas.ts';
import { iso } from './wire.ts';

export type TaskKind = 'endpoint.recover';
export type TaskStatus = 'running' | 'finished' | 'failed';

interface TaskRecord {
  id: string;
  /** The application the task works on: its app tokens may read it. */
  appId: string;
  task: TaskKind;
  status: TaskStatus;
  data: Record<string, unknown>;
  updatedAt: number;
}

const KEY_PREFIX = 'background_task:';
/** A running task reports after every batch; one silent this long has died with its process. */
const STALE_MS = 2 * 60_000;
const KEEP_MS = 7 * 86_400_000;
/** The most finished tasks kept, whatever their age. */
const KEEP_MAX = 1000;

/** Reports progress (merged into `data`); throws when the server is stopping. */
export type Progress = (data: Record<string, unknown>) => Promise<void>;

class Stopping extends Error {}

export interface BackgroundTasks {
  /**
   * Records a running task and starts `run` in the background; resolves once the task is
   * recorded, with what the API answers. `run` returns the task's final `data`.
   */
  start(
    kind: TaskKind,
    appId: string,
    data: Record<string, unknown>,
    run: (progress: Progress) => Promise<Record<string, unknown>>,
  ): Promise<ReturnType<typeof taskOut>>;
  /** The task as the caller may see it (only its own application's, for an app token). */
  get(id: string, appId: string | null): Promise<ReturnType<typeof taskOut> | null>;
  /** Stops the tasks of this process between batches (they read as failed) and waits for them. */
  close(): Promise<void>;
}

export function taskOut(t: TaskRecord) {
  return { id: t.id, status: t.status, task: t.task, data: t.data, updatedAt: iso(t.updatedAt) };
}

export function createBackgroundTasks(ctx: ApiContext): BackgroundTasks {
  const running = new Map<string, Promise<void>>();
  let stopping = false;
  const save = (t: TaskRecord) => ctx.store.setSetting(KEY_PREFIX + t.id, JSON.stringify(t));

  /** Finished tasks older than a week (or beyond the newest KEEP_MAX) are forgotten. */
  async function prune(now: number): Promise<void> {
    const tasks = (await ctx.store.listSettings(KEY_PREFIX))
      .map((s) => ({ key: s.key, t: JSON.parse(s.value) as TaskRecord }))
      .filter(({ t }) => t.status !== 'running' || now - t.updatedAt > STALE_MS)
      .sort((a, b) => b.t.updatedAt - a.t.updatedAt);
    const old = tasks
      .filter(({ t }, i) => i >= KEEP_MAX || now - t.updatedAt > KEEP_MS)
      .map(({ key }) => key);
    await ctx.store.deleteSettings(old);
  }

  return {
    async start(kind, appId, data, run) {
      const now = ctx.clock.now();
      const task: TaskRecord = {
        id: ctx.ids('task'),
        appId,
        task: kind,
        status: 'running',
        data,
        updatedAt: now,
      };
      await save(task);
      await prune(now).catch((err) => ctx.logger.warn({ err }, 'could not prune old background tasks'));
      const progress: Progress = async (more) => {
        if (stopping) throw new Stopping();
        Object.assign(task.data, more);
        task.updatedAt = ctx.clock.now();
        await save(task);
        // Other requests go first: a long task never holds the event loop between batches.
        await new Promise((r) => setImmediate(r));
      };
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
        await save(task).catch((err) =>
          ctx.logger.warn({ err, taskId: task.id }, 'could not record the end of a background task'),
        );
      })().finally(() => running.delete(task.id));
      running.set(task.id, done);
      return taskOut(task);
    },

    async get(id, appId) {
      const stored = await ctx.store.getSetting(KEY_PREFIX + id);
      if (!stored) return null;
      const t = JSON.parse(stored) as TaskRecord;
      if (appId !== null && t.appId !== appId) return null;
      if (t.status === 'running' && !running.has(id) && ctx.clock.now() - t.updatedAt > STALE_MS) {
        return taskOut({
          ...t,
          status: 'failed',
          data: { ...t.data, error: 'the task stopped reporting (its server process ended); start it again' },
        });
      }
      return taskOut(t);
    },

    async close() {
      stopping = true;
      await Promise.allSettled([...running.values()]);
    },
  };
}

export function backgroundTaskRoutes(api: Routes, tasks: BackgroundTasks): void {
  api.get(
    '/background-task/:task_id',
    {
      schema: {
        tags: ['Background Task'],
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
