import { Module } from '@nestjs/common';
import { SystemMessagesModule } from '../system-messages/system-messages.module';
import { UsersModule } from '../users/users.module';
import { GroupsAdminController } from './groups.admin.controller';
import { GroupsGateway } from './groups.gateway';
import { GroupsService } from './groups.service';

/** Groups over WebSocket (GroupsGateway) and admin REST (GroupsAdminController), one GroupsService. */
@Module({
  imports: [UsersModule, SystemMessagesModule],
  controllers: [GroupsAdminController],
  providers: [GroupsService, GroupsGateway],
  exports: [GroupsService],
})
export class GroupsModule {}
