import { Injectable } from '@nestjs/common';
import { Db, Queryable } from '../database/db';
import { ImError } from '../common/im-error';
import { Delivery } from '../realtime/delivery';
import { encodeError } from '../realtime/frames';
import { userKey, WebhookOutbox } from '../webhooks/outbox';

/** A user as the admin API shows it. */
export interface User {
  user_id: number;
  app_user_id: string;
  nickname: string;
  head: string;
  disabled: boolean;
}

/** A user as other people see them in messages and lists. */
export interface UserProfile {
  user_id: number;
  app_user_id: string;
  nickname: string;
  head: string;
}

export type ProfileChangedListener = (user: User) => void;

/** Close code for a socket whose token expired or whose user was disabled. */
export const CLOSE_UNAUTHORIZED = 4401;

const USER_COLUMNS = `id AS user_id, app_user_id, nickname, head, disabled`;

@Injectable()
export class UsersService {
  private readonly profileListeners: ProfileChangedListener[] = [];

  constructor(
    private readonly db: Db,
    private readonly delivery: Delivery,
    private readonly outbox: WebhookOutbox,
  ) {}

  /** Called after a nickname or head changed (type-10 system messages hang here). */
  onProfileChanged(listener: ProfileChangedListener): void {
    this.profileListeners.push(listener);
  }

  /** Creates the user, or updates nickname and (when given) head. */
  async upsert(appUserId: string, nickname: string, head: string | undefined): Promise<{ user: User; created: boolean }> {
    const now = Date.now();
    const [previous] = await this.db.query<{ nickname: string; head: string }>(`SELECT nickname, head FROM users WHERE app_user_id = $1`, [appUserId]);
    const rows = await this.db.query<User>(
      `INSERT INTO users (app_user_id, nickname, head, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (app_user_id) DO UPDATE SET nickname = EXCLUDED.nickname,
         head = CASE WHEN $5 THEN EXCLUDED.head ELSE users.head END, updated_at = EXCLUDED.updated_at
       RETURNING ${USER_COLUMNS}`,
      [appUserId, nickname, head ?? '', now, head !== undefined],
    );
    const user = rows[0];
    if (previous && (previous.nickname !== user.nickname || previous.head !== user.head)) {
      for (const listener of this.profileListeners) listener(user);
    }
    return { user, created: !previous };
  }

  async get(appUserId: string): Promise<User> {
    const [user] = await this.db.query<User>(`SELECT ${USER_COLUMNS} FROM users WHERE app_user_id = $1`, [appUserId]);
    if (!user) throw ImError.notFound(`no such user: ${appUserId}`);
    return user;
  }

  /** `q`: pass the transaction when called inside one. */
  /** Users by id (unknown ids are left out), in one prepared statement. */
  async findManyById(userIds: number[]): Promise<User[]> {
    return this.db.queryPrepared<User>('users_by_ids', `SELECT ${USER_COLUMNS} FROM users WHERE id = ANY($1::bigint[])`, [userIds]);
  }

  async findById(userId: number, q: Queryable = this.db): Promise<User | undefined> {
    const [user] = await q.query<User>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [userId]);
    return user;
  }

  /** Profiles by app_user_id; throws 404 naming the first unknown one. `q`: the transaction, inside one. */
  async profilesByAppIds(appUserIds: string[], q: Queryable = this.db): Promise<UserProfile[]> {
    if (appUserIds.length === 0) return [];
    const rows = await q.query<UserProfile>(
      `SELECT id AS user_id, app_user_id, nickname, head FROM users WHERE app_user_id = ANY($1)`,
      [appUserIds],
    );
    const byId = new Map(rows.map((row) => [row.app_user_id, row]));
    const missing = appUserIds.find((id) => !byId.has(id));
    if (missing !== undefined) throw ImError.notFound(`no such user: ${missing}`);
    return appUserIds.map((id) => byId.get(id)!);
  }

  async profile(appUserId: string): Promise<UserProfile> {
    return (await this.profilesByAppIds([appUserId]))[0];
  }

  /** Disables the user: every open socket gets the 401 error frame and closes with 4401. */
  async setDisabled(appUserId: string, disabled: boolean): Promise<User> {
    const now = Date.now();
    const update = (q: Queryable) =>
      q.query<User & { was_disabled: boolean }>(
        `WITH old AS (SELECT id AS old_id, disabled AS was FROM users WHERE app_user_id = $1 FOR UPDATE)
         UPDATE users SET disabled = $2, updated_at = $3 FROM old WHERE users.id = old.old_id
         RETURNING users.id AS user_id, users.app_user_id, users.nickname, users.head, users.disabled, old.was AS was_disabled`,
        [appUserId, disabled, now],
      );
    // the user.disabled event (a change from enabled only) commits with the change (src/webhooks)
    const [row] = this.outbox.eventsEnabled
      ? await this.db.transaction(async (tx) => {
          const rows = await update(tx);
          if (rows[0] && disabled && !rows[0].was_disabled) {
            await this.outbox.enqueue(tx, 'user.disabled', userKey(rows[0].user_id), { app_user_id: rows[0].app_user_id, nickname: rows[0].nickname }, now);
          }
          return rows;
        })
      : await update(this.db);
    if (!row) throw ImError.notFound(`no such user: ${appUserId}`);
    const { was_disabled: _was, ...user } = row;
    if (this.outbox.eventsEnabled && disabled && !_was) this.outbox.kick();
    if (disabled) this.delivery.closeUser(user.user_id, encodeError(401, 'user disabled'), CLOSE_UNAUTHORIZED, 'user disabled');
    return user;
  }
}
