import { Injectable } from '@nestjs/common';
import { Db } from '../database/db';
import { Presence } from './presence';

/** Answers "who of these is online", by app_user_id. */
@Injectable()
export class PresenceService {
  constructor(
    private readonly db: Db,
    private readonly presence: Presence,
  ) {}

  /**
   * `{app_user_id: online}` for each requested id (duplicates collapse). An unknown app_user_id is
   * answered `false` rather than failing the whole request: it has no open connection, and the
   * answer does not tell which ids exist.
   */
  async online(appUserIds: string[]): Promise<Record<string, boolean>> {
    const unique = [...new Set(appUserIds)];
    const rows = await this.db.query<{ id: number; app_user_id: string }>(`SELECT id, app_user_id FROM users WHERE app_user_id = ANY($1)`, [unique]);
    const idOf = new Map(rows.map((row) => [row.app_user_id, row.id]));
    const states = await this.presence.isOnline(rows.map((row) => row.id));
    const online: Record<string, boolean> = {};
    for (const appUserId of unique) {
      const userId = idOf.get(appUserId);
      online[appUserId] = userId !== undefined && states.get(userId) === true;
    }
    return online;
  }
}
