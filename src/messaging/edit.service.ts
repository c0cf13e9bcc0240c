import { conversationKey, WebhookOutbox } from '../webhooks/outbox';
import { Injectable } from '@nestjs/common';
import { ImCode, ImError } from '../common/im-error';
import { AppConfig } from '../config/app-config';
import { Db, Queryable } from '../database/db';
import { PreparedSystemMessage, SystemMessageService, SystemMessageType } from '../system-messages/system-messages.service';
import { LifecycleAccess, messageTarget, MessageScope, windowPassed } from './lifecycle-access';
import { hasRefs, MessageRefs, Mentions, ReaderView, refRequestOf } from './message-refs';
import { MessageLimits, validateMessage } from './message-rules';
import { Sender } from './messaging.service';
import { searchTokensParam, searchTokensSql } from '../search/search-index';

/** The edit reply `data` (and, with group_id / to_app_user_id, the `extra` of type 21). */
export interface EditResult {
  msg_id: number;
  seq: number;
  content: string;
  extra: Record<string, unknown>;
  edited_at: number;
}

/** One version of a text in `editHistory`. */
export interface EditVersion {
  content: string;
  extra: Record<string, unknown>;
  edited_at: number;
}

/** Edit and editHistory (PROTOCOL §4 "Edit"). */
@Injectable()
export class EditService {
  private readonly windowSeconds: number;
  private readonly limits: MessageLimits;

  constructor(
    private readonly db: Db,
    private readonly access: LifecycleAccess,
    private readonly refs: MessageRefs,
    private readonly systemMessages: SystemMessageService,
    private readonly outbox: WebhookOutbox,
    config: AppConfig,
  ) {
    this.windowSeconds = config.EDIT_WINDOW_SECONDS;
    this.limits = { maxTextChars: config.MAX_TEXT_CHARS, maxExtraBytes: config.MAX_EXTRA_BYTES, thumbUrlTemplate: config.THUMB_URL_TEMPLATE, mediaBaseUrl: config.mediaBaseUrl };
  }

  /**
   * `edit`: the sender's own text (type 1) within the window, not recalled (404). `content` is
   * validated as for type 1; an `extra` replaces the old one (its reply_to is resolved again, its mentions
   * checked again and stored); without `extra` the old one stays. The replaced version goes to
   * message_edits in the same transaction, under the message's row lock: racing edits queue, none is lost.
   */
  async edit(sender: Sender, request: Record<string, unknown>): Promise<{ data: EditResult; group_id?: string }> {
    const msgId = this.access.msgIdOf(request);
    const hasExtra = request.extra !== undefined && request.extra !== null;
    const text = validateMessage({ type: 1, content: request.content, extra: request.extra }, this.limits);
    const inGroup = request.group_id !== undefined && request.group_id !== null;
    const refRequest = hasExtra ? refRequestOf(text.extra, inGroup, true) : undefined;
    const participation = await this.access.scope(sender.userId, request, msgId);
    const now = Date.now();
    let prepared: PreparedSystemMessage | undefined;
    const data = await this.db.transaction(async (tx) => {
      const message = await this.access.messageIn(tx, participation, msgId, true);
      if (message.recalled_at !== null) throw ImError.notFound(`message ${msgId} was recalled`);
      if (message.sender_id !== sender.userId) throw ImError.forbidden('only the sender may edit a message');
      if (message.type !== 1) throw ImError.badRequest('msg_id: only text messages (type 1) can be edited');
      if (windowPassed(message.created_at, this.windowSeconds, now)) throw ImError.forbidden(`the edit window (${this.windowSeconds} s) has passed`);

      // an edit posts new text: refused like a send to a muted member, in a banned_to_post group (403) or to a peer who blacklisted the sender (811)
      const view =
        participation.groupId !== undefined
          ? await this.refs.groupView(sender.userId, participation.groupId, now, tx)
          : await this.directView(tx, sender.userId, participation);
      let extra = message.extra;
      let mentions: Mentions | undefined;
      if (refRequest) {
        extra = text.extra;
        mentions = hasRefs(refRequest) ? await this.refs.resolve(view, refRequest, extra, tx) : { mentionIds: null, mentionAll: false };
      }
      // edits of one message get increasing times even within one millisecond
      const editedAt = Math.max(now, (message.edited_at ?? message.created_at) + 1);
      await tx.query(`INSERT INTO message_edits (msg_id, content, extra, edited_at) VALUES ($1, $2, $3::jsonb, $4)`, [
        msgId,
        message.content,
        JSON.stringify(message.extra),
        message.edited_at ?? message.created_at,
      ]);
      await tx.query(
        `UPDATE messages SET content = $2, extra = $3::jsonb, edited_at = $4,
                mention_ids = CASE WHEN $5::boolean THEN $6::int[] ELSE mention_ids END,
                mention_all = CASE WHEN $5::boolean THEN $7::boolean ELSE mention_all END,
                search_tokens = ${searchTokensSql('$8')}
          WHERE id = $1`,
        [
          msgId,
          text.content,
          JSON.stringify(extra),
          editedAt,
          mentions !== undefined,
          mentions?.mentionIds ?? null,
          mentions?.mentionAll ?? false,
          // search finds the new text, not the old (docs/search.md "Index maintenance")
          searchTokensParam(1, text.content, extra),
        ],
      );
      const result: EditResult = { msg_id: msgId, seq: message.seq, content: text.content, extra, edited_at: editedAt };
      prepared = await this.systemMessages.prepare(tx, {
        type: SystemMessageType.MessageEdited,
        subType: message.kind === 2 ? 'group' : 'personal',
        groupId: participation.groupId !== undefined ? String(participation.groupId) : undefined,
        extra: { ...result, ...messageTarget(message) },
        actorUserId: sender.userId,
        recipients: await this.access.participants(tx, message.conversation_id),
      });
      // the webhook event commits with the edit (docs/webhooks.md)
      await this.outbox.enqueue(tx, 'message.edited', conversationKey(message.conversation_id), { ...result, ...messageTarget(message), app_user_id: sender.appUserId }, now);
      return result;
    });
    if (prepared) {
      this.systemMessages.publish([prepared]);
      if (this.outbox.eventsEnabled) this.outbox.kick();
    }
    return { data, group_id: participation.groupId !== undefined ? String(participation.groupId) : undefined };
  }

