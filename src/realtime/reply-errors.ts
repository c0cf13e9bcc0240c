import { HttpException, Logger } from '@nestjs/common';
import { ImCode, ImError } from '../common/im-error';
import { LogThrottle } from '../common/log-throttle';

/**
 * Server failures during an outage come by the thousand: the first one is logged with its stack, the
 * rest of the next few seconds only counted, and the count logged with the next one logged.
 */
const serverErrorLog = new LogThrottle(5000);

function reportServerError(error: unknown, logger: Logger): void {
  const held = serverErrorLog.pass('server-error');
  if (held === undefined) return;
  if (held > 0) logger.error(`${held} more requests failed with the same kind of server error in the last window`);
  logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
}

/** The code and msg of any error a handler threw; unexpected ones are code 0 (retry with the same nonce). */
export function toCodeAndMsg(error: unknown, logger: Logger): { code: number; msg: string } {
  if (error instanceof ImError) return { code: error.code, msg: error.message };
  if (error instanceof HttpException) {
    const response = error.getResponse() as string | { message?: string | string[] };
    const message = typeof response === 'string' ? response : response.message;
    return { code: error.getStatus(), msg: Array.isArray(message) ? message[0] : (message ?? error.message) };
  }
  reportServerError(error, logger);
  // not "nothing was stored": the database may have committed before the connection failed (PROTOCOL §3 code 0)
  return { code: ImCode.ServerError, msg: 'server error; retry with the same nonce (answered 831 if it was stored after all)' };
}

/** Group management actions name their group in `extra` (top level accepted too). */
const GROUP_ACTIONS = new Set(['createGroup', 'editGroup', 'inviteToGroup', 'joinGroup', 'removeFromGroup', 'leaveGroup', 'dissolveGroup', 'groupInfo']);

/**
 * The group a failed request concerns, echoed in its reply: `extra.group_id` for group actions, the
 * top-level `group_id` otherwise (groupChat, ack, history); a chat's free-form extra is never read.
 */
export function groupIdOf(request: Record<string, unknown>, action: string): string | undefined {
  const extra = request.extra && typeof request.extra === 'object' ? (request.extra as Record<string, unknown>).group_id : undefined;
  const candidates = GROUP_ACTIONS.has(action) ? [extra, request.group_id] : [request.group_id];
  return candidates.find((value): value is string => typeof value === 'string');
}
