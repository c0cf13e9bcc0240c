import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { AppConfig } from '../config/app-config';
import { Db } from '../database/db';
import { Delivery } from '../realtime/delivery';
import { encodePush, ReplyBody } from '../realtime/frames';
import { UsersService } from '../users/users.service';
import { conversationTarget } from './message-rules';
import { Sender } from './messaging.service';
import { TypingThrottle } from './typing-throttle';

/**
 * A group's liveness, the caller's membership (their muted_until, NULL when not a member) and at most
 * cap+1 member ids, in one indexed statement:
 * a group larger than the cap is recognised by reading cap+1 index entries, never by counting all
 * of its members, and a group within the cap needs no second query for its member list.
 */
const GROUP_AUDIENCE = `
  SELECT g.dissolved_at IS NOT NULL AS dissolved,
         (SELECT muted_until FROM conversation_members WHERE conversation_id = g.id AND user_id = $2) AS muted_until,
         ARRAY(SELECT user_id FROM conversation_members WHERE conversation_id = g.id LIMIT $3) AS members
    FROM groups g WHERE g.id = $1`;

/** Typing indicators (PROTOCOL §4 Typing): never stored, throttled, not pushed in large groups. */
@Injectable()
export class TypingService {
  private readonly maxGroupMembers: number;

  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
    private readonly delivery: Delivery,
    private readonly throttle: TypingThrottle,
    config: AppConfig,
  ) {
    this.maxGroupMembers = config.TYPING_MAX_GROUP_MEMBERS;
  }

  /** `typing`: 403/404 as for any conversation request; otherwise 200, with a push when the throttle allows. */
  async typing(typist: Sender, request: Record<string, unknown>): Promise<ReplyBody> {
    const target = conversationTarget(request);
    let recipients: number[];
    let data: Record<string, unknown>;
    let key: string;
    if (target.groupId !== undefined) {
      const [group] = await this.db.query<{ dissolved: boolean; muted_until: number | null; members: number[] }>(GROUP_AUDIENCE, [
        target.groupId,
        typist.userId,
        this.maxGroupMembers + 1,
      ]);
      if (!group || group.dissolved) throw ImError.notFound(`no such group: ${target.groupId}`);
      if (group.muted_until === null) throw ImError.forbidden('you are not a member of this group');
      // over the cap, or muted (they cannot send what they type): the reply, no push
      const silent = group.members.length > this.maxGroupMembers || group.muted_until > Date.now();
      recipients = silent ? [] : group.members.filter((id) => id !== typist.userId);
      data = { app_user_id: typist.appUserId, group_id: String(target.groupId) };
      key = `${typist.userId}:g${target.groupId}`;
    } else {
      const other = await this.users.profile(target.peer!);
      if (other.user_id === typist.userId) throw ImError.badRequest('app_user_ids must name the other participant');
      // the peer blocked the typist: they see nothing of them (as with chat, which gets 811)
      const [blocked] = await this.db.query(`SELECT 1 FROM blacklist WHERE user_id = $1 AND blocked_user_id = $2`, [other.user_id, typist.userId]);
      recipients = blocked ? [] : [other.user_id];
      data = { app_user_id: typist.appUserId, to_app_user_id: other.app_user_id };
      key = `${typist.userId}:u${other.user_id}`;
    }
    const group = target.groupId === undefined ? undefined : String(target.groupId);
    if (recipients.length > 0 && (await this.throttle.take(key))) {
      this.delivery.push(recipients, encodePush('typing', { data, user_id: typist.userId, group_id: group, time: Date.now() }));
    }
    return { group_id: group };
  }
}
