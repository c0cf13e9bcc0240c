import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Group admins and member mutes (PROTOCOL §5): per membership, `role` (0 member, 1 admin; the owner is
 * groups.owner_id, whatever its row says) and `muted_until` (ms since the epoch; 0 or a past time = not
 * muted: the mute ends by time, checked when a message is stored, never by a timer).
 */
export class GroupRolesAndMutes1764300000000 implements MigrationInterface {
  name = 'GroupRolesAndMutes1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE conversation_members ADD COLUMN role smallint NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE conversation_members ADD COLUMN muted_until bigint NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE conversation_members DROP COLUMN muted_until`);
    await q.query(`ALTER TABLE conversation_members DROP COLUMN role`);
  }
}
