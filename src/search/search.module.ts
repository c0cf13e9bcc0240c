import { Module } from '@nestjs/common';
import { UsersModule } from '../users/users.module';
import { SearchAdminController } from './search.admin.controller';
import { SearchGateway } from './search.gateway';
import { SearchService } from './search.service';

/** Message search (PROTOCOL §12, docs/search.md). The index is written by messaging's SendStore. */
@Module({
  imports: [UsersModule],
  controllers: [SearchAdminController],
  providers: [SearchService, SearchGateway],
})
export class SearchModule {}
