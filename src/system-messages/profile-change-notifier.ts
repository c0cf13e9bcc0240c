import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Db } from '../database/db';
import { User, UsersService } from '../users/users.service';
import { SystemMessageService, SystemMessageType } from './system-messages.service';

/**
 * Type 10: when the admin API changes a user's nickname or head, every online user who shares a
 * one-to-one conversation or a (not dissolved) group with them is told. Not stored: a user who is
 * offline sees the new profile in the next message, list or sync anyway.
 */
@Injectable()
export class ProfileChangeNotifier implements OnModuleInit {
  private readonly logger = new Logger('ProfileChangeNotifier');

  constructor(
    private readonly db: Db,
    private readonly users: UsersService,
    private readonly systemMessages: SystemMessageService,
  ) {}

  onModuleInit(): void {
    this.users.onProfileChanged((user) => {
      this.notify(user).catch((error) => this.logger.error(`type 10 for user ${user.user_id} failed: ${(error as Error).message}`));
    });
  }

  /** Users who share a conversation with `userId` (not the user themselves). */
  async contactsOf(userId: number): Promise<number[]> {
    const rows = await this.db.query<{ user_id: number }>(
      `SELECT CASE WHEN c.user_low = $1 THEN c.user_high ELSE c.user_low END AS user_id
         FROM conversations c WHERE c.kind = 1 AND (c.user_low = $1 OR c.user_high = $1)
       UNION
       SELECT other.user_id
         FROM conversation_members mine
         JOIN conversation_members other ON other.conversation_id = mine.conversation_id
         JOIN conversations c ON c.id = mine.conversation_id
         LEFT JOIN groups g ON g.id = c.id
        WHERE mine.user_id = $1 AND (c.kind = 1 OR g.dissolved_at IS NULL)`,
      [userId],
    );
    return rows.map((row) => row.user_id).filter((id) => id !== null && id !== userId);
  }

  async notify(user: User): Promise<void> {
    const recipients = await this.contactsOf(user.user_id);
    if (recipients.length === 0) return;
    await this.systemMessages.emit({
      type: SystemMessageType.UserInfoChanged,
      subType: 'personal',
      extra: { app_user_id: user.app_user_id, nickname: user.nickname, head: user.head },
      actorUserId: 0,
      recipients,
      store: false,
    });
  }
}
