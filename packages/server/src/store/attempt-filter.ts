/**
 * The WHERE clause of an attempt search (`Store.listAttempts`), shared by the adapters. Both
 * write `?` placeholders; only the message conditions (event types, channel) differ between
 * databases, so each adapter passes its own.
 */
import type { AttemptFilter, MessageFilter } from './store.ts';

export interface AttemptQuery<P> {
  /** `FROM` target: the attempt table, joined to its message when message fields are searched. */
  from: string;
  where: string;
  params: P[];
}

export function attemptFilterSql<P>(
  f: AttemptFilter,
  messageFilterSql: (f: MessageFilter, alias: string) => [string, P[]],
): AttemptQuery<P | string | number> {
  let where = 'a.app_id = ?';
  const params: (P | string | number)[] = [f.appId];
  if (f.endpointId) {
    where += ' AND a.endpoint_id = ?';
    params.push(f.endpointId);
  }
  if (f.msgId) {
    where += ' AND a.msg_id = ?';
    params.push(f.msgId);
  }
  if (f.msgIds) {
    where += f.msgIds.length > 0 ? ` AND a.msg_id IN (${f.msgIds.map(() => '?').join(', ')})` : ' AND false';
    params.push(...f.msgIds);
  }
  if (f.status !== undefined) {
    where += ' AND a.status = ?';
    params.push(f.status);
  }
  if (f.statusCodeClass !== undefined) {
    // 0 stands for "no response"; 200 for 2xx, and so on.
    if (f.statusCodeClass === 0) where += ' AND a.response_status_code = 0';
    else {
      where += ' AND a.response_status_code >= ? AND a.response_status_code < ?';
      params.push(f.statusCodeClass, f.statusCodeClass + 100);
    }
  }
  if (f.before !== undefined) {
    where += ' AND a.created_at < ?';
    params.push(f.before);
  }
  if (f.after !== undefined) {
    where += ' AND a.created_at > ?';
    params.push(f.after);
  }
  const needsMessage = (f.eventTypes && f.eventTypes.length > 0) || f.channel !== undefined;
  if (needsMessage) {
    const [mWhere, mParams] = messageFilterSql({ eventTypes: f.eventTypes, channel: f.channel }, 'm.');
    where += mWhere;
    params.push(...mParams);
  }
  return { from: needsMessage ? 'attempt a JOIN message m ON m.id = a.msg_id' : 'attempt a', where, params };
}
