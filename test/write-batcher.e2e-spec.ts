import { WriteBatcher } from '../src/database/write-batcher';
import { startTestServer, TestServer } from './support/server';
import { dataOf } from './support/ws-client';

describe('group commit of sends (WriteBatcher)', () => {
  let t: TestServer;
  let batcher: WriteBatcher;

  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_SEC: '0' });
    batcher = t.server.app.get(WriteBatcher);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    await t.reset();
    await t.sql('DROP TABLE IF EXISTS batch_probe');
    await t.sql('CREATE TABLE batch_probe (id int PRIMARY KEY, body text NOT NULL)');
  });

  it('gives each queued statement its own rows, and a failing one its own error, committing the others once', async () => {
    const runs = Array.from({ length: 60 }, (_, i) =>
      batcher.run<{ id: number; body: string }>(
        i === 37 ? 'INSERT INTO batch_probe (id, body) VALUES ($1, $2 / 0) RETURNING id, body' : 'INSERT INTO batch_probe (id, body) VALUES ($1, $2) RETURNING id, body',
        [i, `row ${i} with 'quotes', back\\slash, $1 and ✓`],
        `k${i % 7}`,
      ),
    );
    const failedBefore = batcher.stats.failedBatches;
    const settled = await Promise.allSettled(runs);
    expect(batcher.stats.failedBatches).toBe(failedBefore + 1); // #37 sank its batch; the others were re-run alone
    settled.forEach((result, i) => {
      if (i === 37) {
        expect(result.status).toBe('rejected');
      } else {
        expect(result).toEqual({ status: 'fulfilled', value: [{ id: i, body: `row ${i} with 'quotes', back\\slash, $1 and ✓` }] });
      }
    });
    const [{ count }] = await t.sql<{ count: number }>('SELECT count(*)::int AS count FROM batch_probe');
    expect(count).toBe(59);
  });

  it('stores concurrent chats with awkward text exactly once each, gap-free per conversation, msg_id in seq order', async () => {
    const senders = await Promise.all(['ann', 'ben', 'cat'].map((id) => t.connect(id)));
    await t.admin.putUser('zed');
    // array-literal syntax too (the batch's fields travel as array literals): braces, commas, NULL, edge quotes
    const awkward = ['NULL', '{a,b}', ' "', '\\"', 'x,y}', ' lead and trail '];
    const texts = Array.from({ length: 90 }, (_, i) => (i % 4 === 3 ? awkward[i % awkward.length] : `#${i} it's "quoted" \\ back\\slash $1 $$ 🙂 ${'é'.repeat(i % 5)}`));
    const batchedBefore = batcher.stats.batchedStatements;
    const replies = await Promise.all(texts.map((content, i) => senders[i % 3].request('chat', { type: 1, content, app_user_ids: 'zed' })));
    expect(replies.every((reply) => reply.code === 200)).toBe(true);
    expect(batcher.stats.batchedStatements).toBeGreaterThan(batchedBefore); // some shared a COMMIT
    replies.forEach((reply, i) => expect(dataOf(reply).content).toBe(texts[i]));

    const rows = await t.sql<{ id: number; seq: number; conversation_id: number; content: string }>(
      'SELECT id, seq, conversation_id, content FROM messages ORDER BY conversation_id, seq',
    );
    expect(rows).toHaveLength(90);
    expect(new Set(rows.map((row) => row.content))).toEqual(new Set(texts));
    for (const conversation of new Set(rows.map((row) => row.conversation_id))) {
      const mine = rows.filter((row) => row.conversation_id === conversation);
      expect(mine.map((row) => row.seq)).toEqual(mine.map((_, i) => i + 1));
      const ids = mine.map((row) => row.id);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    }
  });
});
