import { conversationKey, WebhookOutbox } from '../webhooks/outbox';
import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { AppConfig } from '../config/app-config';
import { Db, Queryable } from '../database/db';
import { PreparedSystemMessage, SystemMessageService, SystemMessageType } from '../system-messages/system-messages.service';
import { LifecycleAccess, LockedMessage, messageTarget, MessageScope, windowPassed } from './lifecycle-access';
import { Sender } from './messaging.service';

/** The recall reply (WebSocket and admin API): the message and when it was recalled. */
export interface RecallResult {
  msg_id: number;
  seq: number;
  group_id?: string;
  to_app_user_id?: string;
  recalled_at: number;
}

/** Who recalls: a participant, or the admin API. */
type Recaller = { kind: 'user'; sender: Sender; participation: MessageScope } | { kind: 'admin' };

/** Recall (delete for everyone), PROTOCOL §4 "Recall". */
@Injectable()
export class RecallService {
  private readonly windowSeconds: number;

  constructor(
    private readonly db: Db,
    private readonly access: LifecycleAccess,
    private readonly systemMessages: SystemMessageService,
    private readonly outbox: WebhookOutbox,
    config: AppConfig,
  ) {
    this.windowSeconds = config.RECALL_WINDOW_SECONDS;
  }

  /** `recall` over WebSocket: the sender within the window, the group's owner and admins any time. */
  async recallRequest(sender: Sender, request: Record<string, unknown>): Promise<{ data: RecallResult; group_id?: string }> {
    const msgId = this.access.msgIdOf(request);
    const participation = await this.access.scope(sender.userId, request, msgId);
    const data = await this.recall({ kind: 'user', sender, participation }, msgId);
    return { data, group_id: data.group_id };
  }

  /** `POST /admin/messages/{msg_id}/recall`: any message (404 when unknown or its group is dissolved). */
  recallByAdmin(msgId: number): Promise<RecallResult> {
    return this.recall({ kind: 'admin' }, msgId);
  }

  /**
   * One transaction: the message row is locked, so a recall racing another recall or an edit of the
   * same message waits for it; content, extra, mentions, edit history and reactions go; type 20 is stored
   * per participant. Pushed after COMMIT. Already recalled: the same answer, nothing stored or pushed.
   */
  private async recall(recaller: Recaller, msgId: number): Promise<RecallResult> {
    const now = Date.now();
    let prepared: PreparedSystemMessage | undefined;
    const result = await this.db.transaction(async (tx) => {
      const message =
        recaller.kind === 'user' ? await this.access.messageIn(tx, recaller.participation, msgId, true) : await this.access.message(tx, msgId, true);
      if (!message || message.dissolved) throw ImError.notFound(`no such message: ${msgId}`);
      if (recaller.kind === 'user') this.checkAllowed(recaller.sender.userId, recaller.participation, message, now);
      const target = messageTarget(message);
      if (message.recalled_at !== null) return { msg_id: msgId, seq: message.seq, ...target, recalled_at: message.recalled_at };

      await tx.query(
        `UPDATE messages SET recalled_at = $2, content = '', extra = '{}', edited_at = NULL, mention_ids = NULL, mention_all = false, search_tokens = NULL WHERE id = $1`,
        [msgId, now],
      );
      await tx.query(`DELETE FROM message_edits WHERE msg_id = $1`, [msgId]);
      await tx.query(`DELETE FROM message_reactions WHERE msg_id = $1`, [msgId]);
      const by = recaller.kind === 'admin' ? { app_user_id: '', nickname: 'admin' } : await this.person(tx, recaller.sender);
      prepared = await this.systemMessages.prepare(tx, {
        type: SystemMessageType.MessageRecalled,
        subType: message.kind === 2 ? 'group' : 'personal',
        groupId: message.kind === 2 ? String(message.conversation_id) : undefined,
        extra: { msg_id: msgId, seq: message.seq, ...target, by },
        actorUserId: recaller.kind === 'admin' ? 0 : recaller.sender.userId,
        recipients: await this.access.participants(tx, message.conversation_id),
      });
      // the webhook event commits with the recall (docs/webhooks.md)
      await this.outbox.enqueue(tx, 'message.recalled', conversationKey(message.conversation_id), { msg_id: msgId, seq: message.seq, ...target, by, recalled_at: now }, now);
      return { msg_id: msgId, seq: message.seq, ...target, recalled_at: now };
    });
    if (prepared) {
      this.systemMessages.publish([prepared]);
      if (this.outbox.eventsEnabled) this.outbox.kick();
    }
    return result;
  }

  /** 403 unless the user sent it within the window or owns / administers its group. */
  private checkAllowed(userId: number, participation: MessageScope, message: LockedMessage, now: number): void {
    const privileged = message.kind === 2 && (message.owner_id === userId || participation.role === 1);
    if (privileged) return;
    if (message.sender_id !== userId) throw ImError.forbidden('only the sender, or the owner and admins of the group, may recall this message');
    // a repeat of a recall that got through (its reply lost) answers 200 even after the window
    if (message.recalled_at === null && windowPassed(message.created_at, this.windowSeconds, now)) {
      throw ImError.forbidden(`the recall window (${this.windowSeconds} s) has passed`);
    }
  }

  private async person(q: Queryable, sender: Sender): Promise<{ app_user_id: string; nickname: string }> {
    const [row] = await q.query<{ nickname: string }>(`SELECT nickname FROM users WHERE id = $1`, [sender.userId]);
    return { app_user_id: sender.appUserId, nickname: row?.nickname ?? '' };
  }
}
