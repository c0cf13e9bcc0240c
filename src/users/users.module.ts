import { Module } from '@nestjs/common';
import { BlacklistService } from './blacklist.service';
import { ClientAuthenticator } from './client-authenticator';
import { UsersAdminController } from './users.admin.controller';
import { UsersService } from './users.service';

@Module({
  controllers: [UsersAdminController],
  providers: [UsersService, BlacklistService, ClientAuthenticator],
  exports: [UsersService, BlacklistService, ClientAuthenticator],
})
export class UsersModule {}
