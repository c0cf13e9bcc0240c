import { Injectable } from '@nestjs/common';
import { IncomingMessage } from 'http';
import { TokenService } from '../auth/token.service';
import { AuthenticatedUser } from '../realtime/connection';
import { UsersService } from './users.service';

/** Decides during the WebSocket upgrade who is connecting: a valid token of an enabled user. */
@Injectable()
export class ClientAuthenticator {
  constructor(
    private readonly tokens: TokenService,
    private readonly users: UsersService,
  ) {}

  /** The user of a valid token of an enabled user, or null. Throws when the database fails. */
  async authenticateToken(token: string): Promise<AuthenticatedUser | null> {
    const claims = this.tokens.verify(token);
    if (!claims) return null;
    const user = await this.users.findById(claims.userId);
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
