import { MigrationInterface, QueryRunner } from 'typeorm';
import { searchTokensParam, searchTokensSql } from '../../search/search-index';

/** Rows tokenized per statement while filling in messages stored before this migration. */
const BACKFILL_BATCH = 2000;

/**
 * Search (PROTOCOL §12, docs/search.md): `messages.search_tokens` holds the lexemes the application's
 * tokenizer (src/search/tokenizer.ts) made of a text message or a file name, as a tsvector with a GIN
 * index. NULL = nothing searchable (other types, recalled messages). Existing messages are tokenized here,
 * in batches, by the same code that tokenizes new ones.
 */
export class MessageSearch1764500000002 implements MigrationInterface {
  name = 'MessageSearch1764500000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE messages ADD COLUMN search_tokens tsvector`);
    let after = 0;
    for (;;) {
      const rows: { id: number | string; type: number; content: string; extra: unknown }[] = await q.query(
        `SELECT id, type, content, extra FROM messages WHERE id > $1 AND type IN (1, 8) AND recalled_at IS NULL ORDER BY id LIMIT ${BACKFILL_BATCH}`,
        [after],
      );
      if (rows.length === 0) break;
      after = Number(rows[rows.length - 1].id);
      await q.query(
        `UPDATE messages SET search_tokens = ${searchTokensSql('t.tokens')}
         FROM unnest($1::bigint[], $2::text[]) AS t(id, tokens) WHERE messages.id = t.id AND t.tokens IS NOT NULL`,
        [rows.map((row) => row.id), rows.map((row) => searchTokensParam(row.type, row.content, row.extra))],
      );
    }
    await q.query(`CREATE INDEX messages_search ON messages USING gin (search_tokens)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX messages_search`);
    await q.query(`ALTER TABLE messages DROP COLUMN search_tokens`);
  }
}
