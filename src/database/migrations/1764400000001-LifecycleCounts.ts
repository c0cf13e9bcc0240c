import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The messages that make `count` and `mention_count` differ from `last_seq - read_seq` (PROTOCOL §6):
 * recalled ones and ones that mention someone. Sync reads, per unread conversation, only this index's
 * entries after the reader's position — a few percent of the messages — never the messages themselves.
 */
export class LifecycleCounts1764400000001 implements MigrationInterface {
  name = 'LifecycleCounts1764400000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE INDEX messages_counted ON messages (conversation_id, seq)
        INCLUDE (sender_id, recalled_at, mention_all, mention_ids)
        WHERE recalled_at IS NOT NULL OR mention_all OR mention_ids IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX messages_counted`);
  }
}
