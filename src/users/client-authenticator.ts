import { Injectable } from '@nestjs/common';
import { IncomingMessage } from 'http';
import { TokenService } from '../auth/token.service';
import { CoalescingLoader } from '../database/coalescing-loader';
import { AuthenticatedUser } from '../realtime/connection';
import { User, UsersService } from './users.service';

/** Decides during the WebSocket upgrade who is connecting: a valid token of an enabled user. */
@Injectable()
export class ClientAuthenticator {
  /** A connect storm looks its users up in a few statements, not one round trip per socket. */
  private readonly usersById: CoalescingLoader<number, User>;

  constructor(
    private readonly tokens: TokenService,
    users: UsersService,
  ) {
    this.usersById = new CoalescingLoader(async (ids) => new Map((await users.findManyById(ids)).map((user) => [user.user_id, user])));
  }

  /** The user of a valid token of an enabled user, or null. Throws when the database fails. */
  async authenticateToken(token: string): Promise<AuthenticatedUser | null> {
    const claims = this.tokens.verify(token);
    if (!claims) return null;
    const user = await this.usersById.get(claims.userId);
    if (!user || user.disabled || user.app_user_id !== claims.appUserId) return null;
    return { userId: user.user_id, appUserId: user.app_user_id, tokenExpiresAt: claims.expiresAt };
  }
}

/** The token of an upgrade (Authorization: Bearer, or ?token=); never read from cookies. */
export function tokenOf(request: IncomingMessage): string | null {
  const header = request.headers.authorization;
  const bearer = header && /^Bearer\s+(.+)$/i.exec(header);
  if (bearer) return bearer[1].trim();
  const query = new URL(request.url ?? '/', 'http://localhost').searchParams.get('token');
  return query || null;
}
