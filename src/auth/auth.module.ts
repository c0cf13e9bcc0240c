import { Global, Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { AppConfig } from '../config/app-config';
import { AdminToken } from './admin-token';
import { Db } from '../database/db';
import { AdminGuard } from './admin.guard';
import { TokenService } from './token.service';

/** Global: every admin controller uses AdminGuard. */
@Global()
@Module({
  imports: [JwtModule.register({})],
  providers: [TokenService, AdminGuard, { provide: AdminToken, useFactory: AdminToken.fromConfig, inject: [AppConfig, Db] }],
  exports: [TokenService, AdminGuard, AdminToken],
})
export class AuthModule {}
