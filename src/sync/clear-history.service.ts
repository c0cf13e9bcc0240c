import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { Db } from '../database/db';
import { participationOf } from '../messaging/participation';
import { SystemMessageService, SystemMessageType } from '../system-messages/system-messages.service';
import { UsersService } from '../users/users.service';

export type ClearedHistory = {
  seq: number;
  group_id?: string;
  to_app_user_id?: string;
};

/**
 * clearHistory (PROTOCOL §4 "Clear history (for me)"): the user's cleared_seq and read position move to
 * the conversation's last seq (never back), so history and search hide everything up to it and the
 * conversation's unread count is 0. Other participants are untouched. Type 23 goes to the user's other
 * connections only, never stored.
 */
@Injectable()
export class ClearHistoryService {
  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
    private readonly systemMessages: SystemMessageService,
  ) {}

  async clear(user: { userId: number; connectionId?: string }, target: { peer?: string; groupId?: number }): Promise<ClearedHistory> {
    const place = await participationOf(this.db, this.users, user.userId, target);
    let seq = 0;
    if (place.conversationId !== undefined) {
      // last_seq is read in the same statement: a message committed after it keeps a larger seq and shows
      const [row] = await this.db.query<{ cleared_seq: number }>(
        `UPDATE conversation_members m
            SET cleared_seq = GREATEST(m.cleared_seq, c.last_seq), read_seq = GREATEST(m.read_seq, c.last_seq)
           FROM conversations c
          WHERE c.id = m.conversation_id AND m.conversation_id = $1 AND m.user_id = $2
          RETURNING m.cleared_seq`,
        [place.conversationId, user.userId],
      );
      // no row: the user left the group in the meantime (a one-to-one conversation always has both rows)
      if (!row) throw ImError.forbidden('you are not a member of this group');
      seq = row.cleared_seq;
    }
    const data: ClearedHistory =
      place.groupId !== undefined ? { seq, group_id: String(place.groupId) } : { seq, to_app_user_id: place.peer!.appUserId };
    await this.systemMessages.emit({
      type: SystemMessageType.HistoryCleared,
      subType: 'personal',
      groupId: data.group_id,
      extra: data,
      actorUserId: user.userId,
      recipients: [],
      pushOnly: [{ userId: user.userId, exceptConnectionId: user.connectionId }],
      store: false,
    });
    return data;
  }
}
