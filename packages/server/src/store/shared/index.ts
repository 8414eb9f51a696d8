/**
 * Everything both databases do alike, written once: CRUD, listing, paging and stats over an
 * executor and a dialect. The adapters add their hot paths (`queue.ts`, `inbound.ts`,
 * `retention.ts`) and compose a `Store`.
 */
import { appsStore } from './apps.ts';
import { attemptsStore } from './attempts.ts';
import { backgroundTasksStore } from './background-tasks.ts';
import type { Db } from './db.ts';
import { endpointExtrasStore } from './endpoint-extras.ts';
import { endpointsStore } from './endpoints.ts';
import { eventTypesStore } from './event-types.ts';
import { idempotencyStore } from './idempotency.ts';
import { inboundEventsStore } from './inbound-events.ts';
import { messagesStore } from './messages.ts';
import { overviewStore } from './overview.ts';
import { pollersStore } from './pollers.ts';
import { recoverStore } from './recover.ts';
import { sendingStore } from './sending.ts';
import { settingsStore } from './settings.ts';
import { sourcesStore } from './sources.ts';
import { statsStore } from './stats.ts';
import { tokensStore } from './tokens.ts';
import { usageStore } from './usage.ts';

export { createDb, type Db } from './db.ts';

export const sharedStore = (db: Db) => ({
  ...settingsStore(db),
  ...appsStore(db),
  ...endpointsStore(db),
  ...endpointExtrasStore(db),
  ...tokensStore(db),
  ...eventTypesStore(db),
  ...messagesStore(db),
  ...attemptsStore(db),
  ...statsStore(db),
  ...sourcesStore(db),
  ...inboundEventsStore(db),
  ...idempotencyStore(db),
  ...recoverStore(db),
  ...overviewStore(db),
  ...backgroundTasksStore(db),
  ...sendingStore(db),
  ...usageStore(db),
  ...pollersStore(db),
});
