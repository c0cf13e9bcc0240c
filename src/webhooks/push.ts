import { Injectable, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Db } from '../database/db';
import { Presence } from '../presence/presence';
import { lastMessagePreview, TEXT_PREVIEW_CHARS } from '../sync/preview';
import type { OutboxRow } from './dispatcher';
import { Sink } from './outbox';

/** Recipients per offline push call (PROTOCOL §11). */
export const PUSH_BATCH = 1000;

interface MessageRow {
  id: number;
  seq: number;
  type: number;
  preview: string | null;
  file_name: string | null;
  sender_id: number;
  recalled_at: number | null;
  mention_ids: number[] | null;
  mention_all: boolean;
  kind: number;
  conversation_id: number;
  app_user_id: string;
  nickname: string;
  head: string;
  group_name: string | null;
  dissolved_at: number | null;
}

const MESSAGE = `
  SELECT m.id, m.seq, m.type, CASE WHEN m.type = 1 THEN left(m.content, ${TEXT_PREVIEW_CHARS}) END AS preview,
         CASE WHEN m.type = 8 THEN m.extra->>'file_name' END AS file_name,
         m.sender_id, m.recalled_at, m.mention_ids, m.mention_all, c.kind, c.id AS conversation_id,
         s.app_user_id, s.nickname, s.head, g.group_name, g.dissolved_at
  FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN users s ON s.id = m.sender_id
  LEFT JOIN groups g ON c.kind = 2 AND g.id = c.id
  WHERE m.id = $1`;

/** Who could get a push: the other participants who have not muted the conversation, are not disabled, and have not read the message yet. */
const CANDIDATES = `
  SELECT cm.user_id, u.app_user_id FROM conversation_members cm JOIN users u ON u.id = cm.user_id
  WHERE cm.conversation_id = $1 AND cm.user_id <> $2 AND NOT cm.muted AND NOT u.disabled AND cm.read_seq < $3
  ORDER BY cm.user_id`;

/**
 * Each user's total unread count over the conversations they have not muted (the badge): messages
 * after their read position, not their own, not recalled, in conversations they take part in
 * (groups not dissolved) — counted, not derived from seq, so it stays exact with recalls.
 */
const BADGES = `
  SELECT cm.user_id, COALESCE(sum(x.n), 0)::int AS badge
  FROM conversation_members cm
  JOIN conversations c ON c.id = cm.conversation_id
  LEFT JOIN groups g ON c.kind = 2 AND g.id = c.id
  CROSS JOIN LATERAL (
    SELECT count(*) AS n FROM messages x
    WHERE x.conversation_id = cm.conversation_id AND x.seq > cm.read_seq AND x.sender_id <> cm.user_id AND x.recalled_at IS NULL
  ) x
  WHERE cm.user_id = ANY($1::int[]) AND NOT cm.muted AND c.last_seq > cm.read_seq AND (c.kind = 1 OR g.dissolved_at IS NULL)
  GROUP BY cm.user_id`;

/**
 * Turns an offline push job (a webhook_outbox row with `msg_id`, written with the message) into its
 * calls: the recipients with no connection on any node (Presence) who have not muted the
 * conversation, each with their badge, at most PUSH_BATCH per call. Decided when the job runs, not at
 * send time: the send path stays free of a presence round trip, and a push that waited (receiver down)
 * goes only to who is still offline, with the badge they have now. The job row is replaced by the
 * call rows in one transaction, so each call keeps one event id across its retries.
 */
@Injectable()
export class OfflinePushResolver implements OnModuleInit {
  private presence!: Presence;

  constructor(
    private readonly db: Db,
    private readonly modules: ModuleRef,
  ) {}

  onModuleInit(): void {
    // PresenceModule is configured per start (local or Redis) and not global: found, not imported
    this.presence = this.modules.get(Presence, { strict: false });
  }

  async resolve(job: OutboxRow): Promise<void> {
    const bodies = await this.bodies(job.msg_id!);
    await this.db.transaction(async (tx) => {
      // only while this node still holds the job's lease (another node may have taken it over)
      const held = await tx.query(`DELETE FROM webhook_outbox WHERE id = $1 AND locked_until = $2 RETURNING id`, [job.id, job.locked_until]);
      if (held.length === 0 || bodies.length === 0) return;
      await tx.query(
        `INSERT INTO webhook_outbox (sink, event, ordering_key, body, created_at, next_at)
         SELECT ${Sink.Push}, 'message.offline', $1, b, $2, $3 FROM unnest($4::text[]) WITH ORDINALITY AS t(b, o) ORDER BY o`,
        [job.ordering_key, job.created_at, Date.now(), bodies],
      );
    });
  }

  /** The bodies of the push calls for this message (none when nobody is offline, or it was recalled). */
  private async bodies(msgId: number): Promise<string[]> {
    const [message] = await this.db.query<MessageRow>(MESSAGE, [msgId]);
    if (!message || message.recalled_at !== null || message.dissolved_at !== null) return [];
    const candidates = await this.db.query<{ user_id: number; app_user_id: string }>(CANDIDATES, [message.conversation_id, message.sender_id, message.seq]);
    if (candidates.length === 0) return [];
    const online = await this.presence.isOnline(candidates.map((candidate) => candidate.user_id));
    const offline = candidates.filter((candidate) => online.get(candidate.user_id) !== true);
    if (offline.length === 0) return [];
    const badges = new Map(
      (await this.db.query<{ user_id: number; badge: number }>(BADGES, [offline.map((user) => user.user_id)])).map((row) => [row.user_id, row.badge]),
    );
    const mentioned = new Set(message.mention_ids ?? []);
    const bodies: string[] = [];
    for (let start = 0; start < offline.length; start += PUSH_BATCH) {
      const batch = offline.slice(start, start + PUSH_BATCH);
      const target = message.kind === 2 ? { group_id: String(message.conversation_id), group_name: message.group_name } : { to_app_user_id: batch[0].app_user_id };
      bodies.push(
        JSON.stringify({
          event: 'message.offline',
          message: {
            msg_id: message.id,
            seq: message.seq,
            type: message.type,
            preview: lastMessagePreview(message.type, message.preview, message.file_name),
            sender: { app_user_id: message.app_user_id, nickname: message.nickname, head: message.head },
            ...target,
            mentions_me: batch.filter((user) => message.mention_all || mentioned.has(user.user_id)).map((user) => user.app_user_id),
          },
          recipients: batch.map((user) => ({ app_user_id: user.app_user_id, badge: badges.get(user.user_id) ?? 0 })),
        }),
      );
    }
    return bodies;
  }
}
