import { Logger } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'crypto';
import { AppConfig } from '../config/app-config';
import { Queryable } from '../database/db';

/** server_settings key of the SHA-256 (hex) of the generated admin token; the token itself is never stored. */
export const ADMIN_TOKEN_HASH_KEY = 'admin_token_sha256';
/** How long a node trusts the hash it read: a rotation (another process) takes effect within this. */
const REFRESH_MS = 2000;

export const hashAdminToken = (token: string) => createHash('sha256').update(token, 'utf8').digest();
export const newAdminToken = () => randomBytes(32).toString('base64url');

/** Replaces the stored hash with a new token's; returns the token (shown once by the caller). */
export async function rotateAdminToken(db: Queryable): Promise<string> {
  const token = newAdminToken();
  await db.query(`INSERT INTO server_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [
    ADMIN_TOKEN_HASH_KEY,
    hashAdminToken(token).toString('hex'),
  ]);
  return token;
}

/**
 * The bearer token of the admin API (PROTOCOL §9): ADMIN_TOKEN when set; otherwise one generated on
 * the first start, printed once, and kept only as a hash in server_settings, so it stays valid across
 * restarts and on every node. `npm run admin-token -- --rotate` replaces it (src/cli/admin-token.ts).
 */
export class AdminToken {
  private hash?: Buffer;
  private readAt = 0;
  private refreshing?: Promise<void>;

  private constructor(
    private readonly fixed: Buffer | undefined,
    private readonly db: Queryable | undefined,
  ) {
    this.hash = fixed;
  }

  static async fromConfig(config: AppConfig, db: Queryable): Promise<AdminToken> {
    const log = new Logger('AdminToken');
    if (config.ADMIN_TOKEN) return new AdminToken(hashAdminToken(config.ADMIN_TOKEN), undefined);
    const token = newAdminToken();
    const inserted = await db.query(`INSERT INTO server_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key`, [
      ADMIN_TOKEN_HASH_KEY,
      hashAdminToken(token).toString('hex'),
    ]);
    if (inserted.length > 0) {
      // the one time it is ever shown: only its hash is kept
      log.warn(`ADMIN_TOKEN is not set: generated the admin token, shown this once (only its hash is kept; it stays valid across restarts; replace it with npm run admin-token -- --rotate): ${token}`);
    } else {
      log.log('ADMIN_TOKEN is not set: using the admin token generated on the first start (lost it? npm run admin-token -- --rotate)');
    }
    const adminToken = new AdminToken(undefined, db);
    await adminToken.refresh();
    return adminToken;
  }

  /** Whether `given` is the admin token (constant-time on the hashes). */
  async matches(given: string): Promise<boolean> {
    if (!this.fixed && Date.now() - this.readAt > REFRESH_MS) {
      this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
      await this.refreshing;
    }
    const expected = this.hash;
    return expected !== undefined && timingSafeEqual(hashAdminToken(given), expected);
  }

  private async refresh(): Promise<void> {
    const rows = await this.db!.query<{ value: string }>(`SELECT value FROM server_settings WHERE key = $1`, [ADMIN_TOKEN_HASH_KEY]);
    this.hash = rows[0] ? Buffer.from(rows[0].value, 'hex') : undefined;
    this.readAt = Date.now();
  }
}
