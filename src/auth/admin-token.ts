import { Logger } from '@nestjs/common';
import { randomBytes } from 'crypto';
import { AppConfig } from '../config/app-config';

/** The bearer token of the admin API: ADMIN_TOKEN, or a random one made at start and logged once. */
export class AdminToken {
  constructor(readonly value: string) {}

  static fromConfig(config: AppConfig): AdminToken {
    if (config.ADMIN_TOKEN) return new AdminToken(config.ADMIN_TOKEN);
    const value = randomBytes(24).toString('base64url');
    new Logger('AdminToken').warn(`ADMIN_TOKEN is not set; this run's admin token is: ${value}`);
    return new AdminToken(value);
  }
}
