import { Injectable } from '@nestjs/common';
import { ImError } from '../common/im-error';
import { Db } from '../database/db';
import { UsersService } from './users.service';

/** Who blocked whom. While B blocks A, A's one-to-one messages to B are refused (811). */
@Injectable()
export class BlacklistService {
  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
  ) {}

  async block(userId: number, otherAppUserId: string): Promise<void> {
    const other = await this.users.profile(otherAppUserId);
    if (other.user_id === userId) throw ImError.badRequest('app_user_ids: cannot block yourself');
    await this.db.query(
      `INSERT INTO blacklist (user_id, blocked_user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [userId, other.user_id, Date.now()],
    );
  }

  async unblock(userId: number, otherAppUserId: string): Promise<void> {
    const other = await this.users.profile(otherAppUserId);
    await this.db.query(`DELETE FROM blacklist WHERE user_id = $1 AND blocked_user_id = $2`, [userId, other.user_id]);
  }

  async isBlocked(byUserId: number, userId: number): Promise<boolean> {
    const rows = await this.db.query(`SELECT 1 FROM blacklist WHERE user_id = $1 AND blocked_user_id = $2`, [byUserId, userId]);
    return rows.length > 0;
  }
}
