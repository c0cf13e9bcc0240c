import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { Db } from '../database/db';
import { Delivery } from '../realtime/delivery';
import { encodePush, ReplyBody } from '../realtime/frames';
import { UsersService } from '../users/users.service';
import { conversationTarget } from './message-rules';
import { Sender } from './messaging.service';

/** Read receipts (PROTOCOL §4 `ack`). */
@Injectable()
export class ReceiptsService {
  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
    private readonly delivery: Delivery,
  ) {}

  /** `ack`: status 1 (delivered) or 2 (read, moves the read position forward); pushes `ack` to the sender. */
  async ack(reader: Sender, request: Record<string, unknown>): Promise<ReplyBody> {
    const msgId = request.msg_id;
    if (!Number.isSafeInteger(msgId) || (msgId as number) < 1) throw ImError.badRequest('msg_id must be a positive integer');
    const status = request.status;
    if (status !== 1 && status !== 2) throw ImError.badRequest('status must be 1 (delivered) or 2 (read)');
    const { peer, groupId } = conversationTarget(request);

    let conversationId: number;
    if (groupId !== undefined) {
      const [group] = await this.db.query<{ dissolved: boolean; member: boolean }>(
        `SELECT g.dissolved_at IS NOT NULL AS dissolved,
                EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = g.id AND user_id = $2) AS member
         FROM groups g WHERE g.id = $1`,
        [groupId, reader.userId],
      );
      if (!group || group.dissolved) throw ImError.notFound(`no such group: ${groupId}`);
      if (!group.member) throw ImError.forbidden('you are not a member of this group');
      conversationId = groupId;
    } else {
      const other = await this.users.profile(peer!);
      if (other.user_id === reader.userId) throw ImError.badRequest('app_user_ids must name the other participant');
      const [conversation] = await this.db.query<{ id: number }>(
        `SELECT id FROM conversations WHERE kind = 1 AND user_low = $1 AND user_high = $2`,
        [Math.min(other.user_id, reader.userId), Math.max(other.user_id, reader.userId)],
      );
      if (!conversation) throw ImError.notFound(`no such message: ${msgId}`);
      conversationId = conversation.id;
    }

    const [message] = await this.db.query<{ seq: number; sender_id: number; type: number }>(
      `SELECT seq, sender_id, type FROM messages WHERE id = $1 AND conversation_id = $2`,
      [msgId, conversationId],
    );
    if (!message) throw ImError.notFound(`no such message: ${msgId}`);
    if (message.sender_id === reader.userId) throw ImError.badRequest('msg_id: you cannot acknowledge your own message');
    if (status === 2) {
      await this.db.query(`UPDATE conversation_members SET read_seq = GREATEST(read_seq, $3) WHERE conversation_id = $1 AND user_id = $2`, [
        conversationId,
        reader.userId,
        message.seq,
      ]);
    }

    const group = groupId === undefined ? undefined : String(groupId);
    const data: Record<string, unknown> = { msg_id: msgId, status, app_user_id: reader.appUserId, type: message.type };
    if (group !== undefined) data.group_id = group;
    const body: ReplyBody = { data, user_id: reader.userId, msg_id: msgId as number, group_id: group };
    this.delivery.push([message.sender_id, reader.userId], encodePush('ack', { ...body, time: Date.now() }), { exceptConnectionId: reader.connectionId });
    return body;
  }
}
