import { Injectable, OnModuleInit } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createSecretKey, KeyObject, randomBytes } from 'crypto';
import { Db } from '../database/db';
import { AppConfig } from '../config/app-config';

export interface ClientTokenClaims {
  userId: number;
  appUserId: string;
  /** ms since the epoch */
  expiresAt: number;
}

interface JwtPayload {
  sub: string;
  uid: number;
  exp: number;
}

/**
 * Signs and verifies client tokens (JWT, HS256). Without TOKEN_SECRET the key is made once and kept
 * in the database (server_settings), so tokens survive restarts and every node shares the key.
 */
@Injectable()
export class TokenService implements OnModuleInit {
  /**
   * The HS256 key as a prepared KeyObject: given a string, jsonwebtoken first tries to parse it as a
   * public key (createPublicKey, which throws) on every sign and verify — most of a connect's CPU.
   */
  private secret?: KeyObject;

  constructor(
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
    private readonly db: Db,
  ) {}

  async onModuleInit(): Promise<void> {
    this.secret = createSecretKey(Buffer.from(this.config.TOKEN_SECRET ?? (await this.storedSecret()), 'utf8'));
  }

  private async storedSecret(): Promise<string> {
    await this.db.query(`INSERT INTO server_settings (key, value) VALUES ('token_secret', $1) ON CONFLICT (key) DO NOTHING`, [
      randomBytes(48).toString('base64url'),
    ]);
    const rows = await this.db.query<{ value: string }>(`SELECT value FROM server_settings WHERE key = 'token_secret'`);
    return rows[0].value;
  }

  issue(userId: number, appUserId: string, ttlSeconds: number): { token: string; expires_at: number } {
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    const token = this.jwt.sign({ sub: appUserId, uid: userId, exp } satisfies JwtPayload, { secret: this.secret as unknown as string, algorithm: 'HS256' });
    return { token, expires_at: exp * 1000 };
  }

  /** The claims of a valid token, or null for a forged, malformed or expired one. */
  verify(token: string): ClientTokenClaims | null {
    try {
      const payload = this.jwt.verify<JwtPayload>(token, { secret: this.secret as unknown as string, algorithms: ['HS256'] });
      // a token without an expiry would be valid for ever (PROTOCOL §2: tokens always carry one)
      if (!Number.isInteger(payload.uid) || typeof payload.sub !== 'string' || !Number.isFinite(payload.exp)) return null;
      return { userId: payload.uid, appUserId: payload.sub, expiresAt: payload.exp * 1000 };
    } catch {
      return null;
    }
  }
}
