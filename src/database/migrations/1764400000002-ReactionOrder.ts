import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reactions in reactor order (issue 13): history lists per (message, emoji) the count, `me` and the
 * first 10 reactors by (created_at, user_id). This index answers the grouped counts by an index-only
 * scan and each "first 10" by reading 10 index entries, instead of sorting every reactor of the page
 * (bench/reactions-bench.ts: a 100-message page with 32,000 reactions).
 */
export class ReactionOrder1764400000002 implements MigrationInterface {
  name = 'ReactionOrder1764400000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX message_reactions_order ON message_reactions (msg_id, emoji, created_at, user_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX message_reactions_order`);
  }
}