  private async directView(tx: Queryable, senderId: number, participation: MessageScope): Promise<ReaderView> {
    const [row] = await tx.query<{ blocked: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM conversation_members cm JOIN blacklist b ON b.user_id = cm.user_id AND b.blocked_user_id = $2
                       WHERE cm.conversation_id = $1 AND cm.user_id <> $2) AS blocked`,
      [participation.conversationId, senderId],
    );
    if (row?.blocked) throw new ImError(ImCode.Blacklisted, 'the recipient has blacklisted you');
    return { conversationId: participation.conversationId, fromSeq: participation.fromSeq, mayMentionAll: false, isGroup: false };
  }

  /**
   * `editHistory`: every version of the text, oldest first — the original (edited_at = when it was
   * sent), each later one, and the current one last (a never-edited message has one version). For
   * participants who can read the message (after their join and clear positions); recalled: 404.
   */
  async editHistory(reader: Sender, request: Record<string, unknown>): Promise<{ data: { versions: EditVersion[] }; group_id?: string }> {
    const msgId = this.access.msgIdOf(request);
    const participation = await this.access.scope(reader.userId, request, msgId);
    const message = await this.access.messageIn(this.db, participation, msgId, false);
    if (message.recalled_at !== null || message.seq <= participation.fromSeq) throw ImError.notFound(`no such message: ${msgId}`);
    // one statement, one snapshot: an edit committing meanwhile is either wholly in it or not at all
    const versions = await this.db.query<EditVersion>(
      `SELECT content, extra, edited_at FROM (
         SELECT id, content, extra, edited_at FROM message_edits WHERE msg_id = $1
         UNION ALL
         SELECT 9223372036854775807, content, extra, COALESCE(edited_at, created_at) FROM messages WHERE id = $1 AND recalled_at IS NULL
       ) v ORDER BY id`,
      [msgId],
    );
    if (versions.length === 0) throw ImError.notFound(`no such message: ${msgId}`);
    return { data: { versions }, group_id: participation.groupId !== undefined ? String(participation.groupId) : undefined };
  }
}
