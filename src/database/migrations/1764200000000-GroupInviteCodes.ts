import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every group gets an invite code (PROTOCOL §5): 16 URL-safe characters, joining needs it.
 * The column default draws a fresh code per row from the database's strong random source
 * (gen_random_uuid, hashed and cut to 96 bits, base64url): adding the column fills every existing
 * group with its own code, and a row written by SQL alone (a tool, a fixture) still gets one. The
 * server draws its codes with crypto.randomBytes (GroupsService) and does not rely on the default.
 */
export class GroupInviteCodes1764200000000 implements MigrationInterface {
  name = 'GroupInviteCodes1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE groups ADD COLUMN invite_code varchar(16) NOT NULL
        DEFAULT translate(encode(substring(sha256(convert_to(gen_random_uuid()::text, 'UTF8')) FROM 1 FOR 12), 'base64'), '+/', '-_')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE groups DROP COLUMN invite_code`);
  }
}
