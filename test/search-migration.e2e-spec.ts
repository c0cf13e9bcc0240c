import { MIGRATIONS } from '../src/database/data-source-options';
import { MessageSearch1764500000002 } from '../src/database/migrations/1764500000002-MessageSearch';
import { parseQuery } from '../src/search/tokenizer';
import { MigrationDatabase, migrationDatabase } from './support/migration-database';

/**
 * MessageSearch tokenizes the messages stored before it, with the tokenizer new messages use. On
 * PostgreSQL (DATABASE_URL) in a schema of its own, otherwise on a fresh embedded database.
 */
describe('MessageSearch migration on a database that already holds messages', () => {
  let db: MigrationDatabase;
  const migrate = (count: number) => db.migrate(count);

  beforeAll(async () => {
    db = await migrationDatabase('search_migration');
  }, 180_000);
  afterAll(() => db?.close());

  it('gives text messages and file names their lexemes, other types and recalled messages none', async () => {
    const before = await migrate(MIGRATIONS.indexOf(MessageSearch1764500000002));
    const now = Date.now();
    await before.query(`INSERT INTO users (app_user_id, nickname, created_at, updated_at) VALUES ('a', 'A', $1, $1), ('b', 'B', $1, $1)`, [now]);
    await before.query(`INSERT INTO conversations (kind, user_low, user_high, last_seq) VALUES (1, 1, 2, 4)`);
    const rows: Array<[number, string, object, number | null]> = [
      [1, '秋の夜、鈴虫が鳴く', {}, null],
      [8, '', { file_name: 'Quarterly_Report.pdf', file_size: 1, etag: 'e' }, null],
      [4, 'report', { latitude: 1, longitude: 2 }, null],
      [1, 'recalled report', {}, now],
    ];
    for (const [i, [type, content, extra, recalledAt]] of rows.entries()) {
      await before.query(
        `INSERT INTO messages (conversation_id, seq, sender_id, nonce, type, content, extra, created_at, recalled_at) VALUES (1, $1, 1, $2, $3, $4, $5, $6, $7)`,
        [i + 1, `n${i}`, type, content, JSON.stringify(extra), now, recalledAt],
      );
    }
    await before.destroy();

    const after = await migrate(MIGRATIONS.length);
    try {
      const found = async (query: string) =>
        (await after.query(`SELECT seq FROM messages WHERE search_tokens @@ $1::tsquery ORDER BY seq`, [parseQuery(query)!.tsquery])).map((row: { seq: number }) => row.seq);
      expect(await found('鈴虫')).toEqual([1]);
      expect(await found('鳴')).toEqual([1]);
      expect(await found('report')).toEqual([2]);
      expect(await found('quarterly pdf')).toEqual([2]);
      expect(await after.query(`SELECT seq FROM messages WHERE search_tokens IS NULL ORDER BY seq`)).toEqual([{ seq: 3 }, { seq: 4 }]);
      expect(await after.query(`SELECT indexname FROM pg_indexes WHERE indexname = 'messages_search' AND schemaname = current_schema()`)).toHaveLength(1);
    } finally {
      await after.destroy();
    }
  });
});
