import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Message lifecycle (PROTOCOL §4 "Replies and mentions" to "Clear history"):
 * - `messages.recalled_at`: set once on recall; the row keeps its id and seq, content/extra are erased.
 * - `messages.edited_at`: time of the latest edit; earlier versions live in `message_edits`.
 * - `messages.mention_ids` / `mention_all`: who a group message mentions, for `mention_count`.
 * - `conversation_members.cleared_seq`: the user's clearHistory position (history and search hide
 *   every message with seq ≤ it).
 * - `message_reactions`: one row per (message, user, emoji).
 */
export class MessageLifecycle1764400000000 implements MigrationInterface {
  name = 'MessageLifecycle1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE messages ADD COLUMN recalled_at bigint`);
    await q.query(`ALTER TABLE messages ADD COLUMN edited_at bigint`);
    await q.query(`ALTER TABLE messages ADD COLUMN mention_ids int[]`);
    await q.query(`ALTER TABLE messages ADD COLUMN mention_all boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE conversation_members ADD COLUMN cleared_seq int NOT NULL DEFAULT 0`);
    await q.query(`
      CREATE TABLE message_edits (
        id bigserial PRIMARY KEY,
        msg_id bigint NOT NULL REFERENCES messages(id),
        content text NOT NULL,
        extra jsonb NOT NULL,
        edited_at bigint NOT NULL
      )`);
    await q.query(`CREATE INDEX message_edits_msg ON message_edits (msg_id, id)`);
    await q.query(`
      CREATE TABLE message_reactions (
        msg_id bigint NOT NULL REFERENCES messages(id),
        user_id int NOT NULL REFERENCES users(id),
        emoji text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (msg_id, emoji, user_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE message_reactions`);
    await q.query(`DROP TABLE message_edits`);
    await q.query(`ALTER TABLE conversation_members DROP COLUMN cleared_seq`);
    for (const column of ['mention_all', 'mention_ids', 'edited_at', 'recalled_at']) {
      await q.query(`ALTER TABLE messages DROP COLUMN ${column}`);
    }
  }
}
