import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-user conversation settings (PROTOCOL §6 "Conversation settings"): `muted` and `pinned` on the
 * user's membership row of the conversation (one-to-one and group alike).
 */
export class ConversationSettings1764300000001 implements MigrationInterface {
  name = 'ConversationSettings1764300000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE conversation_members ADD COLUMN muted boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE conversation_members ADD COLUMN pinned boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE conversation_members DROP COLUMN pinned`);
    await q.query(`ALTER TABLE conversation_members DROP COLUMN muted`);
  }
}
