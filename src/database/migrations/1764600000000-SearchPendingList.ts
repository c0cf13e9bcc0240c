import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bounds the search index's pending list (GIN "fastupdate") at 256 kB instead of PostgreSQL's 4 MB
 * default. New entries are appended to that list and merged into the index by whichever insert finds
 * it full: with 4 MB that merge took ~60 ms every ~4 s of sending (measured with the set statement of
 * send-store.ts alone on this machine: 29k msg/s, p50 3 ms), and every send waiting on that statement
 * waited with it. 256 kB merges sixteen times as often in a sixteenth of the time, at the same
 * throughput, so no single send pays for the whole list. (fastupdate off measured 5-10 % slower.)
 */
export class SearchPendingList1764600000000 implements MigrationInterface {
  name = 'SearchPendingList1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER INDEX messages_search SET (gin_pending_list_limit = 256)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER INDEX messages_search RESET (gin_pending_list_limit)`);
  }
}
