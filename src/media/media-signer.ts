import { Injectable, OnModuleInit } from '@nestjs/common';
import { createHmac, randomBytes, timingSafeEqual } from 'crypto';
import { Db } from '../database/db';

/**
 * Signs local upload URLs: HMAC-SHA256 over key, size, content type, expiry and file name, so a client can PUT
 * exactly the file it announced, once the server said yes. The key is made once and kept in
 * server_settings (`media_secret`), so every node accepts every node's URLs and restarts keep them valid.
 */
@Injectable()
export class MediaSigner implements OnModuleInit {
  private secret?: Buffer;

  constructor(private readonly db: Db) {}

  async onModuleInit(): Promise<void> {
    await this.db.query(`INSERT INTO server_settings (key, value) VALUES ('media_secret', $1) ON CONFLICT (key) DO NOTHING`, [randomBytes(32).toString('base64url')]);
    const rows = await this.db.query<{ value: string }>(`SELECT value FROM server_settings WHERE key = 'media_secret'`);
    this.secret = Buffer.from(rows[0].value, 'utf8');
  }

  /** `fileName` (the download name kept with the file) is signed too, as "" when there is none. */
  sign(key: string, size: number, contentType: string, expiresAt: number, fileName = ''): string {
    return createHmac('sha256', this.secret!).update(`${key}\n${size}\n${contentType}\n${expiresAt}\n${fileName}`).digest('base64url');
  }

  verify(key: string, size: number, contentType: string, expiresAt: number, fileName: string | undefined, signature: string): boolean {
    const expected = Buffer.from(this.sign(key, size, contentType, expiresAt, fileName));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
