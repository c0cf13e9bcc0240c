import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The whole data model (DESIGN.md "Data model that makes unread counts exact").
 * unread = conversations.last_seq - conversation_members.read_seq, exact by construction.
 */
export class InitialSchema1764100000000 implements MigrationInterface {
  name = 'InitialSchema1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE server_settings (key text PRIMARY KEY, value text NOT NULL)`);

    await q.query(`
      CREATE TABLE users (
        id serial PRIMARY KEY,
        app_user_id varchar(64) NOT NULL UNIQUE,
        nickname varchar(64) NOT NULL,
        head text NOT NULL DEFAULT '',
        disabled boolean NOT NULL DEFAULT false,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL
      )`);

    await q.query(`
      CREATE TABLE blacklist (
        user_id int NOT NULL REFERENCES users(id),
        blocked_user_id int NOT NULL REFERENCES users(id),
        created_at bigint NOT NULL,
        PRIMARY KEY (user_id, blocked_user_id)
      )`);

    // msg_id: one increasing sequence shared by chat and system messages (PROTOCOL §1).
    await q.query(`CREATE SEQUENCE msg_id_seq`);

    // kind 1 = one-to-one (user_low < user_high), kind 2 = group (its id is the group_id).
    await q.query(`
      CREATE TABLE conversations (
        id bigserial PRIMARY KEY,
        kind smallint NOT NULL,
        user_low int REFERENCES users(id),
        user_high int REFERENCES users(id),
        last_seq int NOT NULL DEFAULT 0,
        last_msg_id bigint,
        last_time bigint,
        CONSTRAINT conversations_direct_pair UNIQUE (user_low, user_high)
      )`);

    await q.query(`
      CREATE TABLE groups (
        id bigint PRIMARY KEY REFERENCES conversations(id),
        group_name varchar(64) NOT NULL,
        cover text NOT NULL DEFAULT '',
        notice varchar(300) NOT NULL DEFAULT '',
        owner_id int NOT NULL REFERENCES users(id),
        banned_to_post smallint NOT NULL DEFAULT 0,
        invite_mode smallint NOT NULL DEFAULT 0,
        created_at bigint NOT NULL,
        dissolved_at bigint
      )`);

    // read_seq: the member's read position; joined_seq: last_seq when they (re)joined, the
    // start of the history they may read.
    await q.query(`
      CREATE TABLE conversation_members (
        conversation_id bigint NOT NULL REFERENCES conversations(id),
        user_id int NOT NULL REFERENCES users(id),
        read_seq int NOT NULL DEFAULT 0,
        joined_seq int NOT NULL DEFAULT 0,
        joined_at bigint NOT NULL,
        PRIMARY KEY (conversation_id, user_id)
      )`);
    await q.query(`CREATE INDEX conversation_members_user ON conversation_members (user_id, conversation_id)`);

    await q.query(`
      CREATE TABLE messages (
        id bigint PRIMARY KEY DEFAULT nextval('msg_id_seq'),
        conversation_id bigint NOT NULL,
        seq int NOT NULL,
        sender_id int NOT NULL,
        nonce varchar(64) NOT NULL,
        type smallint NOT NULL,
        content text NOT NULL,
        extra jsonb NOT NULL,
        created_at bigint NOT NULL,
        CONSTRAINT messages_conversation_seq UNIQUE (conversation_id, seq),
        CONSTRAINT messages_sender_nonce UNIQUE (sender_id, nonce)
      )`);

    // One row per recipient; msg_id is shared by all recipients of one system message.
    await q.query(`
      CREATE TABLE system_messages (
        id bigserial PRIMARY KEY,
        msg_id bigint NOT NULL,
        recipient_id int NOT NULL REFERENCES users(id),
        type smallint NOT NULL,
        frame text NOT NULL,
        created_at bigint NOT NULL,
        delivered_at bigint
      )`);
    await q.query(
      `CREATE INDEX system_messages_undelivered ON system_messages (recipient_id, msg_id) WHERE delivered_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['system_messages', 'messages', 'conversation_members', 'groups', 'conversations', 'blacklist', 'users', 'server_settings']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await q.query(`DROP SEQUENCE IF EXISTS msg_id_seq`);
  }
}
